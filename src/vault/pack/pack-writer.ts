/**
 * Collects sealed blobs into one pack and writes it durably (write, fsync, rename,
 * fsync dir) through writeFileDurable. The caller records the pack in the index only
 * after `flush` returns: that is the ordering rule that keeps a crash harmless.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { writeFileDurable } from '../../common/durable-file.js';
import type { Sealer } from '../crypto/sealer.js';
import { encodeBlobTable, packFooter, packHeader, packRelPath, PACK_HEADER_SIZE, TRAILER_AAD, type BlobEntry } from './pack-format.js';

export interface WrittenPack {
  name: string;
  size: number;
  blobs: BlobEntry[];
}

export class PackWriter {
  /**
   * The pack's blobs, copied in as they come into one buffer reused from pack to pack: a
   * sealed blob is then garbage at once instead of living (and holding its memory) until
   * the pack is written, which kept hundreds of MB of freed-but-unreleased native memory.
   */
  private body = Buffer.allocUnsafe(0);
  private entries: BlobEntry[] = [];
  private size = PACK_HEADER_SIZE;
  private readonly pendingIds = new Set<string>();

  constructor(private readonly vaultDir: string, private readonly sealer: Sealer, readonly targetSize = 16 * 1024 * 1024) {}

  /** Bytes buffered so far. */
  get bufferedBytes(): number { return this.size; }
  get blobCount(): number { return this.entries.length; }

  /** True when a blob with this id is waiting in the unflushed pack. */
  has(idHex: string): boolean { return this.pendingIds.has(idHex); }

  /** Add an already sealed blob. */
  add(type: number, id: Buffer, sealed: Buffer, flags: number, rawLength: number): void {
    this.entries.push({ type, flags, id, offset: this.size, length: sealed.length, rawLength });
    const at = this.size - PACK_HEADER_SIZE;
    if (at + sealed.length > this.body.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.targetSize + 8 * 1024 * 1024, (at + sealed.length) * 2));
      this.body.copy(grown, 0, 0, at);
      this.body = grown;
    }
    sealed.copy(this.body, at);
    this.size += sealed.length;
    this.pendingIds.add(id.toString('hex'));
  }

  /** True once the buffered pack has reached its target size. */
  get full(): boolean { return this.size >= this.targetSize; }

  /** Write the pack durably; null when empty. Resets the writer. */
  flush(): WrittenPack | null {
    if (this.entries.length === 0) return null;
    const trailer = this.sealer.encrypt(TRAILER_AAD, encodeBlobTable(this.entries));
    const all = [packHeader(), this.body.subarray(0, this.size - PACK_HEADER_SIZE), trailer, packFooter(trailer.length)];
    const hash = createHash('sha256');
    let size = 0;
    for (const p of all) { hash.update(p); size += p.length; }
    const name = hash.digest('hex');
    writeFileDurable(join(this.vaultDir, packRelPath(name)), all, 0o400);
    const written = { name, size, blobs: this.entries };
    this.entries = [];
    this.size = PACK_HEADER_SIZE;
    this.pendingIds.clear();
    return written;
  }
}
