/** Input schemas shared by the API's routes (every input crossing the wire is parsed by one). */
import { z } from 'zod';
import { ROLES, USER_NAME_RE } from '../auth/user-store.js';

export const groupName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be a group name (letters, digits, ".", "_", "-")');

export const groupParams = z.object({ group: groupName }).strict();

/** A recovery point: latest, seq:N, bookmark:NAME or an ISO-8601 time. */
export const pointSpec = z.string().max(200)
  .regex(/^(latest|now|seq:\d{1,15}|bookmark:[A-Za-z0-9][A-Za-z0-9._:-]{0,127}|\d{4}-\d{2}-\d{2}[0-9T:.+\-Z]*)$/, 'must be latest, seq:N, bookmark:NAME or an ISO-8601 time')
  .describe('a recovery point: latest, seq:N, bookmark:NAME or an ISO-8601 time');

/** A path inside a group ("" or "/" for the root). */
export const groupPath = z.string().max(4096).refine((s) => !s.includes('\u0000'), 'must not contain NUL')
  .refine((s) => !s.split('/').includes('..'), 'must not contain ".."').describe('a path inside the group, "/"-separated');

/** Milliseconds since the epoch or an ISO-8601 time, as a query string. */
export const instant = z.string().max(40).regex(/^(\d{1,15}|\d{4}-\d{2}-\d{2}[0-9T:.+\-Z]*)$/, 'must be an ISO-8601 time or ms since the epoch')
  .transform((s, ctx) => {
    const t = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
    if (!Number.isFinite(t)) { ctx.addIssue({ code: 'custom', message: 'is not a valid time' }); return z.NEVER; }
    return t;
  });

/** A whole number in [min, max], as a query string. */
export function intParam(min: number, max: number): z.ZodType<number, string> {
  return z.string().regex(/^\d{1,9}$/, 'must be a whole number').transform(Number)
    .refine((n) => n >= min && n <= max, `must be between ${min} and ${max}`) as unknown as z.ZodType<number, string>;
}

export const userName = z.string().regex(USER_NAME_RE, 'must be a user name (letters, digits, ".", "_", "@", "-")');
export const role = z.enum(ROLES);
export const password = z.string().min(10, 'must have at least 10 characters').max(1024);
