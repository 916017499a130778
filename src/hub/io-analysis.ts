/**
 * `tidemark analyze`: what the hub's I/O profile (rate-profile.ts) says about a group —
 * write-rate percentiles by hour of day, and the bandwidth that holds a given RPO.
 * Pure functions over per-minute byte counts; idle minutes inside the recorded span count
 * as zero.
 */

/** Per-minute captured bytes: `minute` is ms since the epoch at the minute's start. */
export interface MinuteBytes { minute: number; bytes: number }

const MINUTE = 60_000;

/** The minutes from the first to the last recorded one, idle ones filled with 0 (duplicates summed). */
export function denseMinutes(rows: readonly MinuteBytes[]): MinuteBytes[] {
  if (rows.length === 0) return [];
  const by = new Map<number, number>();
  for (const r of rows) by.set(r.minute, (by.get(r.minute) ?? 0) + r.bytes);
  const keys = [...by.keys()].sort((a, b) => a - b);
  const out: MinuteBytes[] = [];
  for (let m = keys[0]!; m <= keys[keys.length - 1]!; m += MINUTE) out.push({ minute: m, bytes: by.get(m) ?? 0 });
  return out;
}

/** The p-th percentile (0..100, nearest rank) of `values`. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export interface HourRates { hour: number; minutes: number; p50: number; p95: number; p99: number; max: number }

/** Write-rate percentiles (bytes/s over each minute) per UTC hour of day that has data. */
export function ratesByHour(rows: readonly MinuteBytes[]): HourRates[] {
  const hours = new Map<number, number[]>();
  for (const r of denseMinutes(rows)) {
    const h = new Date(r.minute).getUTCHours();
    let l = hours.get(h);
    if (!l) { l = []; hours.set(h, l); }
    l.push(r.bytes / 60);
  }
  return [...hours.entries()].sort((a, b) => a[0] - b[0]).map(([hour, v]) => ({
    hour, minutes: v.length, p50: percentile(v, 50), p95: percentile(v, 95), p99: percentile(v, 99), max: Math.max(...v),
  }));
}

/**
 * The least constant bandwidth (bytes/s) at which the backlog never takes longer than
 * `rpoMs` to send: minute by minute the backlog grows by what was written and shrinks by
 * what the link sends; it must stay <= bandwidth × RPO. Found by bisection (the backlog is
 * monotone in the bandwidth); exact to 0.1 %.
 */
export function bandwidthForRpo(rows: readonly MinuteBytes[], rpoMs: number): number {
  const series = denseMinutes(rows).map((r) => r.bytes);
  if (series.length === 0) return 0;
  const holds = (bw: number): boolean => {
    let backlog = 0;
    for (const b of series) {
      backlog = Math.max(0, backlog + b - bw * 60);
      if (backlog > bw * (rpoMs / 1000)) return false;
    }
    return true;
  };
  let lo = 0;
  let hi = Math.max(...series) / Math.min(60, rpoMs / 1000 || 1) + 1;
  while (!holds(hi)) hi *= 2;
  while (hi - lo > hi * 0.001) {
    const mid = (lo + hi) / 2;
    if (holds(mid)) hi = mid; else lo = mid;
  }
  return hi;
}

/** What `tidemark analyze` and the hub console report for one group's profile. */
export interface ProfileSummary {
  /** recorded minutes (idle minutes inside the span not counted) */
  minutes: number;
  capturedBytes: number;
  rpoMs: number;
  /** the least constant bandwidth (bytes/s) that holds `rpoMs` over the recorded span */
  bandwidthForRpo: number;
  /** the recorded span's average write rate over a day: what each day of journal retention takes (before dedup and compression) */
  bytesPerDay: number;
  byHour: HourRates[];
}

/** Summarise a group's per-minute profile for an RPO. */
export function profileSummary(rows: readonly MinuteBytes[], rpoMs: number): ProfileSummary {
  const captured = rows.reduce((a, r) => a + r.bytes, 0);
  const span = denseMinutes(rows).length;
  return {
    minutes: rows.length, capturedBytes: captured, rpoMs, bandwidthForRpo: Math.ceil(bandwidthForRpo(rows, rpoMs)),
    bytesPerDay: span === 0 ? 0 : Math.round((captured / span) * 1440), byHour: ratesByHour(rows),
  };
}
