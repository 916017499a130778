/**
 * The volume tap: an NBD export over a backing store that journals every write in the
 * order it is acknowledged, so every point of the group's journal is a state the volume
 * was in (crash-consistent). Mutations run one at a time (a promise chain): the backing
 * write, the journal record and its seq happen together, so seq order is ack order.
 *
 * Two modes. While the baseline runs, every write is journaled directly (records applied
 * to the index in the vault's open transaction, committed at least every
 * `commitIntervalMs` and on FLUSH). Once the baseline is recorded, writes go to the
 * group's write log instead (src/vault/write-log): sealed and appended in seq order,
 * durable with one fdatasync. FLUSH syncs the log and the backing store (every write
 * acknowledged on any connection before it: the export is multi-conn safe); FUA and
 * `sync` mode wait for the log's sync before acknowledging; otherwise the log is synced
 * at least every `commitIntervalMs` (the RPO of an unflushed write on a crash). A fold
 * thread (fold-worker.ts, on a core of its own) turns logged writes into journal records
 * and commits them at least every `commitIntervalMs`, so readers of the vault see points
 * a moment after they are durable; a tap that dies leaves its log to the next writer of
 * the vault, which folds it before anything reads.
 */
import { TidemarkError } from '../../common/errors.js';
import { nowMs } from '../../common/clock.js';
import type { NbdExport } from '../../nbd/nbd-export.js';
import { VolumeIndex } from '../../vault/index/volume-index.js';
import { VOLUME_BLOCK, type VolumeRecord } from '../../vault/journal/journal-record.js';
import type { Vault } from '../../vault/vault.js';
import { BackingStore } from './backing-store.js';
import { isZero } from '../../common/zero-bytes.js';
import { alignedRange, pieces, storePieces, type Piece } from '../../vault/journal/volume-pieces.js';
import { WriteLog, type FrameRef } from '../../vault/write-log/write-log.js';
import { FoldThread } from './fold-thread.js';
import { FrameOp } from '../../vault/write-log/write-log-frame.js';

export interface VolumeTapOptions {
  vault: Vault;
  group: string;
  backing: string;
  /** create the backing file with this size when it does not exist */
  size?: number;
  /** acknowledge a write only once it is journaled durably */
  sync?: boolean;
  /** commit unflushed writes at least this often (default 200 ms) */
  commitIntervalMs?: number;
}

export interface VolumeTapStats {
  writes: number;
  bytesWritten: number;
  flushes: number;
  commits: number;
  lastSeq: number;
  durableSeq: number;
  /** capture time of the oldest record not yet durable, or null */
  oldestPendingTime: number | null;
  /** every write up to this seq is in the journal (folded and committed) */
  foldedSeq: number;
  /** bytes of logged writes not yet folded into the journal */
  unfoldedBytes: number;
}

type Draft = VolumeRecord extends infer R ? (R extends VolumeRecord ? Omit<R, 'seq' | 'time'> : never) : never;

const BASELINE_REGION = 4 * 1024 * 1024;
const MAX_PENDING_BYTES = 64 * 1024 * 1024;
const ZERO_RUN = Buffer.alloc(1024 * 1024);

