/**
 * Reads one file, cuts it into content-defined chunks and stores the chunks the vault
 * lacks. All-zero chunks are not stored: they become hole extents, so sparse files cost
 * nothing and restore as sparse. A file that changes while it is read is read again.
 *
 * Large chunks get their ids on the vault's worker threads while this thread reads on: an
 * extent's id is {@link PENDING_ID} until it is known, then replaced in place (see
 * {@link idsKnown}; the vault delivers ids during later stores or `awaitChunkIds`).
 */
import { isZero } from '../../common/zero-bytes.js';
import { closeSync, fstatSync, openSync, readSync, constants as fsc } from 'node:fs';
import { findBoundary, gearTable } from '../../chunking/chunker.js';
import type { ChunkerParams } from '../../chunking/chunker-api.js';
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
  /** true when the file kept changing during every attempt */
  unstable: boolean;
}

/** The id of an extent whose chunk id is still being computed; compared by identity. */
export const PENDING_ID: Buffer = Buffer.alloc(0);

/** True when no extent's id is still {@link PENDING_ID}. */
export function idsKnown(extents: readonly Extent[]): boolean {
  for (const x of extents) if (x.id === PENDING_ID) return false;
  return true;
}

function sameStat(a: BigIntStats, b: BigIntStats): boolean {
  return a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.ino === b.ino;
}

export class ContentStore {
  private readonly gear: Uint32Array;
  private readonly params: ChunkerParams;
  /** read window: one maximal chunk plus one read */
  private readonly window: Buffer;
  /** Bytes of the chunks this store had the vault store (known once every id is). */
  bytesNew = 0;

  constructor(private readonly vault: Vault) {
    this.params = vault.config.chunker;
    this.gear = gearTable(vault.key.gearSeed);
    this.window = Buffer.allocUnsafe(this.params.maxSize + READ_SIZE);
  }

  private storeChunk(chunk: Uint8Array, extents: Extent[]): void {
    if (isZero(chunk)) {
      extents.push({ id: null, length: chunk.length });
      return;
    }
    const x: Extent = { id: PENDING_ID, length: chunk.length };
    extents.push(x);
    this.vault.storeContent(chunk, (id, stored) => {
      x.id = id;
      if (stored) this.bytesNew += x.length;
    });
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
      for (let attempt = 1; ; attempt++) {
        const before = fstatSync(fd, { bigint: true });
        const extents: Extent[] = [];
        // One reusable window, cut in place with findBoundary: every chunk is consumed
        // (hashed, and copied or sealed) before the window moves, so nothing here allocates
        // per read. Cuts are exactly those of the streaming Chunker.
        const buf = this.window;
        let pos = 0;
        let start = 0;
        let end = 0;
        let eof = false;
        for (;;) {
          while (!eof && end < buf.length) {
            const n = readSync(fd, buf, end, buf.length - end, pos);
            if (n === 0) { eof = true; break; }
            end += n;
            pos += n;
            bytesRead += n;
            onBytes?.(n);
          }
          for (let len = findBoundary(buf, start, end, this.params, this.gear); len > 0; len = findBoundary(buf, start, end, this.params, this.gear)) {
            this.storeChunk(buf.subarray(start, start + len), extents);
            start += len;
          }
          if (eof) {
            if (start < end) this.storeChunk(buf.subarray(start, end), extents);
            break;
          }
          buf.copyWithin(0, start, end);
          end -= start;
          start = 0;
        }
        const after = fstatSync(fd, { bigint: true });
        const stable = sameStat(before, after) && BigInt(pos) === after.size;
        if (stable || attempt >= attempts) return { extents, stat: after, bytesRead, unstable: !stable };
      }
    } finally {
      closeSync(fd);
    }
  }
}
