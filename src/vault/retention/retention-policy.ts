/**
 * A group's retention policy: how long every point is kept (`keepWithin`), and how many
 * hourly and daily points are kept beyond that window. Bookmarked points and the latest
 * point are always kept. Stored durably per group as a sealed file `policies/GROUP.policy`
 * (AES-256-GCM, associated data "tidemark-retention-policy-v1"); a group without a file
 * has the defaults. Durations are written like `30m`, `12h`, `7d`, `2w`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { TidemarkError, isErrno, wrapIo } from '../../common/errors.js';
import { writeFileDurable } from '../../common/durable-file.js';
import type { Sealer } from '../crypto/sealer.js';

export interface RetentionPolicy {
  /** every point captured within this many ms before now is kept */
  keepWithinMs: number;
  /** beyond the window: the last point of each of the N most recent hours (UTC) that have points */
  keepHourly: number;
  /** beyond the window: the last point of each of the N most recent days (UTC) that have points */
  keepDaily: number;
  /** bookmarked points are kept (always true) */
  keepBookmarks: true;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
const UNITS: Record<string, number> = { m: MINUTE, h: HOUR, d: DAY, w: WEEK };
/** Longest window accepted: 100 years. */
const MAX_WITHIN = 100 * 366 * DAY;
/** Most hourly or daily points a policy may ask for. */
export const MAX_KEEP_COUNT = 1_000_000;

export const DEFAULT_POLICY: RetentionPolicy = { keepWithinMs: 7 * DAY, keepHourly: 48, keepDaily: 30, keepBookmarks: true };

const AAD = Buffer.from('tidemark-retention-policy-v1');

/** Parse a duration (`30m`, `12h`, `7d`, `2w`, or `0`) to ms; TM_USAGE naming `what` when invalid. */
export function parseDuration(text: string, what = 'duration'): number {
  const m = /^(\d{1,9})([mhdw])?$/.exec(text.trim());
  if (m && Number(m[1]) === 0) return 0;
  const ms = m && m[2] ? Number(m[1]) * UNITS[m[2]]! : Number.NaN;
  if (!Number.isFinite(ms) || ms > MAX_WITHIN) {
    throw new TidemarkError('TM_USAGE', `${what} "${text}" is not a valid duration`, {
      hint: 'write a whole number followed by m (minutes), h (hours), d (days) or w (weeks), e.g. 30m, 12h, 7d, 2w; at most 100 years',
    });
  }
  return ms;
}

/** Format ms as the largest whole unit among d, h, m (e.g. 7d, 36h, 90m); `0` for zero. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  if (ms % DAY === 0) return `${ms / DAY}d`;
  if (ms % HOUR === 0) return `${ms / HOUR}h`;
  if (ms % MINUTE === 0) return `${ms / MINUTE}m`;
  return `${ms}ms`;
}

/** Parse a count of hourly or daily points; TM_USAGE naming `what` when invalid. */
export function parseKeepCount(text: string, what: string): number {
  const t = text.trim();
  const n = /^\d{1,7}$/.test(t) ? Number(t) : Number.NaN;
  if (!Number.isInteger(n) || n > MAX_KEEP_COUNT) {
    throw new TidemarkError('TM_USAGE', `${what} "${text}" is not a valid count`, { hint: `use a whole number from 0 to ${MAX_KEEP_COUNT}` });
  }
  return n;
}

const PolicyFileSchema = z.object({
  version: z.literal(1),
  group: z.string(),
  keepWithinMs: z.number().int().min(0).max(MAX_WITHIN),
  keepHourly: z.number().int().min(0).max(MAX_KEEP_COUNT),
  keepDaily: z.number().int().min(0).max(MAX_KEEP_COUNT),
  keepBookmarks: z.literal(true),
  updated: z.string(),
});

/** What reading and writing policies needs of a vault. */
export interface PolicyStore {
  readonly dir: string;
  readonly sealer: Sealer;
}

function policyPath(store: PolicyStore, group: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(group)) throw new TidemarkError('TM_USAGE', `"${group}" is not a valid group name`);
  return join(store.dir, 'policies', `${group}.policy`);
}

/** The group's stored policy, or the defaults (`stored: false`) when it has none. */
export function readPolicy(store: PolicyStore, group: string): { policy: RetentionPolicy; stored: boolean; updated?: string } {
  const path = policyPath(store, group);
  let sealed: Buffer;
  try {
    sealed = readFileSync(path);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return { policy: { ...DEFAULT_POLICY }, stored: false };
    throw wrapIo(err, `Cannot read the retention policy ${path}`);
  }
  const plain = store.sealer.decrypt(AAD, sealed, `retention policy file ${path}`);
  let parsed;
  try {
    parsed = PolicyFileSchema.parse(JSON.parse(plain.toString('utf8')));
  } catch (err) {
    throw new TidemarkError('TM_CORRUPT', `The retention policy file ${path} is malformed`, { cause: err, hint: `set the policy again with \`tidemark retention ${group} ...\`` });
  }
  if (parsed.group !== group) {
    throw new TidemarkError('TM_CORRUPT', `The retention policy file ${path} belongs to group "${parsed.group}"`, { hint: `set the policy again with \`tidemark retention ${group} ...\`` });
  }
  return { policy: { keepWithinMs: parsed.keepWithinMs, keepHourly: parsed.keepHourly, keepDaily: parsed.keepDaily, keepBookmarks: true }, stored: true, updated: parsed.updated };
}

/** Durably store the group's policy (a sealed file of its own: no writer lock needed). */
export function writePolicy(store: PolicyStore, group: string, policy: RetentionPolicy, now = new Date()): void {
  const body = { version: 1, group, keepWithinMs: policy.keepWithinMs, keepHourly: policy.keepHourly, keepDaily: policy.keepDaily, keepBookmarks: true, updated: now.toISOString() };
  PolicyFileSchema.parse(body);
  writeFileDurable(policyPath(store, group), store.sealer.encrypt(AAD, Buffer.from(JSON.stringify(body))), 0o600);
}

/** A one-line description: "every point for 7d, then 48 hourly and 30 daily points, and bookmarks". */
export function describePolicy(p: RetentionPolicy): string {
  return `every point for ${formatDuration(p.keepWithinMs)}, then ${p.keepHourly} hourly and ${p.keepDaily} daily points; bookmarks and the latest point always`;
}
