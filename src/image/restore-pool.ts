/**
 * Writes restored files on worker threads (restore-worker.ts), so that reading packs,
 * decrypting, decompressing, verifying and writing run on every core while the main thread
 * walks the tree. The main thread looks up where each chunk is (the index is not shared
 * with workers) and builds and checks every path; a worker only creates the file it is
 * given, exclusively and without following links.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { TidemarkError } from '../common/errors.js';
import type { Vault } from '../vault/vault.js';
import type { EntryState } from '../vault/journal/journal-record.js';

/** Where one chunk of a file is, as the worker needs it. */
export interface JobBlob { id: string; pack: string; offset: number; length: number; flags: number; rawLength: number }

/** One file to write. */
export interface RestoreJob {
  n: number;
  /** an exact copy: a Buffer view would be cloned with its whole (pooled) memory */
  abs: Uint8Array;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtimeNs: bigint;
  /** `blob` null: a hole; ids in hex, for the same reason as `abs` */
  extents: { length: number; blob: JobBlob | null }[];
}

export type RestoreReply = { n: number; bytes: number } | { n: number; damaged: string } | { n: number; error: string; code?: string };

interface Pending { resolve: (bytes: number) => void; reject: (err: unknown) => void }

export class RestorePool {
  private readonly workers: Worker[] = [];
  private readonly load: number[] = [];
  private readonly pending = new Map<number, Pending & { worker: number }>();
  private next = 0;
  private failed: unknown = undefined;
  private closing = false;

  constructor(private readonly vault: Vault, threads = Math.max(1, Math.min(4, availableParallelism()))) {
    for (let i = 0; i < threads; i++) {
      const w = new Worker(new URL('./restore-worker.js', import.meta.url), {
        workerData: { vaultDir: vault.dir, encKey: Buffer.from(vault.key.encKey), idKey: Buffer.from(vault.key.idKey) },
        resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 64 },
      });
      w.on('message', (r: RestoreReply) => this.settle(r));
      w.on('error', (err) => this.fail(err));
      w.on('exit', (code) => { if (code !== 0 && !this.closing) this.fail(new TidemarkError('TM_INTERNAL', `a restore worker exited with code ${code}`)); });
      this.workers.push(w);
      this.load.push(0);
    }
  }

  private settle(r: RestoreReply): void {
    const p = this.pending.get(r.n);
    if (!p) return;
    this.pending.delete(r.n);
    this.load[p.worker]!--;
    if ('bytes' in r) p.resolve(r.bytes);
    else if ('damaged' in r) p.reject(new TidemarkError('TM_CORRUPT', r.damaged));
    else p.reject(Object.assign(new Error(r.error), { code: r.code }));
  }

  private fail(err: unknown): void {
    this.failed ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  /**
   * Write file `e` at `abs` (which must not exist). Resolves to the bytes written; rejects
   * with TM_CORRUPT (the partial file removed) when a chunk is damaged or missing.
   */
  write(abs: Buffer, e: EntryState): Promise<number> {
    if (this.failed) return Promise.reject(this.failed);
    const extents: RestoreJob['extents'] = [];
    for (const x of e.extents) {
      if (x.id === null) { extents.push({ length: x.length, blob: null }); continue; }
      const loc = this.vault.index.blob(x.id);
      if (!loc) {
        return Promise.reject(new TidemarkError('TM_CORRUPT', `chunk ${x.id.toString('hex').slice(0, 16)} is referenced but not in the index`, {
          hint: 'run `tidemark index rebuild`, then `tidemark verify`', details: { chunk: x.id.toString('hex') },
        }));
      }
      extents.push({ length: x.length, blob: { id: x.id.toString('hex'), pack: loc.pack, offset: loc.offset, length: loc.length, flags: loc.flags, rawLength: loc.rawLength } });
    }
    let worker = 0;
    for (let i = 1; i < this.load.length; i++) if (this.load[i]! < this.load[worker]!) worker = i;
    const n = this.next++;
    const job: RestoreJob = { n, abs: new Uint8Array(abs), size: e.size, mode: e.mode, uid: e.uid, gid: e.gid, mtimeNs: e.mtimeNs, extents };
    return new Promise<number>((resolve, reject) => {
      this.pending.set(n, { resolve, reject, worker });
      this.load[worker]!++;
      this.workers[worker]!.postMessage(job);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
