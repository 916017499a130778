/**
 * The bytes received on one connection and not consumed yet, kept as the chunks the socket
 * delivered. Small fixed-size headers are taken without copying when they sit in one chunk;
 * payloads are copied once, straight into the buffer the request will carry.
 */
export class ByteQueue {
  private chunks: Buffer[] = [];
  /** Index of the first live chunk; consumed chunks before it are dropped in batches. */
  private head = 0;
  /** Bytes of chunks[head] already consumed. */
  private offset = 0;
  private total = 0;

  /** Bytes available. */
  get length(): number {
    return this.total;
  }

  /** Append a chunk; the queue keeps a reference, so the caller must not reuse it. */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.total += chunk.length;
  }

  /**
   * Remove and return the next `n` bytes (n ≤ length). The result may share memory with a
   * received chunk; callers parse it at once and keep nothing but copies.
   */
  take(n: number): Buffer {
    if (n > this.total) throw new RangeError(`take(${n}) with ${this.total} bytes queued`);
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[this.head]!;
    if (first.length - this.offset >= n) {
      const out = first.subarray(this.offset, this.offset + n);
      this.advance(n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    this.copyInto(out, 0, n);
    return out;
  }

  /** Copy up to `max` bytes into `target` at `at`, consuming them; returns how many. */
  copyInto(target: Buffer, at: number, max: number): number {
    let copied = 0;
    while (copied < max && this.total > 0) {
      const chunk = this.chunks[this.head]!;
      const n = Math.min(max - copied, chunk.length - this.offset);
      chunk.copy(target, at + copied, this.offset, this.offset + n);
      copied += n;
      this.advance(n);
    }
    return copied;
  }

  /** Drop everything (the connection is going away). */
  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.offset = 0;
    this.total = 0;
  }

  private advance(n: number): void {
    this.total -= n;
    this.offset += n;
    while (this.head < this.chunks.length && this.offset >= this.chunks[this.head]!.length) {
      this.offset -= this.chunks[this.head]!.length;
      this.head++;
    }
    // Compact now and then rather than shift() per chunk, which is O(n) each time.
    if (this.head > 64 || this.head === this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}
