/**
 * The wall clock every time-dependent command reads (capture times, retention). Tests
 * set `TIDEMARK_NOW` (an ISO-8601 time or milliseconds since the epoch) to run a command
 * as if it were another moment: retention can then be tested on journals "days old"
 * without waiting. Not meant for production use; an invalid value is an error, never
 * silently ignored.
 */
import { TidemarkError } from './errors.js';

/** Parse a `TIDEMARK_NOW` value: ISO-8601 (`2026-11-20T13:00:00Z`) or integer ms. */
export function parseNow(value: string): number {
  const v = value.trim();
  const ms = /^-?\d+$/.test(v) ? Number(v) : /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : Number.NaN;
  if (!Number.isSafeInteger(ms)) {
    throw new TidemarkError('TM_USAGE', `TIDEMARK_NOW="${value}" is neither an ISO-8601 time nor milliseconds since the epoch`, {
      hint: 'unset TIDEMARK_NOW to use the real clock',
    });
  }
  return ms;
}

/** The current time in ms since the epoch: `TIDEMARK_NOW` when set, else the real clock. */
export function nowMs(env: NodeJS.ProcessEnv = process.env): number {
  const fixed = env.TIDEMARK_NOW;
  return fixed === undefined || fixed === '' ? Date.now() : parseNow(fixed);
}
