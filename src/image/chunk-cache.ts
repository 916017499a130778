/**
 * ChunkCache: opened (decrypted, decompressed, verified) chunks kept for reuse, bounded in
 * bytes, least recently used dropped first. Chunks are content-addressed, so one cache may
 * serve images of any points and groups of one vault: an id always names the same bytes.
 */

/** Default bound of an image's chunk cache: 256 MiB (4096 chunks of the volume tap's 64 KiB). */
export const DEFAULT_CHUNK_CACHE_BYTES = 256 * 1024 * 1024;

export class ChunkCache {
  /** Chunks by id (as a latin1 string), least recently used first. */
  private readonly chunks = new Map<string, Buffer>();
  private held = 0;

  /** @param maxBytes most chunk bytes held; a chunk larger than this is never kept. */
  constructor(readonly maxBytes = DEFAULT_CHUNK_CACHE_BYTES) {}

  /** Bytes of chunks held now. */
  get bytes(): number { return this.held; }

  /** Chunks held now. */
  get size(): number { return this.chunks.size; }

  /** The chunk `id`, from the cache or from `open(id)` (then kept). */
  get(id: Buffer, open: (id: Buffer) => Buffer): Buffer {
    const key = id.toString('latin1');
    const hit = this.chunks.get(key);
    if (hit !== undefined) {
      this.chunks.delete(key);
      this.chunks.set(key, hit);
      return hit;
    }
    const data = open(id);
    if (data.length <= this.maxBytes) {
      this.chunks.set(key, data);
      this.held += data.length;
      for (const [k, old] of this.chunks) {
        if (this.held <= this.maxBytes) break;
        this.chunks.delete(k);
        this.held -= old.length;
      }
    }
    return data;
  }

  clear(): void {
    this.chunks.clear();
    this.held = 0;
  }
}
