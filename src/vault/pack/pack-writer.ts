/**
 * Collects sealed blobs into one pack and writes it durably (write, fsync, rename,
 * fsync dir) through writeFileDurable. The caller records the pack in the index only
 * after `flush` returns: that is the ordering rule that keeps a crash harmless.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { writeFileDurable } from '../../common/durable-file.js';
import type { Sealer } from '../crypto/sealer.js';
import type { PackFlusher } from './pack-flusher.js';
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
  private body: Buffer = Buffer.allocUnsafe(0);
  private entries: BlobEntry[] = [];
  private size = PACK_HEADER_SIZE;
  private pendingIds = new Set<string>();
  /** The pack being written by the flusher: its blobs still count as here until it is reported. */
  private writing: { entries: BlobEntry[]; ids: Set<string>; onWritten: (p: WrittenPack) => void } | null = null;
  /** The other body buffer, while one is with the flusher or after it came back. */
  private spare: Buffer | null = null;

  /**
   * @param flusher - when given, {@link flushInBackground} writes packs on its thread.
   */
  constructor(private readonly vaultDir: string, private readonly sealer: Sealer, readonly targetSize = 16 * 1024 * 1024,
    private readonly flusher: PackFlusher | null = null) {}

  /** Bytes buffered so far. */
  get bufferedBytes(): number { return this.size; }
  get blobCount(): number { return this.entries.length; }

  /** True when a blob with this id is waiting in the unflushed pack. */
  has(idHex: string): boolean { return this.pendingIds.has(idHex) || (this.writing?.ids.has(idHex) ?? false); }

  /** Add an already sealed blob. */
  add(type: number, id: Buffer, sealed: Buffer, flags: number, rawLength: number): void {
    this.entries.push({ type, flags, id, offset: this.size, length: sealed.length, rawLength });
    const at = this.size - PACK_HEADER_SIZE;
    if (at + sealed.length > this.body.length) {
      // Room for the largest data blob (a 4 MiB chunk, sealed) past the target; larger blobs (a big commit) double it.
      const want = Math.max(this.targetSize + 4 * 1024 * 1024 + 64 * 1024, (at + sealed.length) * 2);
      // Its own memory (never the shared pool), so that it can be handed to the flusher.
      const grown = this.spare && this.spare.length >= at + sealed.length ? this.spare : Buffer.allocUnsafeSlow(want);
      if (grown === this.spare) this.spare = null;
      this.body.copy(grown, 0, 0, at);
      this.body = grown;
    }
    sealed.copy(this.body, at);
    this.size += sealed.length;
    this.pendingIds.add(id.toString('hex'));
  }

  /** True once the buffered pack has reached its target size. */
  get full(): boolean { return this.size >= this.targetSize; }

  /**
   * Start writing the pack on the flusher's thread (without a flusher: write it now).
   * `onWritten` is called on this thread once the pack is durable: during the next
   * flush, flushInBackground or {@link settle}. Until then its blobs count as here.
   */
  flushInBackground(onWritten: (p: WrittenPack) => void): void {
    if (!this.flusher) {
      const p = this.flush();
      if (p) onWritten(p);
      return;
    }
    this.settle();
    if (this.entries.length === 0) return;
    const trailer = this.sealer.encrypt(TRAILER_AAD, encodeBlobTable(this.entries));
    const body = this.body;
    this.flusher.start({
      vaultDir: this.vaultDir, header: packHeader(), buffer: body.buffer as ArrayBuffer, bodyLength: this.size - PACK_HEADER_SIZE,
      trailer: new Uint8Array(trailer), footer: new Uint8Array(packFooter(trailer.length)),
    });
    this.writing = { entries: this.entries, ids: this.pendingIds, onWritten };
    this.body = Buffer.allocUnsafe(0);
    this.entries = [];
    this.size = PACK_HEADER_SIZE;
    this.pendingIds = new Set();
  }

  /** Wait for the pack being written in the background, if any, and report it. */
  settle(): void {
    if (!this.writing || !this.flusher) return;
    const w = this.writing;
    let r;
    try {
      r = this.flusher.wait();
    } finally {
      this.writing = null;
    }
    this.spare = Buffer.from(r.buffer);
    w.onWritten({ name: r.name, size: r.size, blobs: w.entries });
  }

  /** Write the pack durably (after any pack still being written); null when empty. Resets the writer. */
  flush(): WrittenPack | null {
    this.settle();
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
