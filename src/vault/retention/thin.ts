/**
 * Thinning: which recovery points of a group a retention policy keeps. A pure function of
 * the points, the bookmarks, the policy and the clock, returning the reason for every
 * point it keeps, so `prune --dry-run` and the UI can show them.
 *
 * A point is kept when it is (reasons in this order):
 *  - `latest`: the group's newest point;
 *  - `within 7d`: captured no earlier than now - keepWithin (or after now);
 *  - `bookmark NAME`: named by a bookmark;
 *  - `hourly 2026-11-20T13`: beyond the window, the last point of one of the
 *    `keepHourly` most recent UTC hours that have points beyond the window;
 *  - `daily 2026-11-20`: the same per UTC day, for the `keepDaily` most recent days.
 * Every other point is dropped.
 */
import { formatDuration, type RetentionPolicy } from './retention-policy.js';

export interface ThinPoint {
  seq: number;
  /** capture time, ms since the epoch */
  time: number;
}

export interface ThinResult {
  /** kept seqs, ascending */
  keep: number[];
  /** dropped seqs, ascending */
  drop: number[];
  /** why each kept seq is kept (several reasons joined with ", ") */
  reasons: Map<number, string>;
}

/** Bookmarked seqs, optionally with their names (for the reasons). */
export type BookmarkSeqs = ReadonlySet<number> | ReadonlyMap<number, string>;

/** The window's start: points captured at or after it are kept. */
export function windowStart(policy: Pick<RetentionPolicy, 'keepWithinMs'>, now: number): number {
  return now - policy.keepWithinMs;
}

/** Keep the last point of each of the `n` most recent buckets (points sorted by time, then seq). */
function keepLastPerBucket(points: readonly ThinPoint[], n: number, bucket: (t: number) => string, label: string, add: (seq: number, reason: string) => void): void {
  const seen = new Set<string>();
  for (let i = points.length - 1; i >= 0 && seen.size < n; i--) {
    const b = bucket(points[i]!.time);
    if (seen.has(b)) continue;
    seen.add(b);
    add(points[i]!.seq, `${label} ${b}`);
  }
}

const hourOf = (t: number): string => new Date(t).toISOString().slice(0, 13);
const dayOf = (t: number): string => new Date(t).toISOString().slice(0, 10);

/**
 * Decide which points `policy` keeps at time `now` (ms). `points` may come in any order;
 * capture times are expected to be non-decreasing with seq, as the journal guarantees.
 */
export function thin(points: readonly ThinPoint[], bookmarks: BookmarkSeqs, policy: RetentionPolicy, now: number, held: ReadonlyMap<number, string> = new Map()): ThinResult {
  const sorted = [...points].sort((a, b) => a.seq - b.seq);
  const reasons = new Map<number, string[]>();
  const add = (seq: number, reason: string): void => {
    const list = reasons.get(seq);
    if (list) { if (!list.includes(reason)) list.push(reason); } else reasons.set(seq, [reason]);
  };
  const last = sorted[sorted.length - 1];
  if (last) add(last.seq, 'latest');
  const start = windowStart(policy, now);
  const within = `within ${formatDuration(policy.keepWithinMs)}`;
  const beyond: ThinPoint[] = [];
  for (const p of sorted) {
    if (p.time >= start) add(p.seq, within);
    else beyond.push(p);
  }
  for (const p of sorted) {
    if (!bookmarks.has(p.seq)) continue;
    const name = bookmarks instanceof Map ? (bookmarks as ReadonlyMap<number, string>).get(p.seq) : undefined;
    add(p.seq, name === undefined ? 'bookmark' : `bookmark ${name}`);
  }
  // Points a running reader holds (an image being served, a restore): never dropped under it.
  for (const p of sorted) {
    const what = held.get(p.seq);
    if (what !== undefined) add(p.seq, `in use by ${what}`);
  }
  beyond.sort((a, b) => a.time - b.time || a.seq - b.seq);
  keepLastPerBucket(beyond, policy.keepHourly, hourOf, 'hourly', add);
  keepLastPerBucket(beyond, policy.keepDaily, dayOf, 'daily', add);
  const keep: number[] = [];
  const drop: number[] = [];
  const out = new Map<number, string>();
  for (const p of sorted) {
    const r = reasons.get(p.seq);
    if (r) { keep.push(p.seq); out.set(p.seq, r.join(', ')); } else drop.push(p.seq);
  }
  return { keep, drop, reasons: out };
}
