/**
 * Bandwidth shaping by time of day. A schedule is written
 *
 *   RATE[@HH:MM-HH:MM][;RATE@HH:MM-HH:MM…][;RATE]
 *
 * e.g. `10MB@08:00-18:00;unlimited` (10 MB/s in office hours, unlimited otherwise).
 * RATE is bytes per second with an optional k/M/G suffix (decimal: 1MB = 10^6 B, KiB/MiB
 * binary) or `unlimited`. The first window containing the local time wins; the entry
 * without a window applies otherwise (unlimited when there is none). A window may wrap
 * midnight (22:00-06:00).
 */
import { TidemarkError } from '../common/errors.js';

export interface RateWindow { rate: number; from: number | null; to: number | null }

/** Parse a byte rate (per second); Infinity for `unlimited`. */
export function parseRate(text: string): number {
  const t = text.trim();
  if (/^(unlimited|none|0)$/i.test(t)) return Infinity;
  const m = /^(\d+(?:\.\d+)?)\s*(k|kb|kib|m|mb|mib|g|gb|gib|b)?(?:\/s)?$/i.exec(t);
  if (!m) throw new TidemarkError('TM_USAGE', `"${text}" is not a rate`, { hint: 'write e.g. 2MB, 500k, 1GiB or unlimited (per second)' });
  const unit = (m[2] ?? 'b').toLowerCase();
  const mult: Record<string, number> = { b: 1, k: 1e3, kb: 1e3, kib: 1024, m: 1e6, mb: 1e6, mib: 1 << 20, g: 1e9, gb: 1e9, gib: 1 << 30 };
  return Number(m[1]) * mult[unit]!;
}

function minutes(hhmm: string, whole: string): number {
  const m = /^(\d{1,2}):(\d{2})$/.exec(hhmm);
  if (!m || Number(m[1]) > 24 || Number(m[2]) > 59) throw new TidemarkError('TM_USAGE', `"${whole}": "${hhmm}" is not a time of day (HH:MM)`);
  return Number(m[1]) * 60 + Number(m[2]);
}

export function parseSchedule(text: string): RateWindow[] {
  return text.split(';').filter((s) => s.trim() !== '').map((part) => {
    const [rate, window] = part.split('@');
    if (window === undefined) return { rate: parseRate(rate!), from: null, to: null };
    const [from, to] = window.split('-');
    if (to === undefined) throw new TidemarkError('TM_USAGE', `"${part}": a window is written HH:MM-HH:MM`);
    return { rate: parseRate(rate!), from: minutes(from!, part), to: minutes(to, part) };
  });
}

/** The rate in force at local time `now`. */
export function rateAt(schedule: readonly RateWindow[], now: Date): number {
  const m = now.getHours() * 60 + now.getMinutes();
  for (const w of schedule) {
    if (w.from === null || w.to === null) continue;
    const inside = w.from <= w.to ? m >= w.from && m < w.to : m >= w.from || m < w.to;
    if (inside) return w.rate;
  }
  return schedule.find((w) => w.from === null)?.rate ?? Infinity;
}
