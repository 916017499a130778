/**
 * I/O profiling: the hub records, per source group, how many bytes were captured in each
 * minute, appended to STATE/profile/GROUP.jsonl as `{"minute": <ms>, "bytes": N}` lines
 * once a minute is over (and on shutdown). `tidemark analyze` reads these files.
 */
import { appendFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MinuteBytes } from './io-analysis.js';

const MINUTE = 60_000;

export class RateProfile {
  private readonly open = new Map<string, { minute: number; bytes: number }>();

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /** Count `bytes` captured by `group` at time `now` (ms). */
  record(group: string, bytes: number, now: number): void {
    const minute = Math.floor(now / MINUTE) * MINUTE;
    const cur = this.open.get(group);
    if (cur && cur.minute !== minute) this.write(group, cur);
    if (!cur || cur.minute !== minute) this.open.set(group, { minute, bytes });
    else cur.bytes += bytes;
  }

  private write(group: string, m: { minute: number; bytes: number }): void {
    // Advisory data: appended without fsync; a crash loses at most the last minute's line.
    appendFileSync(join(this.dir, `${group}.jsonl`), JSON.stringify(m) + '\n');
  }

  /** Every group with a profile (written or still open), sorted. */
  groups(): string[] {
    return [...new Set([...profiledGroups(this.dir), ...this.open.keys()])].sort();
  }

  /** A group's minutes so far: those written, and the one still open. */
  rows(group: string): MinuteBytes[] {
    const open = this.open.get(group);
    return [...readProfileFile(join(this.dir, `${group}.jsonl`)), ...(open ? [{ ...open }] : [])];
  }

  /** Write the minutes still open (on shutdown). */
  flush(): void {
    for (const [g, m] of this.open) this.write(g, m);
    this.open.clear();
  }
}

/** The groups with a profile file in `dir` (STATE/profile). */
export function profiledGroups(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.jsonl')).map((f) => f.slice(0, -'.jsonl'.length)).sort();
  } catch {
    return [];
  }
}

/** One group's profile file; a missing file is an empty profile, a line cut by a crash is skipped. */
export function readProfileFile(file: string): MinuteBytes[] {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch { return []; }
  const rows: MinuteBytes[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as MinuteBytes;
      if (Number.isFinite(r.minute) && Number.isFinite(r.bytes)) rows.push({ minute: r.minute, bytes: r.bytes });
    } catch { /* a line cut by a crash: the profile is advisory */ }
  }
  return rows;
}
