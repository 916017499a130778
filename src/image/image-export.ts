/**
 * An image served over NBD: a volume group as of one point, read-only, or read/write
 * through a copy-on-write overlay (a sparse file of changed blocks plus a block map) that
 * never touches the journal. The overlay is deleted when the image closes unless the user
 * named it (`--overlay FILE`), in which case it is kept and reused on the next start.
 */
import { closeSync, fdatasyncSync, ftruncateSync, openSync, readFileSync, readSync, unlinkSync, writeSync, constants } from 'node:fs';
import { TidemarkError, isErrno, wrapIo } from '../common/errors.js';
import { writeFileDurable } from '../common/durable-file.js';
import type { NbdExport } from '../nbd/nbd-export.js';
import { VOLUME_BLOCK } from '../vault/journal/journal-record.js';
import type { VolumeImage } from './volume-image.js';

const MAP_MAGIC = Buffer.from('TMOV');

/** A copy-on-write overlay: blocks written to the image, in a sparse file at their own offsets. */
class Overlay {
  private readonly fd: number;
  private readonly map: Uint8Array;
  private dirty = false;

  constructor(readonly path: string, readonly size: number, readonly keep: boolean, readonly base: string) {
    const blocks = size / VOLUME_BLOCK;
    this.map = new Uint8Array(Math.ceil(blocks / 8));
    if (keep) this.loadMap();
    try {
      this.fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
      ftruncateSync(this.fd, size);
    } catch (err) {
      throw wrapIo(err, `Cannot create the overlay ${path}`);
    }
  }

  private loadMap(): void {
    let buf: Buffer;
    try { buf = readFileSync(`${this.path}.map`); } catch (err) { if (isErrno(err, 'ENOENT')) return; throw wrapIo(err, `Cannot read ${this.path}.map`); }
    const header = Buffer.from(this.base);
    if (buf.length < 4 + 8 + 2 || !buf.subarray(0, 4).equals(MAP_MAGIC) || Number(buf.readBigUInt64LE(4)) !== this.size
      || !buf.subarray(14, 14 + buf.readUInt16LE(12)).equals(header) || buf.length !== 14 + header.length + this.map.length) {
      throw new TidemarkError('TM_USAGE', `The overlay ${this.path} belongs to another image (other point or size)`, { hint: 'name a new --overlay file, or delete this one and its .map' });
    }
    this.map.set(buf.subarray(14 + header.length));
  }

  has(block: number): boolean { return (this.map[block >> 3]! & (1 << (block & 7))) !== 0; }

  read(offset: number, into: Buffer, at: number, n: number): void {
    let done = 0;
    while (done < n) {
      const k = readSync(this.fd, into, at + done, n - done, offset + done);
      if (k === 0) { into.fill(0, at + done, at + n); return; }
      done += k;
    }
  }

  write(offset: number, data: Uint8Array): void {
    let done = 0;
    while (done < data.length) done += writeSync(this.fd, data, done, data.length - done, offset + done);
    for (let b = offset / VOLUME_BLOCK; b < (offset + data.length) / VOLUME_BLOCK; b++) this.map[b >> 3]! |= 1 << (b & 7);
    this.dirty = true;
  }

  flush(): void {
    if (!this.keep || !this.dirty) return;
    fdatasyncSync(this.fd);
    const header = Buffer.from(this.base);
    const out = Buffer.alloc(14 + header.length + this.map.length);
    MAP_MAGIC.copy(out, 0);
    out.writeBigUInt64LE(BigInt(this.size), 4);
    out.writeUInt16LE(header.length, 12);
    header.copy(out, 14);
    Buffer.from(this.map.buffer, this.map.byteOffset, this.map.byteLength).copy(out, 14 + header.length);
    writeFileDurable(`${this.path}.map`, out, 0o600);
    this.dirty = false;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
    if (!this.keep) {
      try { unlinkSync(this.path); } catch { /* already gone */ }
    }
  }
}

export interface ImageExportOptions {
  /** serve read/write through a copy-on-write overlay */
  rw?: boolean;
  /** the overlay file: kept (and reused) when given, else a temp file deleted on close */
  overlay?: string;
  /** where temp overlays go */
  tmpDir?: string;
}

export class ImageExport implements NbdExport {
  readonly readOnly: boolean;
  readonly multiConn = true;
  readonly description: string;
  private readonly overlay: Overlay | null;

  constructor(private readonly image: VolumeImage, opts: ImageExportOptions = {}) {
    this.readOnly = !opts.rw;
    const p = image.point;
    this.description = `tidemark image of group ${p.group} at seq:${p.seq} (${new Date(p.time).toISOString()})${opts.rw ? ', read/write overlay' : ''}`;
    const tmp = `${opts.tmpDir ?? '/tmp'}/tidemark-overlay-${process.pid}-${Date.now()}.img`;
    this.overlay = opts.rw ? new Overlay(opts.overlay ?? tmp, image.size, opts.overlay !== undefined, `${p.group}@${p.seq}`) : null;
  }

  get name(): string { return this.image.point.group; }
  get size(): number { return this.image.size; }

  read(offset: number, into: Buffer): Promise<void> {
    const ov = this.overlay;
    if (!ov) {
      this.image.read(offset, into);
      return Promise.resolve();
    }
    // Runs of blocks from the overlay or from the point, in order.
    let done = 0;
    while (done < into.length) {
      const at = offset + done;
      const block = Math.floor(at / VOLUME_BLOCK);
      const inOverlay = ov.has(block);
      let end = Math.min(offset + into.length, (block + 1) * VOLUME_BLOCK);
      while (end < offset + into.length && ov.has(end / VOLUME_BLOCK) === inOverlay) end = Math.min(offset + into.length, end + VOLUME_BLOCK);
      if (inOverlay) ov.read(at, into, done, end - at);
      else this.image.read(at, into.subarray(done, done + end - at));
      done += end - at;
    }
    return Promise.resolve();
  }

  async write(offset: number, data: Buffer, fua: boolean): Promise<void> {
    const ov = this.requireOverlay();
    const start = Math.floor(offset / VOLUME_BLOCK) * VOLUME_BLOCK;
    const end = Math.ceil((offset + data.length) / VOLUME_BLOCK) * VOLUME_BLOCK;
    let buf = data;
    if (start !== offset || end !== offset + data.length) {
      buf = Buffer.allocUnsafe(end - start);
      await this.read(start, buf.subarray(0, VOLUME_BLOCK));
      if (end - start > VOLUME_BLOCK) await this.read(end - VOLUME_BLOCK, buf.subarray(end - start - VOLUME_BLOCK));
      data.copy(buf, offset - start);
    }
    ov.write(start, buf);
    if (fua) ov.flush();
  }

  async writeZeroes(offset: number, length: number, fua: boolean): Promise<void> {
    for (let at = offset; at < offset + length;) {
      const n = Math.min(1024 * 1024, offset + length - at);
      await this.write(at, Buffer.alloc(n), false);
      at += n;
    }
    if (fua) this.requireOverlay().flush();
  }

  /** Advisory in NBD: the overlay keeps its bytes. */
  trim(): Promise<void> {
    this.requireOverlay();
    return Promise.resolve();
  }

  flush(): Promise<void> {
    this.overlay?.flush();
    return Promise.resolve();
  }

  private requireOverlay(): Overlay {
    if (!this.overlay) throw new TidemarkError('TM_USAGE', 'the image is read-only (start it with --rw for a copy-on-write overlay)');
    return this.overlay;
  }

  close(): void {
    this.overlay?.close();
  }
}
