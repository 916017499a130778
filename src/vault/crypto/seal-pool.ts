/**
 * Keyed ids, compression and encryption of chunks on worker threads, so that on a
 * multi-core machine reading and chunking (main thread) overlap with hashing and sealing
 * (workers). A chunk sent for its id stays in its worker until the main thread, which owns
 * the index, says whether to seal it (new) or drop it (a duplicate).
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

type WorkerReply =
  | { op: 'id'; job: number; id: Uint8Array }
  | { op: 'sealed'; job: number; type: number; id: Uint8Array; sealed: Uint8Array<ArrayBuffer>; flags: number; rawLength: number }
  | { op: 'free'; job: number; buffer: ArrayBuffer }
  | { op: 'error'; job: number; error: string };

/** Room a chunk's buffer keeps beyond the chunk for sealing in place: nonce (12) and tag (16). */
const SEAL_ROOM = 28;
/** Chunk buffers are allocated in multiples of this, so that they can be reused for others. */
const BUFFER_STEP = 256 * 1024;
/** Bytes of free chunk buffers kept for reuse, at most (on top of those in flight). */
const MAX_FREE_BYTES = 16 * 1024 * 1024;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createCipheriv, createHmac, randomBytes } = require('node:crypto');
const { Compressor } = require(workerData.zstdPath);
const encKey = Buffer.from(workerData.encKey);
const idKey = Buffer.from(workerData.idKey);
const counter = new Int32Array(workerData.counter);
const port = workerData.port;
const compressor = new Compressor();
compressor.setParameters({ compressionLevel: workerData.level });
/** chunks hashed and waiting for the main thread to say seal or drop, by job */
const held = new Map();
/** Seal into the chunk's own memory (it has room for nonce and tag) and give it back. */
function seal(type, id, data, job) {
  let plain = data; let flags = 0;
  if (data.length >= 64) {
    const packed = compressor.compress(data);
    if (packed.length < data.length - data.length / 64) { plain = packed; flags = 1; }
  }
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', encKey, nonce);
  c.setAAD(id);
  const body = c.update(plain); const fin = c.final(); const tag = c.getAuthTag();
  const rawLength = data.length;
  const sealed = Buffer.from(data.buffer, 0, nonce.length + body.length + fin.length + tag.length);
  nonce.copy(sealed, 0); body.copy(sealed, nonce.length); fin.copy(sealed, nonce.length + body.length);
  tag.copy(sealed, nonce.length + body.length + fin.length);
  port.postMessage({ op: 'sealed', job, type, id, sealed, flags, rawLength }, [sealed.buffer]);
}
port.on('message', (m) => {
  try {
    if (m.op === 'hash') {
      const data = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
      const id = createHmac('sha256', idKey).update(data).digest();
      held.set(m.job, data);
      port.postMessage({ op: 'id', job: m.job, id });
    } else if (m.op === 'seal') {
      const data = held.get(m.job);
      held.delete(m.job);
      seal(m.type, m.id, data, m.job);
    } else if (m.op === 'drop') {
      const data = held.get(m.job);
      held.delete(m.job);
      port.postMessage({ op: 'free', job: m.job, buffer: data.buffer }, [data.buffer]);
    } else {
      seal(m.type, m.id, Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength), m.job);
    }
  } catch (err) {
    port.postMessage({ op: 'error', job: m.job, error: String(err && err.message || err) });
  }
  Atomics.add(counter, 0, 1);
  Atomics.notify(counter, 0);
});
`;

/** A job the main thread is waiting on: its bytes count against the in-flight bound. */
interface Job { port: number; type: number; length: number; decide?: (id: Buffer) => boolean; idHex?: string }

export class SealPool {
  private readonly workers: Worker[] = [];
  private readonly ports: MessagePort[] = [];
  private readonly counter: Int32Array;
  private next = 0;
  private nextJob = 0;
  private inFlightBytes = 0;
  private readonly jobs = new Map<number, Job>();
  private readonly pendingIds = new Set<string>();
  /**
   * Chunk buffers back from the workers: a chunk travels to a worker and comes back sealed
   * in the same memory, which is then reused for a later chunk. No memory is allocated per
   * chunk on this thread, and none waits for the garbage collector.
   */
  private readonly free: ArrayBuffer[] = [];
  private freeBytes = 0;

  constructor(key: MasterKey, zstdPath: string, threads: number, private readonly maxInFlightBytes = 16 * 1024 * 1024, level = 3) {
    const shared = new SharedArrayBuffer(4);
    this.counter = new Int32Array(shared);
    for (let i = 0; i < threads; i++) {
      const { port1, port2 } = new MessageChannel();
      const w = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { encKey: Buffer.from(key.encKey), idKey: Buffer.from(key.idKey), counter: shared, port: port2, zstdPath, level },
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

  /** Jobs not finished yet (hashing, waiting for a decision, or sealing). */
  get inFlight(): number { return this.jobs.size; }

  /** Post `data` (copied) to the next worker as job `job`; first collects results into `sink` while the bound is reached. */
  private post(msg: Record<string, unknown>, data: Uint8Array, job: Job, sink: (r: SealedResult) => void): void {
    while (this.jobs.size > 0 && this.inFlightBytes + data.length > this.maxInFlightBytes) this.collect(sink, true);
    const n = this.nextJob++;
    job.port = this.next;
    this.next = (this.next + 1) % this.ports.length;
    // A copy in a buffer of its own, transferred: cloning a view would copy its whole underlying buffer.
    const copy = new Uint8Array(this.takeBuffer(data.length + SEAL_ROOM), 0, data.length);
    copy.set(data);
    this.ports[job.port]!.postMessage({ ...msg, job: n, data: copy }, [copy.buffer]);
    this.jobs.set(n, job);
    this.inFlightBytes += job.length;
    this.collect(sink, false);
  }

  /** A free buffer of at least `size` bytes (and not much more), or a new one. */
  private takeBuffer(size: number): ArrayBuffer {
    for (let i = this.free.length - 1; i >= 0; i--) {
      const b = this.free[i]!;
      if (b.byteLength >= size && b.byteLength < 2 * size + BUFFER_STEP) {
        this.free[i] = this.free[this.free.length - 1]!;
        this.free.pop();
        this.freeBytes -= b.byteLength;
        return b;
      }
    }
    return new ArrayBuffer(Math.ceil(size / BUFFER_STEP) * BUFFER_STEP);
  }

  private giveBuffer(b: ArrayBuffer): void {
    while (this.free.length > 0 && this.freeBytes + b.byteLength > MAX_FREE_BYTES) this.freeBytes -= this.free.shift()!.byteLength;
    if (b.byteLength > MAX_FREE_BYTES) return;
    this.free.push(b);
    this.freeBytes += b.byteLength;
  }

  /** Queue `data` (copied) for sealing under a known id; may first collect results into `sink` to bound memory. */
  submit(type: number, id: Buffer, data: Uint8Array, sink: (r: SealedResult) => void): void {
    const idHex = id.toString('hex');
    this.pendingIds.add(idHex);
    this.post({ op: 'seal-data', type, id }, data, { port: 0, type, length: data.length, idHex }, sink);
  }

  /**
   * Queue `data` (copied) to have its keyed id computed on a worker. When the id comes back
   * (during a later submit, {@link pump} or {@link drain}), `decide(id)` is called on this
   * thread: true has the worker seal the chunk (the result goes to `sink`, as for
   * {@link submit}), false drops it. Duplicates are found before any compression is spent.
   */
  submitForId(type: number, data: Uint8Array, decide: (id: Buffer) => boolean, sink: (r: SealedResult) => void): void {
    this.post({ op: 'hash', type }, data, { port: 0, type, length: data.length, decide }, sink);
  }

  /** True when queuing `bytes` more now would have to wait for the workers (the in-flight bound). */
  busyFor(bytes: number): boolean {
    return this.jobs.size > 0 && this.inFlightBytes + bytes > this.maxInFlightBytes;
  }

  /** Hand over what has arrived (ids to decide, sealed chunks); with `wait`, sleep until something does. */
  pump(sink: (r: SealedResult) => void, wait: boolean): void {
    this.collect(sink, wait);
  }

  /** Wait for every queued chunk and hand each result to `sink`. */
  drain(sink: (r: SealedResult) => void): void {
    while (this.jobs.size > 0) this.collect(sink, true);
  }

  private finish(n: number, job: Job): void {
    this.jobs.delete(n);
    this.inFlightBytes -= job.length;
    if (job.idHex !== undefined) this.pendingIds.delete(job.idHex);
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
          if (r.op === 'free') {
            this.giveBuffer(r.buffer);
            continue;
          }
          const job = this.jobs.get(r.job);
          if (!job) throw new TidemarkError('TM_INTERNAL', `a seal worker answered job ${r.job}, which is not in flight`);
          if (r.op === 'error') {
            this.finish(r.job, job);
            throw new TidemarkError('TM_INTERNAL', `sealing chunk ${job.idHex?.slice(0, 16) ?? '(id not computed)'} failed: ${r.error}`);
          }
          const id = Buffer.from(r.id);
          if (r.op === 'id') {
            const idHex = id.toString('hex');
            if (job.decide!(id)) {
              job.idHex = idHex;
              this.pendingIds.add(idHex);
              this.ports[job.port]!.postMessage({ op: 'seal', job: r.job, type: job.type, id });
            } else {
              this.ports[job.port]!.postMessage({ op: 'drop', job: r.job });
              this.finish(r.job, job);
            }
            continue;
          }
          this.finish(r.job, job);
          // The sink copies the sealed bytes (into the open pack) before it returns.
          sink({ type: r.type, id, sealed: Buffer.from(r.sealed.buffer, r.sealed.byteOffset, r.sealed.byteLength), flags: r.flags, rawLength: r.rawLength });
          this.giveBuffer(r.sealed.buffer as ArrayBuffer);
        }
      }
      if (got > 0 || !wait || this.jobs.size === 0) return;
      Atomics.wait(this.counter, 0, before, 1000);
    }
  }

  close(): void {
    for (const p of this.ports) p.close();
    for (const w of this.workers) void w.terminate();
  }
}
