/**
 * Errors at the HTTP edge: the console's own codes (authentication, roles, CSRF, rate
 * limits, malformed requests) and the HTTP status of every TidemarkError code. Every error
 * leaves the server as `{"error":{"code","message","hint"?}}`.
 */
import { TidemarkError, type ErrorCode } from '../common/errors.js';

/** Codes only the HTTP API uses, with their status (listed in docs/console.md). */
export const API_ERROR_STATUS = {
  TM_BAD_REQUEST: 400,
  TM_AUTH_REQUIRED: 401,
  TM_BAD_LOGIN: 401,
  TM_FORBIDDEN: 403,
  TM_CSRF: 403,
  TM_NO_ROUTE: 404,
  TM_METHOD: 405,
  TM_CONFLICT: 409,
  TM_PRODUCTION_TARGET: 409,
  TM_TOO_LARGE: 413,
  TM_MEDIA_TYPE: 415,
  TM_RATE_LIMITED: 429,
} as const;

export type ApiErrorCode = keyof typeof API_ERROR_STATUS;

/** HTTP status of each vault error code. */
const TIDEMARK_STATUS: Record<ErrorCode, number> = {
  TM_USAGE: 400,
  TM_BAD_POINT: 400,
  TM_NOT_A_VAULT: 500,
  TM_VAULT_EXISTS: 409,
  TM_BAD_PASSPHRASE: 500,
  TM_NO_PASSPHRASE: 500,
  TM_LOCKED: 503,
  TM_CORRUPT: 500,
  TM_NOT_FOUND: 404,
  TM_UNSAFE_PATH: 400,
  TM_DISK_FULL: 507,
  TM_IO: 500,
  TM_LIMIT: 503,
  TM_AUTH: 403,
  TM_PROTOCOL: 502,
  TM_UNREACHABLE: 502,
  TM_FORMAT: 500,
  TM_INTERNAL: 500,
};

/** An error the API reports with a status of its own. */
export class ApiError extends Error {
  constructor(readonly code: ApiErrorCode, message: string, readonly hint?: string, readonly headers: Record<string, string> = {}) {
    super(message);
    this.name = 'ApiError';
  }

  get status(): number {
    return API_ERROR_STATUS[this.code];
  }
}

/** The wire form of an error. */
export interface ErrorBody {
  error: { code: string; message: string; hint?: string };
}

/** Status, body and extra headers for any thrown value. */
export function toHttpError(err: unknown): { status: number; body: ErrorBody; headers: Record<string, string> } {
  if (err instanceof ApiError) {
    return { status: err.status, body: { error: { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) } }, headers: err.headers };
  }
  if (err instanceof TidemarkError) {
    return { status: TIDEMARK_STATUS[err.code], body: { error: { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) } }, headers: {} };
  }
  // A bug: say so without leaking internals; the caller logs the stack.
  return { status: 500, body: { error: { code: 'TM_INTERNAL', message: 'internal error (see the server log)' } }, headers: {} };
}