export class VolumeTap implements NbdExport {
  readonly readOnly = false;
  readonly multiConn = true;
  readonly description: string;
  private chain: Promise<unknown> = Promise.resolve();
  private pending: VolumeRecord[] = [];
  private pendingBytes = 0;
  private inTxn = false;
  private seq: number;
  private durableSeq: number;
  /** every write with a seq up to this is synced in the backing store and durable in the journal */
  private syncedSeq: number;
  private waiters: { seq: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  private commitScheduled = false;
  private failure: Error | null = null;
  private readonly timer: NodeJS.Timeout;
  private readonly gid: number;
  private readonly volumes: VolumeIndex;
  private readonly clock: () => number;
  private closed = false;
  /** set once the baseline is recorded: writes go to the log from then on */
  private log: WriteLog | null = null;
  private fold: FoldThread | null = null;
  private foldedSeq: number;
  private undurableSince: number | null = null;
  /** aligned writes still landing in the backing store (thread pool) */
  private readonly inflight = new Set<{ start: number; end: number; done: Promise<void> }>();
  private chainPending = 0;
  readonly stats = { writes: 0, bytesWritten: 0, flushes: 0, commits: 0 };
  /** called once when journaling fails: the tap then refuses every request */
  onFailure: (err: Error) => void = () => {};

  private constructor(private readonly opts: VolumeTapOptions, private readonly backing: BackingStore) {
    const { vault, group } = opts;
    this.description = `tidemark volume tap of ${backing.path} (group ${group})`;
    this.volumes = new VolumeIndex(vault.index);
    const existing = vault.index.groupId(group);
    if (existing !== undefined && vault.index.lastSeq(existing) > 0 && !this.volumes.isVolume(existing)) {
      throw new TidemarkError('TM_USAGE', `Group "${group}" holds a directory tree, not a volume`, { hint: 'choose another --group for the volume' });
    }
    this.gid = vault.index.ensureGroup(group);
    this.seq = vault.index.lastSeq(this.gid);
    this.durableSeq = this.seq;
    this.syncedSeq = this.seq;
    this.foldedSeq = this.seq;
    this.clock = process.env.TIDEMARK_NOW ? () => nowMs() : Date.now;
    this.timer = setInterval(() => this.tick(), opts.commitIntervalMs ?? 200);
    this.timer.unref();
  }

  /** Open the backing store and the group (the baseline is a separate step: `baseline()`). */
  static open(opts: VolumeTapOptions): VolumeTap {
    const backing = BackingStore.open(opts.backing, opts.size);
    if (backing.size <= 0 || backing.size % VOLUME_BLOCK !== 0) {
      backing.close();
      throw new TidemarkError('TM_USAGE', `The backing store ${opts.backing} has ${backing.size} bytes, not a positive multiple of ${VOLUME_BLOCK}`, {
        hint: `resize it to a multiple of ${VOLUME_BLOCK} bytes (e.g. truncate -s 1G FILE)`,
      });
    }
    try {
      return new VolumeTap(opts, backing);
    } catch (err) {
      backing.close();
      throw err;
    }
  }

  get name(): string { return this.opts.group; }
  get size(): number { return this.backing.size; }
  get groupId(): number { return this.gid; }

  status(): VolumeTapStats {
    const oldestPendingTime = this.log ? this.undurableSince : this.pending[0]?.time ?? null;
    return { ...this.stats, lastSeq: this.seq, durableSeq: this.durableSeq, oldestPendingTime, foldedSeq: this.foldedSeq, unfoldedBytes: this.fold?.unfoldedBytes ?? 0 };
  }

  /** Periodic work: make the log durable (the RPO of unflushed writes), commit what is folded. */
  private tick(): void {
    if (this.failure || this.closed) return;
    if (!this.log) {
      if (this.pending.length > 0) this.serial(() => this.commitNow()).catch(() => {});
      return;
    }
    if (this.seq > this.durableSeq) this.logDurable(false).catch(() => {});
  }

  // ---- NBD export -------------------------------------------------------------------------

  read(offset: number, into: Buffer): Promise<void> {
    this.check();
    this.backing.read(offset, into);
    return Promise.resolve();
  }

  async write(offset: number, data: Buffer, fua: boolean): Promise<void> {
    if (this.log) {
      this.check();
      await this.fold!.room();
      const { start, end } = alignedRange(offset, data.length);
      // Bounded by the client: each turn waits for a request it sent earlier.
      for (let w = this.mustWait(start, end); w; w = this.mustWait(start, end)) await w;
      this.check();
      let seq: number;
      if (start === offset && end === offset + data.length) {
        // The frame holds the bytes, so the backing copy can happen on the thread pool
        // while this thread serves other requests; seq order is still landing order,
        // because overlapping writes wait for one another (mustWait).
        seq = this.logFrame(FrameOp.write, offset, data.length, data, false);
        this.stats.writes++;
        this.stats.bytesWritten += data.length;
        const entry = { start, end, done: this.backing.writeAsync(offset, data) };
        this.inflight.add(entry);
        try {
          await entry.done;
        } catch (err) {
          this.fail(err as Error);
          throw err;
        } finally {
          this.inflight.delete(entry);
        }
      } else {
        seq = this.writeNow(offset, data);
      }
      if (fua || this.opts.sync) await this.logDurable(fua, seq);
      return;
    }
    const seq = await this.serial(() => {
      this.check();
      return this.writeNow(offset, data);
    });
    await this.settle(seq, fua);
  }

  private writeNow(offset: number, data: Buffer): number {
    this.backing.write(offset, data);
    this.stats.writes++;
    this.stats.bytesWritten += data.length;
    return this.journalRange(offset, data.length, data);
  }

  async writeZeroes(offset: number, length: number, fua: boolean): Promise<void> {
    const zero = (): number => {
      for (let at = offset; at < offset + length; at += ZERO_RUN.length) {
        this.backing.write(at, ZERO_RUN.subarray(0, Math.min(ZERO_RUN.length, offset + length - at)));
      }
      const inner = { start: Math.ceil(offset / VOLUME_BLOCK) * VOLUME_BLOCK, end: Math.floor((offset + length) / VOLUME_BLOCK) * VOLUME_BLOCK };
      if (inner.start >= inner.end) return this.journalRange(offset, length, null);
      let last = this.log
        ? this.logFrame(FrameOp.zero, inner.start, inner.end - inner.start, null, false)
        : this.append({ op: 'vzero', offset: inner.start, length: inner.end - inner.start });
      if (offset < inner.start) last = this.journalRange(offset, inner.start - offset, null);
      if (offset + length > inner.end) last = this.journalRange(inner.end, offset + length - inner.end, null);
      return last;
    };
    let seq: number;
    if (this.log) {
      this.check();
      const r = alignedRange(offset, length);
      for (let w = this.mustWait(r.start, r.end); w; w = this.mustWait(r.start, r.end)) await w;
      this.check();
      seq = zero();
    } else {
      seq = await this.serial(() => {
        this.check();
        return zero();
      });
    }
    await this.settle(seq, fua);
  }

  /**
   * What a write to the blocks [start, end) must wait for before it touches the backing
   * store: a write overlapping them still landing, or requests from before the log
   * started still in the chain; null when it may go ahead. Callers re-check after every
   * wait and act in the same turn as the check that returned null (an `await` in
   * between would let another write slip in), so a backing write lands after every
   * overlapping write with a lower seq.
   */
  private mustWait(start: number, end: number): Promise<unknown> | null {
    if (this.chainPending > 0) return this.chain;
    for (const w of this.inflight) if (w.start < end && start < w.end) return w.done.catch(() => undefined);
    return null;
  }

  /** TRIM is advisory in NBD: the backing keeps its bytes and the journal stays equal to it. */
  async trim(_offset: number, _length: number, fua: boolean): Promise<void> {
    this.check();
    if (fua) await this.flush();
  }

  async flush(): Promise<void> {
    // What this FLUSH must cover: every write acknowledged before it arrived (on any connection).
    const upTo = this.seq;
    if (this.log) {
      this.check();
      this.stats.flushes++;
      if (this.syncedSeq >= upTo) return;
      await this.logDurable(true, upTo);
      if (upTo > this.syncedSeq) this.syncedSeq = upTo;
      return;
    }
    const logged = await this.serial(() => {
      this.check();
      // The log started while this FLUSH waited in the chain: it is made durable there.
      if (this.log) return true;
      this.stats.flushes++;
      // FLUSHes queued behind one another (several clients, several connections) that no
      // write came between share the first one's syncs.
      if (this.syncedSeq >= upTo) return false;
      const covered = this.seq;
      this.backing.sync();
      this.commitNow();
      this.syncedSeq = covered;
      return false;
    });
    if (logged) await this.flush();
  }

  // ---- baseline ---------------------------------------------------------------------------

  /**
   * Record the backing store's current content while it is already being served: the
   * regions are read inside the write chain, so a client write lands either before a
   * region is read (and is in it) or after (and is journaled after it). A volume the
   * group already holds only has its changed chunks recorded.
   */
  async baseline(onProgress?: (done: number, total: number) => void): Promise<{ startSeq: number; endSeq: number; bytesChanged: number }> {
    const fresh = !this.volumes.isVolume(this.gid);
    const size = this.size;
    const startSeq = await this.serial(() => this.append({ op: 'vmark', mark: 'start', size }));
    let bytesChanged = 0;
    // A backing file this tap just created holds only zeros: a fresh group records nothing for it.
    const skip = fresh && this.backing.created;
    for (let pos = skip ? size : 0; pos < size; pos += BASELINE_REGION) {
      bytesChanged += await this.serial(() => {
        this.check();
        const buf = Buffer.allocUnsafe(Math.min(BASELINE_REGION, size - pos));
        this.backing.read(pos, buf);
        const changed = pieces(this.opts.vault, pos, buf).filter((p) => (fresh ? p.id !== null : !this.sameAsHead(p)));
        let run: Piece[] = [];
        let n = 0;
        const emit = (): void => {
          if (run.length === 0) return;
          this.append({ op: 'vwrite', offset: run[0]!.offset, extents: storePieces(this.opts.vault, run) });
          run = [];
        };
        for (const p of changed) {
          const prev = run[run.length - 1];
          if (prev && prev.offset + prev.data.length !== p.offset) emit();
          run.push(p);
          n += p.data.length;
        }
        emit();
        return n;
      });
      onProgress?.(Math.min(size, pos + BASELINE_REGION), size);
      await new Promise((r) => setImmediate(r));
    }
    const endSeq = await this.serial(() => {
      const s = this.append({ op: 'vmark', mark: 'end', size });
      this.commitNow();
      this.startLog();
      return s;
    });
    return { startSeq, endSeq, bytesChanged };
  }

  /**
   * True when the piece holds what the journal's head says: by chunk id when the head
   * stored it as one chunk, else by comparing bytes with the chunks the head refers to
   * (writes smaller than a chunk were stored as chunks of their own).
   */
  private sameAsHead(p: Piece): boolean {
    const first = p.offset / VOLUME_BLOCK;
    const n = p.data.length / VOLUME_BLOCK;
    const chunks = new Map<string, Buffer>();
    for (let i = 0; i < n; i++) {
      const ref = this.volumes.blockAt(this.gid, first + i, Number.MAX_SAFE_INTEGER);
      const mine = p.data.subarray(i * VOLUME_BLOCK, (i + 1) * VOLUME_BLOCK);
      if (!ref || !ref.chunk) {
        if (p.id === null || isZero(mine)) continue;
        return false;
      }
      if (p.id !== null && ref.chunk.equals(p.id) && ref.coff === i) continue;
      const key = ref.chunk.toString('latin1');
      let data = chunks.get(key);
      if (!data) { data = this.opts.vault.readBlob(ref.chunk); chunks.set(key, data); }
      if (!data.subarray(ref.coff * VOLUME_BLOCK, (ref.coff + 1) * VOLUME_BLOCK).equals(mine)) return false;
    }
    return true;
  }

  // ---- journal ----------------------------------------------------------------------------

  /** Journal the block-aligned range around [offset, offset+length) (from `data` when it is exactly that range). */
  private journalRange(offset: number, length: number, data: Buffer | null): number {
    const { start, end } = alignedRange(offset, length);
    let buf = data;
    if (!buf || start !== offset || end !== offset + length) {
      buf = Buffer.allocUnsafe(end - start);
      this.backing.read(start, buf);
    }
    if (this.log) return this.logFrame(FrameOp.write, start, end - start, buf, buf !== data);
    return this.append({ op: 'vwrite', offset: start, extents: storePieces(this.opts.vault, pieces(this.opts.vault, start, buf)) });
  }

  /** Give a draft its seq and time, apply it to the index (inside the open transaction). */
  private append(draft: Draft): number {
    const seq = this.record({ ...draft, seq: this.seq + 1, time: this.clock() } as VolumeRecord);
    this.seq = seq;
    if (this.pendingBytes >= MAX_PENDING_BYTES) this.commitNow();
    return seq;
  }

  /** Apply a record to the index inside the open transaction; it is durable at the next commit. */
  private record(rec: VolumeRecord): number {
    const { vault } = this.opts;
    if (!this.inTxn) { vault.begin(); this.inTxn = true; }
    try {
      vault.apply(this.gid, rec);
    } catch (err) {
      this.fail(err as Error);
      throw err;
    }
    this.pending.push(rec);
    this.pendingBytes += rec.op === 'vwrite' ? rec.extents.reduce((a, x) => a + x.length, 0) : 0;
    return rec.seq;
  }

  // ---- write log and fold -----------------------------------------------------------------

  /** From now on writes go to the write log, folded by a thread of their own. */
  private startLog(): void {
    const log = WriteLog.create(this.opts.vault.dir, this.opts.vault.sealer, this.opts.group, this.seq + 1);
    this.log = log;
    this.foldedSeq = this.seq;
    this.fold = new FoldThread({
      vault: this.opts.vault, group: this.opts.group, commitIntervalMs: this.opts.commitIntervalMs ?? 200,
      written: () => log.written(),
      onFolded: (seq, commits) => {
        this.foldedSeq = seq;
        this.stats.commits = commits;
        try {
          log.release(seq, this.seq + 1);
        } catch (err) {
          this.fail(err as Error);
        }
      },
      onError: (err) => this.fail(err),
    });
  }

  /** Log one write (its bytes already in the backing store) with the next seq; send it to the fold. */
  private logFrame(op: FrameOp, offset: number, length: number, payload: Buffer | null, owned: boolean): number {
    const head = { op, seq: this.seq + 1, time: this.clock(), offset, length };
    let ref: FrameRef;
    try {
      ref = this.log!.append(head, payload);
    } catch (err) {
      this.fail(err as Error);
      throw err;
    }
    this.seq = head.seq;
    this.fold!.send(head, payload, owned, ref);
    this.undurableSince ??= head.time;
    return head.seq;
  }

  /** Make the log (and with `backing`, the backing store) durable through everything written so far. */
  private async logDurable(backing: boolean, seq = this.seq): Promise<void> {
    if (!backing && seq <= this.durableSeq) return;
    const upTo = this.seq;
    try {
      await Promise.all([this.log!.sync(), backing ? this.backing.syncAsync() : undefined]);
    } catch (err) {
      this.fail(err as Error);
      throw err;
    }
    if (upTo > this.durableSeq) {
      this.durableSeq = upTo;
      if (upTo === this.seq) this.undurableSince = null;
    }
  }

  /** Make every pending record durable (must run inside the chain). */
  private commitNow(): void {
    this.check();
    if (this.pending.length === 0 && !this.inTxn) return;
    try {
      this.opts.vault.commit(this.opts.group, this.pending);
    } catch (err) {
      this.fail(err as Error);
      throw err;
    }
    this.inTxn = false;
    this.stats.commits++;
    this.durableSeq = this.seq;
    this.syncedSeq = this.seq;
    this.pending = [];
    this.pendingBytes = 0;
    const ready = this.waiters.filter((w) => w.seq <= this.durableSeq);
    this.waiters = this.waiters.filter((w) => w.seq > this.durableSeq);
    for (const w of ready) w.resolve();
  }

  /** Resolve when the write may be acknowledged: at once, or (fua, sync) once durable. */
  private async settle(seq: number, fua: boolean): Promise<void> {
    // A write that waited in the chain while the log started was logged, not committed.
    if (this.log) {
      if (fua || this.opts.sync) await this.logDurable(fua, seq);
      return;
    }
    if (fua) this.backing.sync();
    if (!fua && !this.opts.sync) return;
    if (seq <= this.durableSeq) return;
    await new Promise<void>((resolve, reject) => {
      this.waiters.push({ seq, resolve, reject });
      if (this.commitScheduled) return;
      // Group commit: writes arriving in the same turn share one commit.
      this.commitScheduled = true;
      setImmediate(() => {
        this.commitScheduled = false;
        this.serial(() => this.commitNow()).catch(() => {});
      });
    });
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    try { this.opts.vault.rollback(); } catch { /* the failure being reported matters more */ }
    this.inTxn = false;
    for (const w of this.waiters) w.reject(err);
    this.waiters = [];
    this.onFailure(err);
  }

  private check(): void {
    if (this.failure) throw new TidemarkError('TM_IO', `The volume tap of group "${this.opts.group}" stopped journaling: ${this.failure.message}`, { cause: this.failure });
    if (this.closed) throw new TidemarkError('TM_USAGE', 'the volume tap is closed');
  }

  private serial<T>(fn: () => T): Promise<T> {
    this.chainPending++;
    const run = this.chain.then(fn).finally(() => { this.chainPending--; });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /**
   * Stop at once, folding nothing and syncing nothing more, as a killed process would:
   * the write log stays for the next writer of the vault to fold. (The vault stays open.)
   */
  async abandon(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.fold?.abandon();
    await Promise.all([...this.inflight].map((w) => w.done.catch(() => undefined)));
    this.backing.close();
  }

  /** Commit what is pending, sync and close the backing store (the vault stays open). */
  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.timer);
    try {
      await Promise.all([...this.inflight].map((w) => w.done.catch(() => undefined)));
      if (!this.failure) {
        await this.serial(() => {
          this.backing.sync();
          if (!this.log) this.commitNow();
        });
        if (this.log && this.fold) {
          // Fold everything logged, so a clean stop leaves no log behind.
          await this.log.sync();
          this.durableSeq = this.seq;
          this.foldedSeq = await this.fold.close();
          await this.log.close(this.foldedSeq);
        }
      } else {
        await this.fold?.abandon();
      }
    } finally {
      this.closed = true;
      this.backing.close();
    }
  }
}
