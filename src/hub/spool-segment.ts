/**
 * One spool segment: a commit the hub acknowledged, with the blobs it received for it
 * (docs/FORMAT.md, "Hub spool"):
 *
 *   "TMSG" | version u8 (=1) | offer JSON (u32 len + UTF-8) | blobs to the end of the file,
 *   each type u8 | flags u8 | id (32) | raw length u32 | sealed (u32 len + bytes), commit last
 *
 * SegmentWriter streams one into a temporary file as batches arrive and makes it durable
 * with the steps of writeFileDurable spread over the stream (fsync, rename, fsync dir);
 * scanSegment indexes one at start.
 */
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { ByteReader, ByteWriter } from '../common/byte-io.js';
import { TidemarkError, wrapIo } from '../common/errors.js';
import { fsyncDir } from '../common/durable-file.js';
import { OfferSchema, type Offer, type WireBlob } from '../wire/messages.js';

const MAGIC = Buffer.from('TMSG');

/** Where a blob lies in a segment file. */
export interface BlobLoc { type: number; flags: number; rawLength: number; offset: number; length: number }

/**
 * Index a segment file: its offer and where each blob lies. Reads only the headers (the
 * sealed bytes are skipped), so a large spool is indexed at start without loading it.
 */
export function scanSegment(file: string): { offer: Offer; locs: [string, BlobLoc][]; size: number } {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const read = (pos: number, n: number): Buffer => {
      if (pos + n > size) throw new TidemarkError('TM_CORRUPT', `spool segment ${file} is truncated at byte ${pos}`);
      const b = Buffer.allocUnsafe(n);
      let got = 0;
      while (got < n) {
        const k = readSync(fd, b, got, n - got, pos + got);
        if (k === 0) throw new TidemarkError('TM_CORRUPT', `spool segment ${file} is truncated at byte ${pos + got}`);
        got += k;
      }
      return b;
    };
    const head = read(0, 9);
    if (!head.subarray(0, 4).equals(MAGIC) || head[4] !== 1) throw new TidemarkError('TM_CORRUPT', `${file} is not a spool segment`);
    const jsonLen = head.readUInt32LE(5);
    const offer = OfferSchema.parse(JSON.parse(read(9, jsonLen).toString('utf8')));
    const locs: [string, BlobLoc][] = [];
    for (let pos = 9 + jsonLen; pos < size;) {
      const r = new ByteReader(read(pos, 42), `spool segment ${file}`);
      const type = r.u8(), flags = r.u8(), id = r.bytes(32), rawLength = r.u32(), length = r.u32();
      if (pos + 42 + length > size) throw new TidemarkError('TM_CORRUPT', `spool segment ${file}: blob at byte ${pos} runs past the end`);
      locs.push([id.toString('hex'), { type, flags, rawLength, offset: pos + 42, length }]);
      pos += 42 + length;
    }
    return { offer, locs, size };
  } finally {
    closeSync(fd);
  }
}

/** A segment being received, in `.tmp-<12 hex>.seg` beside its final name. */
export class SegmentWriter {
  /** ids of the blobs appended so far */
  readonly sent = new Set<string>();
  readonly locs: [string, BlobLoc][] = [];
  size = 0;
  private readonly tmp: string;
  private readonly fd: number;
  private closed = false;

  constructor(readonly final: string, offer: Offer) {
    this.tmp = join(dirname(final), `.tmp-${randomBytes(6).toString('hex')}.seg`);
    this.fd = openSync(this.tmp, 'wx', 0o600);
    this.write(Buffer.from(new ByteWriter(1024).bytes(MAGIC).u8(1).lbytes(Buffer.from(JSON.stringify(offer))).view()));
  }

  private write(b: Buffer): void {
    let off = 0;
    while (off < b.length) off += writeSync(this.fd, b, off);
    this.size += b.length;
  }

  append(blobs: readonly WireBlob[]): void {
    for (const b of blobs) {
      const hex = b.id.toString('hex');
      this.sent.add(hex);
      this.write(Buffer.from(new ByteWriter(46).u8(b.type).u8(b.flags).bytes(b.id).u32(b.rawLength).u32(b.sealed.length).view()));
      this.locs.push([hex, { type: b.type, flags: b.flags, rawLength: b.rawLength, offset: this.size, length: b.sealed.length }]);
      this.write(b.sealed);
    }
  }

  /** Append the commit blob and make the segment durable under its final name. */
  commit(commit: WireBlob): void {
    this.append([commit]);
    try {
      fsyncSync(this.fd);
      closeSync(this.fd);
      this.closed = true;
      renameSync(this.tmp, this.final);
      fsyncDir(dirname(this.final));
    } catch (err) {
      this.abort();
      throw wrapIo(err, `Cannot write the spool segment ${this.final}`);
    }
  }

  /** Forget the segment (a temporary file left by a crash is removed at the next start). */
  abort(): void {
    if (!this.closed) { this.closed = true; closeSync(this.fd); }
    try { unlinkSync(this.tmp); } catch { /* renamed already, or never mind */ }
  }
}
