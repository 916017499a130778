/**
 * Little-endian binary writer and reader used by every on-disk structure
 * (pack trailers, journal commits). The reader bounds-checks every field so a crafted
 * or damaged structure fails with TM_FORMAT instead of reading past its end.
 */
import { TidemarkError } from './errors.js';

/** A growable little-endian byte writer. */
export class ByteWriter {
  private buf: Buffer;
  private len = 0;

  constructor(initial = 4096) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  u8(v: number): this { this.ensure(1); this.buf.writeUInt8(v, this.len); this.len += 1; return this; }
  u16(v: number): this { this.ensure(2); this.buf.writeUInt16LE(v, this.len); this.len += 2; return this; }
  u32(v: number): this { this.ensure(4); this.buf.writeUInt32LE(v, this.len); this.len += 4; return this; }
  u64(v: bigint | number): this { this.ensure(8); this.buf.writeBigUInt64LE(BigInt(v), this.len); this.len += 8; return this; }
  i64(v: bigint | number): this { this.ensure(8); this.buf.writeBigInt64LE(BigInt(v), this.len); this.len += 8; return this; }
  bytes(v: Uint8Array): this { this.ensure(v.length); this.buf.set(v, this.len); this.len += v.length; return this; }
  /** u32 length followed by the bytes. */
  lbytes(v: Uint8Array): this { return this.u32(v.length).bytes(v); }

  get length(): number { return this.len; }

  /** The bytes written so far (a copy-free view valid until the next write). */
  view(): Buffer { return this.buf.subarray(0, this.len); }
}

/** A bounds-checked little-endian reader over one buffer. */
export class ByteReader {
  private pos = 0;

  constructor(private readonly buf: Buffer, private readonly what: string) {}

  private need(n: number): void {
    if (this.pos + n > this.buf.length) {
      throw new TidemarkError('TM_FORMAT', `${this.what} is truncated or malformed (needs ${n} bytes at offset ${this.pos}, has ${this.buf.length - this.pos})`);
    }
  }

  u8(): number { this.need(1); const v = this.buf.readUInt8(this.pos); this.pos += 1; return v; }
  u16(): number { this.need(2); const v = this.buf.readUInt16LE(this.pos); this.pos += 2; return v; }
  u32(): number { this.need(4); const v = this.buf.readUInt32LE(this.pos); this.pos += 4; return v; }
  u64(): bigint { this.need(8); const v = this.buf.readBigUInt64LE(this.pos); this.pos += 8; return v; }
  i64(): bigint { this.need(8); const v = this.buf.readBigInt64LE(this.pos); this.pos += 8; return v; }
  /** A u64 that must fit a JS number exactly. */
  num64(): number {
    const v = this.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new TidemarkError('TM_FORMAT', `${this.what}: value ${v} out of range`);
    return Number(v);
  }
  bytes(n: number): Buffer { this.need(n); const v = this.buf.subarray(this.pos, this.pos + n); this.pos += n; return v; }
  lbytes(): Buffer { return this.bytes(this.u32()); }

  get remaining(): number { return this.buf.length - this.pos; }
  get offset(): number { return this.pos; }
}
