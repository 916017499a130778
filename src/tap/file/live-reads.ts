/**
 * What the live file tap remembers about file reads from one capture to the next: how long
 * each file has kept changing while it was read (to decide when to record it as torn), and
 * the unfinished slice reads of large files (each capture reads them for a bounded time).
 */
import { ContentStore, type PartialRead } from './content-store.js';

export interface LiveReadOptions {
  /** a file still changing after being read unstably for this long is recorded as torn */
  tornAfterMs?: number;
  /** files at least this large are read a slice at a time */
  sliceMinBytes?: number;
  /** wall time one capture spends on slices of large files (at least one read window each) */
  sliceMs?: number;
}

/** Live read state of one protect run; `close` releases the descriptors of unfinished reads. */
export class LiveReads {
  readonly tornAfterMs: number;
  readonly sliceMinBytes: number;
  readonly sliceMs: number;
  /** absolute path → wall time (ms) when its first unstable read of the current streak began */
  private readonly unstableSince = new Map<string, number>();
  /** absolute path → unfinished slice read */
  readonly partial = new Map<string, PartialRead>();
  /** absolute path → wall time (ms) before which a file just recorded as torn is not read again */
  private readonly restUntil = new Map<string, number>();
  /** absolute path → wall time (ms) its last slice read finished (orders large files fairly) */
  private readonly lastDone = new Map<string, number>();

  constructor(o: LiveReadOptions = {}) {
    this.tornAfterMs = o.tornAfterMs ?? 300;
    this.sliceMinBytes = o.sliceMinBytes ?? 32 * 1024 * 1024;
    this.sliceMs = o.sliceMs ?? 70;
  }

  /**
   * Note that a read of `abs` which began at `startedMs` saw the file change. Returns true
   * when the file has now been changing for `tornAfterMs` or more: record this read as torn.
   */
  unstable(abs: string, startedMs: number): boolean {
    const since = this.unstableSince.get(abs) ?? startedMs;
    this.unstableSince.set(abs, since);
    if (Date.now() - since < this.tornAfterMs) return false;
    // Recorded as torn: the next read waits `tornAfterMs`, so a file that never stops
    // changing costs one read and one torn capture per interval, not one per capture.
    this.restUntil.set(abs, Date.now() + this.tornAfterMs);
    return true;
  }

  /** True while `abs`, just recorded as torn, is not to be read again yet. */
  resting(abs: string): boolean {
    const until = this.restUntil.get(abs);
    if (until === undefined) return false;
    if (Date.now() < until) return true;
    this.restUntil.delete(abs);
    return false;
  }

  /** A read of `abs` was stable (or the file is gone): its streak ends. */
  stable(abs: string): void {
    this.unstableSince.delete(abs);
    this.restUntil.delete(abs);
  }

  /** True while `abs` has a torn streak going (recorded torn, no clean read since). */
  changing(abs: string): boolean {
    return this.unstableSince.has(abs);
  }

  /** Large files in the order to read them: unfinished reads first, then the least recently read. */
  order<T extends { abs: string }>(files: T[]): T[] {
    const rank = (f: T): number => (this.partial.has(f.abs) ? -1 : this.lastDone.get(f.abs) ?? 0);
    return [...files].sort((a, b) => rank(a) - rank(b));
  }

  /** A slice read of `abs` finished (or failed): forget it. */
  finished(abs: string): void {
    this.partial.delete(abs);
    this.lastDone.set(abs, Date.now());
  }

  /** Drop an unfinished read (the file went away or is no longer large). */
  drop(abs: string): void {
    const r = this.partial.get(abs);
    if (r) ContentStore.abandon(r);
    this.partial.delete(abs);
  }

  close(): void {
    for (const r of this.partial.values()) ContentStore.abandon(r);
    this.partial.clear();
  }
}
