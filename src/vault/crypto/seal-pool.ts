/**
 * Compression and encryption of chunks on worker threads, so that on a multi-core machine
 * reading, chunking and hashing (main thread) overlap with sealing (workers).
 *
 * The capture path is synchronous (it runs inside one SQLite transaction), so results are
 * collected synchronously: each worker answers on its own MessagePort, bumps a shared
 * counter and notifies it; the main thread sleeps on the counter with Atomics.wait and
 * dequeues answers with receiveMessageOnPort. The queue is bounded (`maxInFlight`): a
 * submit beyond it waits for results first — backpressure, never unbounded memory.
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { TidemarkError } from '../../common/errors.js';
import type { MasterKey } from './master-key.js';

export interface SealedResult {
  type: number;
  id: Buffer;
  sealed: Buffer;
  flags: number;
  rawLength: number;
}

interface WorkerReply { type: number; id: Uint8Array; sealed: Uint8Array; flags: number; rawLength: number; error?: string }

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createCipheriv, randomBytes } = require('node:crypto');
const { Compressor } = require(workerData.zstdPath);
const encKey = Buffer.from(workerData.encKey);
const counter = new Int32Array(workerData.counter);
const port = workerData.port;
const compressor = new Compressor();
compressor.setParameters({ compressionLevel: workerData.level });
port.on('message', (m) => {
  try {
    const data = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
    let plain = data; let flags = 0;
    if (data.length >= 64) {
      const packed = compressor.compress(data);
      if (packed.length < data.length - data.length / 64) { plain = packed; flags = 1; }
    }
    const nonce = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', encKey, nonce);
    c.setAAD(m.id);
    const body = c.update(plain); const fin = c.final(); const tag = c.getAuthTag();
    // An exact-size buffer of its own: a small Buffer.concat would come from the shared
    // 8 KiB pool, and transferring it would move (and keep alive) the whole slab.
    const sealed = Buffer.allocUnsafeSlow(nonce.length + body.length + fin.length + tag.length);
    nonce.copy(sealed, 0); body.copy(sealed, nonce.length); fin.copy(sealed, nonce.length + body.length);
    tag.copy(sealed, nonce.length + body.length + fin.length);
    port.postMessage({ type: m.type, id: m.id, sealed, flags, rawLength: data.length }, [sealed.buffer]);
  } catch (err) {
    port.postMessage({ type: m.type, id: m.id, error: String(err && err.message || err) });
  }
  Atomics.add(counter, 0, 1);
  Atomics.notify(counter, 0);
});
`;

export class SealPool {
  private readonly workers: Worker[] = [];
  private readonly ports: MessagePort[] = [];
  private readonly counter: Int32Array;
  private next = 0;
  private inFlight = 0;
  private inFlightBytes = 0;
  private readonly pendingIds = new Set<string>();

  constructor(key: MasterKey, zstdPath: string, threads: number, private readonly maxInFlightBytes = 16 * 1024 * 1024, level = 3) {
    const shared = new SharedArrayBuffer(4);
    this.counter = new Int32Array(shared);
    for (let i = 0; i < threads; i++) {
      const { port1, port2 } = new MessageChannel();
      const w = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { encKey: Buffer.from(key.encKey), counter: shared, port: port2, zstdPath, level },
        transferList: [port2],
        // A small heap: the worker holds nothing between chunks, and a large young
        // generation only delays freeing the buffers it churns through.
        resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64 },
      });
      w.unref();
      this.workers.push(w);
      this.ports.push(port1);
    }
  }

  /** True while a chunk with this id is being sealed. */
  has(idHex: string): boolean { return this.pendingIds.has(idHex); }

  /** Queue `data` (copied) for sealing; may first collect results into `sink` to bound memory. */
  submit(type: number, id: Buffer, data: Uint8Array, sink: (r: SealedResult) => void): void {
    while (this.inFlight > 0 && this.inFlightBytes + data.length > this.maxInFlightBytes) this.collect(sink, true);
    const port = this.ports[this.next]!;
    this.next = (this.next + 1) % this.ports.length;
    // An exact copy, transferred: cloning a view would copy its whole underlying buffer.
    const copy = new Uint8Array(data);
    port.postMessage({ type, id, data: copy }, [copy.buffer]);
    this.inFlight++;
    this.inFlightBytes += data.length;
    this.pendingIds.add(id.toString('hex'));
    this.collect(sink, false);
  }

  /** Wait for every queued chunk and hand each result to `sink`. */
  drain(sink: (r: SealedResult) => void): void {
    while (this.inFlight > 0) this.collect(sink, true);
  }

  /** Hand every answer received so far to `sink`; with `wait`, sleep until there is one. */
  private collect(sink: (r: SealedResult) => void, wait: boolean): void {
    for (;;) {
      // Read the counter before dequeuing: an answer that lands after the dequeue has
      // changed it, so the wait below returns at once instead of missing that answer.
      const before = Atomics.load(this.counter, 0);
      let got = 0;
      for (const port of this.ports) {
        for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
          got++;
          const r = m.message as WorkerReply;
          const id = Buffer.from(r.id);
          this.inFlight--;
          this.inFlightBytes -= r.rawLength ?? 0;
          this.pendingIds.delete(id.toString('hex'));
          if (r.error) throw new TidemarkError('TM_INTERNAL', `sealing chunk ${id.toString('hex').slice(0, 16)} failed: ${r.error}`);
          sink({ type: r.type, id, sealed: Buffer.from(r.sealed.buffer, r.sealed.byteOffset, r.sealed.byteLength), flags: r.flags, rawLength: r.rawLength });
        }
      }
      if (got > 0 || !wait || this.inFlight === 0) return;
      Atomics.wait(this.counter, 0, before, 1000);
    }
  }

  close(): void {
    for (const p of this.ports) p.close();
    for (const w of this.workers) void w.terminate();
  }
}
