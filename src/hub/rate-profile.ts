/**
 * I/O profiling: the hub records, per source group, how many bytes were captured in each
 * minute, appended to STATE/profile/GROUP.jsonl as `{"minute": <ms>, "bytes": N}` lines
 * once a minute is over (and on shutdown). `tidemark analyze` reads these files.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

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

  /** Write the minutes still open (on shutdown). */
  flush(): void {
    for (const [g, m] of this.open) this.write(g, m);
    this.open.clear();
  }
}
