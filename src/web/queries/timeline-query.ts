/**
 * A group's timeline as a density histogram: how many recovery points fall in each of N
 * equal time buckets, counted by SQLite over the `points_time` index (group_id, time,
 * seq), so the browser gets at most a few thousand numbers whatever the journal's length.
 */
import type { Vault } from '../../vault/vault.js';

export interface TimelineBucket {
  /** bucket start, ms since the epoch (the bucket is [start, start + bucketMs)) */
  start: number;
  count: number;
  firstSeq: number;
  lastSeq: number;
  /** capture time of the bucket's last point */
  lastTime: number;
  /** torn captures (files read while being written) among the bucket's points */
  torn: number;
}

export interface Timeline {
  from: number;
  to: number;
  bucketMs: number;
  /** points in [from, to) */
  points: number;
  /** only buckets holding points, in time order */
  buckets: TimelineBucket[];
  first: { seq: number; time: number } | null;
  last: { seq: number; time: number } | null;
  bookmarks: { name: string; seq: number; time: number; consistency: string; tags: string[] }[];
}

/**
 * Bucket the points of `groupId` captured in [from, to) (default: the whole journal)
 * into `buckets` equal spans.
 */
export function timelineOf(vault: Vault, groupId: number, range: { from?: number; to?: number; buckets: number }): Timeline {
  const first = vault.index.firstPoint(groupId) ?? null;
  const last = vault.index.lastPoint(groupId) ?? null;
  const from = range.from ?? first?.time ?? 0;
  const to = Math.max(from + 1, range.to ?? (last ? last.time + 1 : from + 1));
  const bucketMs = Math.max(1, Math.ceil((to - from) / range.buckets));
  // One range count per bucket over the covering index, plus a seek at each end for the
  // bucket's first and last point (seq grows with time): about ten times faster than one
  // GROUP BY over the whole range, which sorts every row.
  const db = vault.index.db;
  const count = db.prepare('SELECT count(*) AS n FROM points WHERE group_id = ? AND time >= ? AND time < ?');
  const firstIn = db.prepare('SELECT seq FROM points WHERE group_id = ? AND time >= ? AND time < ? ORDER BY time, seq LIMIT 1');
  const lastIn = db.prepare('SELECT seq, time FROM points WHERE group_id = ? AND time >= ? AND time < ? ORDER BY time DESC, seq DESC LIMIT 1');
  const tornIn = db.prepare('SELECT count(*) AS n FROM versions WHERE group_id = ? AND torn = 1 AND seq >= ? AND seq <= ?');
  let points = 0;
  const buckets: TimelineBucket[] = [];
  for (let start = from; start < to; start += bucketMs) {
    const end = Math.min(to, start + bucketMs);
    const n = (count.get(groupId, start, end) as { n: number }).n;
    if (n === 0) continue;
    const first = firstIn.get(groupId, start, end) as { seq: number };
    const last = lastIn.get(groupId, start, end) as { seq: number; time: number };
    points += n;
    const torn = (tornIn.get(groupId, first.seq, last.seq) as { n: number }).n;
    buckets.push({ start, count: n, firstSeq: first.seq, lastSeq: last.seq, lastTime: last.time, torn });
  }
  const bookmarks = vault.index.bookmarks(groupId).filter((b) => b.time >= from && b.time < to);
  return { from, to, bucketMs, points, buckets, first, last, bookmarks };
}
