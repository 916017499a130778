/**
 * A group's timeline as a density histogram: how many recovery points fall in each of N
 * equal time buckets, aggregated by SQLite over the `points_time` index (group_id, time,
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
  const rows = vault.index.db.prepare(
    `SELECT CAST((time - ?) / ? AS INTEGER) AS b, count(*) AS count, min(seq) AS firstSeq, max(seq) AS lastSeq, max(time) AS lastTime
       FROM points WHERE group_id = ? AND time >= ? AND time < ? GROUP BY b ORDER BY b`,
  ).all(from, bucketMs, groupId, from, to) as { b: number; count: number; firstSeq: number; lastSeq: number; lastTime: number }[];
  let points = 0;
  const buckets = rows.map((r) => {
    points += r.count;
    return { start: from + r.b * bucketMs, count: r.count, firstSeq: r.firstSeq, lastSeq: r.lastSeq, lastTime: r.lastTime };
  });
  const bookmarks = vault.index.bookmarks(groupId).filter((b) => b.time >= from && b.time < to);
  return { from, to, bucketMs, points, buckets, first, last, bookmarks };
}
