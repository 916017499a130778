/**
 * Writes finished packs on a worker thread (pack-flush-worker.ts): hashing a pack for its
 * name and writing it (write, fsync, rename, fsync dir) then overlap with sealing the next
 * one. One pack at a time; the caller waits for it, synchronously (the capture path is
 * synchronous), before it writes another or commits.
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { TidemarkError, type ErrorCode } from '../../common/errors.js';

export interface FlushRequest {
  vaultDir: string;
  header: Uint8Array;
  /** the pack's blobs are `buffer[0, bodyLength)`; the buffer is transferred and comes back */
  buffer: ArrayBuffer;
  bodyLength: number;
  trailer: Uint8Array;
  footer: Uint8Array;
}

export type FlushReply = { name: string; size: number; buffer: ArrayBuffer } | { error: string; code: ErrorCode | undefined; retryable: boolean; buffer: ArrayBuffer };

export class PackFlusher {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly counter = new Int32Array(new SharedArrayBuffer(4));
  private busy = false;

  constructor() {
    const { port1, port2 } = new MessageChannel();
    this.worker = new Worker(new URL('./pack-flush-worker.js', import.meta.url), {
      workerData: { port: port2, counter: this.counter.buffer },
      transferList: [port2],
      resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 32 },
    });
    this.worker.unref();
    this.port = port1;
  }

  get pending(): boolean { return this.busy; }

  /** Start writing a pack (the previous one must have been waited for). */
  start(req: FlushRequest): void {
    if (this.busy) throw new TidemarkError('TM_INTERNAL', 'a pack is already being written');
    this.busy = true;
    this.port.postMessage(req, [req.buffer]);
  }

  /** Wait until the pack being written is durable; returns its name and size, and the buffer back. */
  wait(): { name: string; size: number; buffer: ArrayBuffer } {
    for (;;) {
      const before = Atomics.load(this.counter, 0);
      const m = receiveMessageOnPort(this.port);
      if (m) {
        this.busy = false;
        const r = m.message as FlushReply;
        if ('error' in r) throw new TidemarkError(r.code ?? 'TM_IO', r.error, { retryable: r.retryable });
        return r;
      }
      Atomics.wait(this.counter, 0, before, 1000);
    }
  }

  close(): void {
    this.port.close();
    void this.worker.terminate();
  }
}
