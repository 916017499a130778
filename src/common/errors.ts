/**
 * The one error class of Tidemark: a stable code, a message that says what failed and
 * what to do, and whether retrying can help. Only the CLI and HTTP edges turn these into
 * output; everything below wraps causes with `{ cause }`. Codes are listed in docs/errors.md.
 */

/** Every error code, with the process exit code the CLI uses for it. */
export const ERROR_CODES = {
  TM_USAGE: 2,
  TM_NOT_A_VAULT: 3,
  TM_VAULT_EXISTS: 3,
  TM_BAD_PASSPHRASE: 4,
  TM_NO_PASSPHRASE: 4,
  TM_LOCKED: 5,
  TM_CORRUPT: 6,
  TM_NOT_FOUND: 7,
  TM_BAD_POINT: 2,
  TM_UNSAFE_PATH: 8,
  TM_DISK_FULL: 9,
  TM_IO: 10,
  TM_LIMIT: 14,
  TM_FORMAT: 6,
  TM_AUTH: 11,
  TM_PROTOCOL: 12,
  TM_UNREACHABLE: 13,
  TM_INTERNAL: 70,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface TidemarkErrorOptions {
  /** What the user can do about it; printed on its own line. */
  hint?: string;
  /** True when the same call may succeed later (lock held, transient I/O). */
  retryable?: boolean;
  cause?: unknown;
  /** Machine-readable details (pack name, path, seq…) for `--json` output. */
  details?: Record<string, unknown>;
}

export class TidemarkError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly retryable: boolean;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: TidemarkErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TidemarkError';
    this.code = code;
    this.hint = options.hint;
    this.retryable = options.retryable ?? false;
    this.details = options.details ?? {};
  }

  /** Process exit code for this error. */
  get exitCode(): number {
    return ERROR_CODES[this.code];
  }
}

/** Narrow an unknown thrown value to a Node system error carrying `code`. */
export function isErrno(err: unknown, code?: string): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string' &&
    (code === undefined || (err as NodeJS.ErrnoException).code === code);
}

/**
 * Translate low-level I/O failures into TidemarkErrors that say what was being done.
 * ENOSPC/EDQUOT become TM_DISK_FULL so that a full disk is reported, never papered over.
 */
export function wrapIo(err: unknown, doing: string): TidemarkError {
  if (err instanceof TidemarkError) return err;
  if (isErrno(err, 'ENOSPC') || isErrno(err, 'EDQUOT')) {
    return new TidemarkError('TM_DISK_FULL', `${doing}: the disk is full`, {
      hint: 'free space on the vault\'s filesystem, then run the command again; nothing acknowledged was lost',
      cause: err,
    });
  }
  const msg = err instanceof Error ? err.message : String(err);
  return new TidemarkError('TM_IO', `${doing}: ${msg}`, { cause: err, retryable: true });
}
