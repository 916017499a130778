/**
 * The tap's side of its fold thread (fold-worker.ts): logged writes are batched per turn
 * and sent over; the thread reads their bytes back from the log (buffers the tap owns are
 * transferred instead, while at most MAX_RETAINED is in flight). It tracks how much is
 * logged and not yet folded, so writes can wait when the backlog is full.
 */
import { Worker } from 'node:worker_threads';
import { TidemarkError } from '../../common/errors.js';
import type { Vault } from '../../vault/vault.js';
import type { FrameRef } from '../../vault/write-log/write-log.js';
import type { FrameHead } from '../../vault/write-log/write-log-frame.js';
import type { FoldEntryMessage, FoldThreadData, FromFoldThread, ToFoldThread } from './fold-messages.js';

/** writes wait for the fold when this much is logged and not folded (bounds the log on disk) */
const MAX_UNFOLDED = 1024 * 1024 * 1024;
/** bytes sent along with their entries (beyond this the thread reads them back from the log) */
const MAX_RETAINED = 256 * 1024 * 1024;

export interface FoldThreadOptions {
  vault: Vault;
  group: string;
  commitIntervalMs: number;
  /** everything through `seq` is committed to the journal */
  onFolded: (seq: number, commits: number) => void;
  onError: (err: Error) => void;
  /** resolves once every appended frame is readable from the log file (before entries pointing there are sent) */
  written: () => Promise<void>;
}

export class FoldThread {
  private readonly worker: Worker;
  private outbox: FoldEntryMessage[] = [];
  private transfer: ArrayBuffer[] = [];
  private outboxNeedsLog = false;
  private scheduled = false;
  /** sent and not folded: seq, bytes, bytes sent along */
  private backlog: { seq: number; bytes: number; retained: number }[] = [];
  private backlogHead = 0;
  private unfolded = 0;
  private retained = 0;
  private roomWaiters: (() => void)[] = [];
  private closing: { resolve: (seq: number) => void; reject: (e: Error) => void } | null = null;
  private exited = false;
  private posting: Promise<void> = Promise.resolve();

  constructor(private readonly o: FoldThreadOptions) {
    const key = o.vault.key;
    const data: FoldThreadData = {
      vaultDir: o.vault.dir, group: o.group, commitIntervalMs: o.commitIntervalMs,
      key: { encKey: Buffer.from(key.encKey), idKey: Buffer.from(key.idKey), gearSeed: Buffer.from(key.gearSeed) },
    };
    this.worker = new Worker(new URL('./fold-worker.js', import.meta.url), { workerData: data });
    this.worker.on('message', (m: FromFoldThread) => this.onMessage(m));
    this.worker.on('error', (err) => this.failed(err));
    this.worker.on('exit', () => {
      this.exited = true;
      if (this.closing) this.closing.reject(new TidemarkError('TM_INTERNAL', 'the fold thread exited before it had folded everything'));
      this.closing = null;
    });
  }

  get unfoldedBytes(): number { return this.unfolded; }

  /** Send one logged write (its frame already appended) to be folded. */
  send(head: FrameHead, payload: Buffer | null, owned: boolean, ref: FrameRef): void {
    const bytes = payload?.length ?? 0;
    let data: Buffer | null = null;
    // A buffer the tap owns whole (read back from the backing store) is handed over as it
    // is; the client's bytes are not copied here: the fold thread reads them back from the
    // log (page cache), which keeps copies and garbage off the thread serving requests.
    if (payload && owned && payload.byteOffset === 0 && payload.byteLength === payload.buffer.byteLength && this.retained + bytes <= MAX_RETAINED) {
      data = payload;
      this.transfer.push(data.buffer as ArrayBuffer);
    }
    const at = payload && !data ? { path: ref.segment.path, key: ref.segment.key, index: ref.index, pos: ref.pos } : null;
    if (at) this.outboxNeedsLog = true;
    this.outbox.push({ op: head.op, seq: head.seq, time: head.time, offset: head.offset, length: head.length, data, at });
    this.backlog.push({ seq: head.seq, bytes, retained: data ? bytes : 0 });
    this.unfolded += bytes;
    this.retained += data ? bytes : 0;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => void this.post());
    }
  }

  /** Resolves once the backlog is below its bound. */
  async room(): Promise<void> {
    while (this.unfolded > MAX_UNFOLDED && !this.exited) await new Promise<void>((r) => this.roomWaiters.push(r));
  }

  /** Fold everything sent; resolves with the last folded seq once the thread has exited. */
  close(): Promise<number> {
    void this.post();
    return new Promise<number>((resolve, reject) => {
      if (this.exited) { reject(new TidemarkError('TM_INTERNAL', 'the fold thread is not running')); return; }
      this.closing = { resolve, reject };
      this.send0({ type: 'close' });
    });
  }

  /** Stop the thread at once, committing nothing: what a crash would leave behind. */
  async abandon(): Promise<void> {
    if (this.exited) return;
    this.send0({ type: 'abandon' });
    await new Promise<void>((r) => this.worker.once('exit', () => r()));
  }

  /** Send the batch; batches leave in order, one that points into the log once the log holds it. */
  private post(): Promise<void> {
    this.scheduled = false;
    if (this.outbox.length === 0 || this.exited) return this.posting;
    const entries = this.outbox;
    const transfer = this.transfer;
    const needsLog = this.outboxNeedsLog;
    this.outbox = [];
    this.transfer = [];
    this.outboxNeedsLog = false;
    this.posting = this.posting.then(async () => {
      if (needsLog) await this.o.written();
      if (!this.exited) this.worker.postMessage({ type: 'entries', entries } satisfies ToFoldThread, transfer);
    }).catch((err: unknown) => this.failed(err as Error));
    return this.posting;
  }

  private send0(m: ToFoldThread): void {
    // After every batch already on its way.
    this.posting = this.posting.then(() => { if (!this.exited) this.worker.postMessage(m); });
  }

  private onMessage(m: FromFoldThread): void {
    if (m.type === 'error') { this.failed(new TidemarkError(m.code as 'TM_IO', m.message)); return; }
    while (this.backlogHead < this.backlog.length && this.backlog[this.backlogHead]!.seq <= m.seq) {
      const b = this.backlog[this.backlogHead++]!;
      this.unfolded -= b.bytes;
      this.retained -= b.retained;
    }
    if (this.backlogHead > 4096 && this.backlogHead * 2 > this.backlog.length) {
      this.backlog = this.backlog.slice(this.backlogHead);
      this.backlogHead = 0;
    }
    this.wake();
    this.o.onFolded(m.seq, m.commits);
    if (m.type === 'closed') {
      this.closing?.resolve(m.seq);
      this.closing = null;
    }
  }

  private failed(err: Error): void {
    this.closing?.reject(err);
    this.closing = null;
    this.wake();
    this.o.onError(err);
  }

  private wake(): void {
    const w = this.roomWaiters;
    this.roomWaiters = [];
    for (const r of w) r();
  }
}
