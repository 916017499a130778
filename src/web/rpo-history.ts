/**
 * RPO lag over the last 24 h, per group, for the overview's chart. The console samples
 * every group's lag on a timer (null when nothing watches it) and appends each sample to
 * `STATE/rpo-history.jsonl`, so the chart survives a restart. Samples are advisory: not
 * fsynced; the file is rewritten with the last day's samples when it grows too large.
 */
import { appendFileSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurable } from '../common/durable-file.js';

export const HISTORY_MS = 24 * 3600_000;
const MAX_FILE_BYTES = 16 * 1024 * 1024;

export interface RpoSample { t: number; g: string; lag: number | null }

export class RpoHistory {
  readonly path: string;
  private samples: RpoSample[] = [];

  constructor(stateDir: string, private readonly now: () => number = Date.now) {
    this.path = join(stateDir, 'rpo-history.jsonl');
    let text = '';
    try { text = readFileSync(this.path, 'utf8'); } catch { /* no history yet */ }
    const since = this.now() - HISTORY_MS;
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        const s = JSON.parse(line) as RpoSample;
        if (typeof s.t === 'number' && typeof s.g === 'string' && s.t >= since) this.samples.push(s);
      } catch { /* a torn last line */ }
    }
  }

  /** Record one sample per group. */
  record(lags: { group: string; lagMs: number | null }[]): void {
    const t = this.now();
    const fresh = lags.map((l) => ({ t, g: l.group, lag: l.lagMs }));
    this.samples.push(...fresh);
    this.samples = this.samples.filter((s) => s.t >= t - HISTORY_MS);
    try {
      if (fresh.length > 0) appendFileSync(this.path, fresh.map((s) => JSON.stringify(s) + '\n').join(''), { mode: 0o600 });
      if (statSync(this.path).size > MAX_FILE_BYTES) writeFileDurable(this.path, Buffer.from(this.samples.map((s) => JSON.stringify(s) + '\n').join('')));
    } catch {
      // The chart is advisory: a full disk must not stop the console (the vault reports it).
    }
  }

  /** What GET …/rpo-history answers for a group: its target and its samples of the last 24 h. */
  json(group: string, rpoTargetMs: number): { group: string; rpoTargetMs: number; samples: { time: string; lagMs: number | null }[] } {
    return { group, rpoTargetMs, samples: this.series(group).map((s) => ({ time: new Date(s.t).toISOString(), lagMs: s.lag })) };
  }

  /** One group's samples of the last `spanMs`, oldest first. */
  series(group: string, spanMs = HISTORY_MS): { t: number; lag: number | null }[] {
    const since = this.now() - spanMs;
    return this.samples.filter((s) => s.g === group && s.t >= since).map((s) => ({ t: s.t, lag: s.lag }));
  }
}

/** Record `lags()` now and every `everyMs` (the timer does not keep the process alive); returns a stop function. */
export function sampleEvery(history: RpoHistory, everyMs: number, lags: () => { group: string; lagMs: number | null }[], log: (line: string) => void): () => void {
  const sample = (): void => {
    try {
      history.record(lags());
    } catch (err) {
      log(`console: sampling RPO lag failed: ${(err as Error).message}`);
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
