/**
 * Reads one file, cuts it into content-defined chunks and stores the chunks the vault
 * lacks. All-zero chunks are not stored: they become hole extents, so sparse files cost
 * nothing and restore as sparse. A file that changes while it is read is read again.
 */
import { closeSync, fstatSync, openSync, readSync, constants as fsc } from 'node:fs';
import { Chunker, gearTable } from '../../chunking/chunker.js';
import type { Vault } from '../../vault/vault.js';
import type { Extent } from '../../vault/journal/journal-record.js';
import type { BigIntStats } from 'node:fs';

const READ_SIZE = 4 * 1024 * 1024;
const MAX_ATTEMPTS = 4;

export interface CapturedContent {
  extents: Extent[];
  /** stat taken when reading finished (the state the content belongs to) */
  stat: BigIntStats;
  bytesRead: number;
  bytesNew: number;
  /** true when the file kept changing during every attempt */
  unstable: boolean;
}

function sameStat(a: BigIntStats, b: BigIntStats): boolean {
  return a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.ino === b.ino;
}

export class ContentStore {
  private readonly chunker: Chunker;
  private zeros: Buffer;

  constructor(private readonly vault: Vault) {
    this.chunker = new Chunker(vault.config.chunker, gearTable(vault.key.gearSeed));
    this.zeros = Buffer.alloc(vault.config.chunker.maxSize);
  }

  private storeChunk(chunk: Uint8Array, extents: Extent[]): number {
    if (chunk.length <= this.zeros.length && Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length).equals(this.zeros.subarray(0, chunk.length))) {
      extents.push({ id: null, length: chunk.length });
      return 0;
    }
    const id = this.vault.sealer.id(chunk);
    extents.push({ id, length: chunk.length });
    if (this.vault.hasBlob(id)) return 0;
    this.vault.storeChunk(id, chunk);
    return chunk.length;
  }

  /**
   * Capture the content of the file at `path` (a Buffer path: any byte string works),
   * reading it up to `attempts` times until a read sees no change (the live tap reads once
   * and retries in its next capture, so one busy file cannot hold up the others).
   */
  capture(path: Buffer | string, onBytes?: (n: number) => void, attempts = MAX_ATTEMPTS): CapturedContent {
    const fd = openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NOATIME);
    try {
      let bytesRead = 0;
      let bytesNew = 0;
      for (let attempt = 1; ; attempt++) {
        const before = fstatSync(fd, { bigint: true });
        const extents: Extent[] = [];
        let pos = 0;
        this.chunker.finish();
        for (;;) {
          // Size reads to the file: a fresh 4 MiB buffer per small file is GC churn.
          const want = Math.max(64 * 1024, Math.min(READ_SIZE, Number(before.size) - pos + 1));
          const buf = Buffer.allocUnsafe(want);
          const n = readSync(fd, buf, 0, want, pos);
          if (n === 0) break;
          pos += n;
          bytesRead += n;
          onBytes?.(n);
          for (const c of this.chunker.push(buf.subarray(0, n))) bytesNew += this.storeChunk(c, extents);
        }
        const last = this.chunker.finish();
        if (last) bytesNew += this.storeChunk(last, extents);
        const after = fstatSync(fd, { bigint: true });
        const stable = sameStat(before, after) && BigInt(pos) === after.size;
        if (stable || attempt >= attempts) return { extents, stat: after, bytesRead, bytesNew, unstable: !stable };
      }
    } finally {
      closeSync(fd);
    }
  }
}
