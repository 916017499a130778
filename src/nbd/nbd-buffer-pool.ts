/**
 * Reuse of READ reply buffers. Clients read in a few fixed sizes (nbdcopy: 256 KiB), and
 * allocating a fresh external buffer per request costs allocation and GC time on the hot
 * path; a buffer goes back to the pool once the socket has handed its bytes to the kernel.
 */

/** Buffers smaller than this come from Node's own slab allocator; pooling them gains nothing. */
const MIN_POOLED = 16 * 1024;

/** Free lists of buffers by exact size, bounded in total bytes. */
export class BufferPool {
  private readonly free = new Map<number, Buffer[]>();
  private freeBytes = 0;

  /** @param maxFreeBytes most bytes kept idle in the pool (beyond that, buffers are dropped). */
  constructor(private readonly maxFreeBytes: number) {}

  /** A buffer of exactly `size` bytes with unspecified contents. */
  get(size: number): Buffer {
    const list = this.free.get(size);
    const buf = list?.pop();
    if (buf === undefined) return Buffer.allocUnsafeSlow(size);
    this.freeBytes -= size;
    return buf;
  }

  /** Give `buf` back; the caller must not touch it afterwards. */
  release(buf: Buffer): void {
    if (buf.length < MIN_POOLED || this.freeBytes + buf.length > this.maxFreeBytes) return;
    let list = this.free.get(buf.length);
    if (list === undefined) {
      list = [];
      this.free.set(buf.length, list);
    }
    list.push(buf);
    this.freeBytes += buf.length;
  }

  /** Bytes currently idle in the pool. */
  get idleBytes(): number {
    return this.freeBytes;
  }
}
