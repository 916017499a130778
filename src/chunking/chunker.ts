/**
 * FastCDC-style content-defined chunking (Xia et al., "FastCDC", USENIX ATC 2016 / TPDS 2020):
 * a gear rolling hash, cut-point skipping below the minimum size and normalized chunking
 * (normalization level 2). The gear table is derived from a per-vault secret seed, so the
 * boundaries, and hence the chunk sizes an observer can see, reveal nothing about content
 * unless the seed is known.
 *
 * This file is the backup hot path: the scanning loop is kept free of allocations, closures
 * and non-integer arithmetic so that V8 compiles it to a tight 32-bit loop.
 */
import { hkdfSync } from 'node:crypto';
import { TidemarkError } from '../common/errors.js';
import type { ChunkerParams } from './chunker-api.js';

/** Bytes in the gear seed. */
export const GEAR_SEED_BYTES = 32;

/** Entries in a gear table: one per byte value. */
export const GEAR_TABLE_ENTRIES = 256;

/**
 * Bytes of the rolling window. A gear hash shifts left once per byte, so after 32 bytes
 * every earlier contribution has been shifted out of the 32-bit state: the hash at a byte
 * is a function of exactly the 32 bytes ending there.
 */
const WINDOW = 32;

/**
 * Normalization level: the mask used before the average size has two bits more than
 * log2(avgSize), the one used after it two bits fewer. Level 2 is what the FastCDC paper
 * recommends; it concentrates chunk sizes around avgSize, which dedup ratio depends on.
 */
const NORMALIZATION = 2;

const HKDF_INFO = 'tidemark/gear-table/v1';

/**
 * Derive the 256-entry gear table of a vault from its secret 32-byte seed.
 *
 * Exact derivation (normative; copied into docs/FORMAT.md):
 *
 * 1. `okm` = HKDF-SHA-256 (RFC 5869) with
 *    IKM = the 32 seed bytes,
 *    salt = empty (which RFC 5869 §2.2 defines as equal to 32 zero bytes),
 *    info = the 22 ASCII bytes `tidemark/gear-table/v1` (no terminator, no length prefix),
 *    L = 1024 bytes.
 * 2. For i = 0..255, `gear[i]` = the unsigned 32-bit integer read **little-endian** from
 *    `okm[4*i .. 4*i+3]`, i.e. `okm[4i] | okm[4i+1] << 8 | okm[4i+2] << 16 | okm[4i+3] << 24`.
 *
 * The result is independent of the host's byte order.
 *
 * @param seed - exactly 32 secret bytes, stored (encrypted) in the vault.
 * @returns a new table; callers may keep it.
 * @throws TidemarkError `TM_USAGE` if the seed is not 32 bytes long.
 */
export function gearTable(seed: Uint8Array): Uint32Array {
  if (seed.length !== GEAR_SEED_BYTES) {
    throw new TidemarkError('TM_USAGE', `gear seed must be ${GEAR_SEED_BYTES} bytes, got ${seed.length}`);
  }
  const okm = new DataView(hkdfSync('sha256', seed, new Uint8Array(0), HKDF_INFO, 4 * GEAR_TABLE_ENTRIES));
  const table = new Uint32Array(GEAR_TABLE_ENTRIES);
  for (let i = 0; i < GEAR_TABLE_ENTRIES; i++) table[i] = okm.getUint32(4 * i, true);
  return table;
}

/** Validated limits plus the two masks, computed once per chunker. */
interface Resolved {
  minSize: number;
  avgSize: number;
  maxSize: number;
  /** Stricter mask, for chunk lengths below avgSize (log2(avg) + 2 top bits), as an int32. */
  maskS: number;
  /** Looser mask, for chunk lengths from avgSize on (log2(avg) - 2 top bits), as an int32. */
  maskL: number;
}

/** Largest maxSize accepted: keeps avgSize <= 2^29, so the strict mask fits in 31 bits. */
const MAX_CHUNK_LIMIT = 1 << 30;
const MIN_CHUNK_LIMIT = 64;

function usage(message: string): TidemarkError {
  return new TidemarkError('TM_USAGE', `invalid chunker parameters: ${message}`, {
    hint: `need ${MIN_CHUNK_LIMIT} <= minSize < avgSize < maxSize <= ${MAX_CHUNK_LIMIT}, integers, avgSize a power of two`,
  });
}

/** The `n` most significant bits of a 32-bit word set, as an int32. */
function topBits(n: number): number {
  return (-1 << (WINDOW - n)) | 0;
}

function resolveParams(params: ChunkerParams): Resolved {
  const { minSize, avgSize, maxSize } = params;
  for (const [name, v] of [['minSize', minSize], ['avgSize', avgSize], ['maxSize', maxSize]] as const) {
    if (!Number.isSafeInteger(v)) throw usage(`${name} must be an integer, got ${String(v)}`);
  }
  if (minSize < MIN_CHUNK_LIMIT) throw usage(`minSize must be at least ${MIN_CHUNK_LIMIT}, got ${minSize}`);
  if (!(minSize < avgSize)) throw usage(`minSize (${minSize}) must be less than avgSize (${avgSize})`);
  if (!(avgSize < maxSize)) throw usage(`avgSize (${avgSize}) must be less than maxSize (${maxSize})`);
  if (maxSize > MAX_CHUNK_LIMIT) throw usage(`maxSize must be at most ${MAX_CHUNK_LIMIT}, got ${maxSize}`);
  if ((avgSize & (avgSize - 1)) !== 0) throw usage(`avgSize must be a power of two, got ${avgSize}`);
  const bits = 31 - Math.clz32(avgSize);
  return {
    minSize, avgSize, maxSize,
    maskS: topBits(bits + NORMALIZATION),
    maskL: topBits(bits - NORMALIZATION),
  };
}

/**
 * The loop wants signed 32-bit loads (a Uint32Array entry above 2^31 would be a double), so
 * the table is reinterpreted as Int32Array; the bits, and so the hash, are the same.
 */
function signedGear(gear: Uint32Array, copy: boolean): Int32Array {
  if (gear.length !== GEAR_TABLE_ENTRIES) {
    throw new TidemarkError('TM_USAGE', `gear table must have ${GEAR_TABLE_ENTRIES} entries, got ${gear.length}`);
  }
  return copy ? new Int32Array(gear) : new Int32Array(gear.buffer, gear.byteOffset, GEAR_TABLE_ENTRIES);
}

/**
 * The hash at the end of the last run that found no cut. A module-level slot instead of a
 * returned object keeps the hot functions allocation-free; JavaScript is single-threaded and
 * they do not re-enter, so the slot is read before anything else can overwrite it.
 */
let lastHash = 0;

/**
 * Roll the hash over `buf[i, stop)`, testing `mask` after every byte.
 * @returns the index just past the first byte whose hash matches, or -1 (hash in `lastHash`).
 */
function roll(buf: Uint8Array, i: number, stop: number, h: number, mask: number, gear: Int32Array): number {
  // Unrolled by 8: measured about 1.6x faster than the plain loop on V8 (fewer loop-carried
  // compares and branches per byte); the tail loop handles the last < 8 bytes.
  const stop8 = stop - 7;
  for (; i < stop8; i += 8) {
    h = ((h << 1) + gear[buf[i]]) | 0;
    if ((h & mask) === 0) return i + 1;
    h = ((h << 1) + gear[buf[i + 1]]) | 0;
    if ((h & mask) === 0) return i + 2;
    h = ((h << 1) + gear[buf[i + 2]]) | 0;
    if ((h & mask) === 0) return i + 3;
    h = ((h << 1) + gear[buf[i + 3]]) | 0;
    if ((h & mask) === 0) return i + 4;
    h = ((h << 1) + gear[buf[i + 4]]) | 0;
    if ((h & mask) === 0) return i + 5;
    h = ((h << 1) + gear[buf[i + 5]]) | 0;
    if ((h & mask) === 0) return i + 6;
    h = ((h << 1) + gear[buf[i + 6]]) | 0;
    if ((h & mask) === 0) return i + 7;
    h = ((h << 1) + gear[buf[i + 7]]) | 0;
    if ((h & mask) === 0) return i + 8;
  }
  for (; i < stop; i++) {
    h = ((h << 1) + gear[buf[i]]) | 0;
    if ((h & mask) === 0) return i + 1;
  }
  lastHash = h;
  return -1;
}

/**
 * Scan `buf[from, end)` as the continuation of a chunk that already holds `lenBefore` bytes
 * and whose rolling hash is `h` (0 at the start of a chunk).
 *
 * Let `L(i) = lenBefore + (i - from) + 1` be the chunk length if the chunk ends with `buf[i]`.
 * - Bytes with L(i) < minSize - 31 are skipped without hashing (cut-point skipping): they
 *   cannot influence any hash that is tested.
 * - The next 31 bytes only warm the hash up, so that the first hash tested, at
 *   L = minSize, already covers a full 32-byte window.
 * - At every L in [minSize, maxSize] the chunk ends after `buf[i]` if `(h & mask) === 0`,
 *   where mask is maskS for L < avgSize and maskL otherwise.
 * - If L reaches maxSize without a match the chunk is cut there.
 *
 * @returns the index in `buf` just past the chunk's last byte, or -1 if `end` was reached
 *   first (then `lastHash` holds the hash to resume with).
 */
function scan(
  buf: Uint8Array, from: number, end: number, lenBefore: number, h: number,
  gear: Int32Array, minSize: number, avgSize: number, maxSize: number, maskS: number, maskL: number,
): number {
  const base = lenBefore - from;
  const cap = maxSize - base;
  const stop = end < cap ? end : cap;
  let i = minSize - WINDOW - base;
  if (i < from) i = from;

  let e = minSize - 1 - base;
  if (e > stop) e = stop;
  for (; i < e; i++) h = ((h << 1) + gear[buf[i]]) | 0;

  e = avgSize - 1 - base;
  if (e > stop) e = stop;
  if (i < e) {
    const cut = roll(buf, i, e, h, maskS, gear);
    if (cut >= 0) return cut;
    h = lastHash;
    i = e;
  }
  if (i < stop) {
    const cut = roll(buf, i, stop, h, maskL, gear);
    if (cut >= 0) return cut;
  } else {
    lastHash = h;
  }
  return stop === cap ? cap : -1;
}

/**
 * Find where the chunk that starts at `buf[start]` ends, looking only at `buf[start, end)`.
 * Pure: the same arguments always give the same answer.
 *
 * The cut rule (normative; see docs/FORMAT.md): with `H(j)` the gear hash of the 32 bytes
 * ending at stream byte `j`, i.e. `(sum over k = 0..31 of gear[byte(j - k)] * 2^k) mod 2^32`,
 * a chunk starting at `s` has the smallest length `L` in `[minSize, maxSize]` for which
 * `H(s + L - 1) & mask(L) === 0`, where `mask(L)` keeps the top `log2(avgSize) + 2` bits of
 * the hash when `L < avgSize` and the top `log2(avgSize) - 2` bits otherwise. If no `L`
 * matches, `L = maxSize`. The last chunk of a stream may be shorter than minSize. Since
 * minSize >= 64, every tested window lies inside its chunk, so a cut never depends on bytes
 * of the previous chunk.
 *
 * @returns
 * - `L` in `[minSize, maxSize]`, when the chunk ends within the range: a matching cut-point
 *   at or before `end`, or `maxSize` when `end - start >= maxSize` and nothing matched;
 * - `0` when the range does not decide it (fewer than `maxSize` bytes and no cut-point,
 *   including `end - start < minSize`): append more bytes and call again, or, at the end of
 *   the stream, take all of `[start, end)` as the final chunk.
 *
 * Chunking a whole buffer is `while ((L = findBoundary(buf, pos, buf.length, ...)) > 0)
 * pos += L`, then `[pos, length)` if non-empty; {@link Chunker} yields exactly those chunks
 * however the stream is split into pushes.
 *
 * @throws TidemarkError `TM_USAGE` for invalid params, a gear table that is not 256
 *   entries, or a range outside `buf`.
 */
export function findBoundary(
  buf: Uint8Array, start: number, end: number, params: ChunkerParams, gear: Uint32Array,
): number {
  const p = resolveParams(params);
  // A view, not a copy: this runs once per chunk and the table is only read.
  const g = signedGear(gear, false);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || start > end || end > buf.length) {
    throw new TidemarkError('TM_USAGE', `findBoundary: range [${start}, ${end}) is not within a buffer of ${buf.length} bytes`);
  }
  const cut = scan(buf, start, end, 0, 0, g, p.minSize, p.avgSize, p.maxSize, p.maskS, p.maskL);
  return cut < 0 ? 0 : cut - start;
}

/** Pushes shorter than this are copied into a staging buffer rather than kept as views. */
const COALESCE_BELOW = 64 * 1024;

/**
 * Streaming chunker: feed a stream in blocks of any size with {@link Chunker.push}, then
 * call {@link Chunker.finish}. The chunks are the same whatever the block sizes (the rule is
 * described at {@link findBoundary}).
 *
 * Copying is kept to the minimum: a chunk that lies within one pushed block is returned as
 * a `subarray` of it; only a chunk that spans blocks is assembled into fresh memory, once.
 */
export class Chunker {
  private readonly gear: Int32Array;
  private readonly minSize: number;
  private readonly avgSize: number;
  private readonly maxSize: number;
  private readonly maskS: number;
  private readonly maskL: number;

  /** The pending (incomplete) chunk: large blocks as views, then the staging buffer. */
  private parts: Uint8Array[] = [];
  private stage: Uint8Array | null = null;
  private stageLen = 0;
  private pendingLen = 0;
  /** Rolling hash over the pending chunk's tail, to resume exactly where the last push stopped. */
  private hash = 0;

  /**
   * @param params - chunk size limits; validated here.
   * @param gear - the vault's table from {@link gearTable}; copied, so later changes to it
   *   have no effect.
   * @throws TidemarkError `TM_USAGE` for invalid params or a table that is not 256 entries.
   */
  constructor(params: ChunkerParams, gear: Uint32Array) {
    const p = resolveParams(params);
    this.gear = signedGear(gear, true);
    this.minSize = p.minSize;
    this.avgSize = p.avgSize;
    this.maxSize = p.maxSize;
    this.maskS = p.maskS;
    this.maskL = p.maskL;
  }

  /**
   * Feed the next bytes of the stream.
   *
   * **Takes ownership of `data`:** returned chunks and the pending tail may be views into
   * it, so the caller must not modify or reuse its memory afterwards (read each block into
   * a fresh buffer). Conversely, every returned chunk stays valid and unchanged after later
   * calls, and may be kept; note that a view keeps its whole block alive, so `slice()` chunks
   * that are held long after the block would otherwise be freed.
   *
   * @returns the chunks completed by these bytes, in stream order; often none.
   */
  push(data: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    const n = data.length;
    if (n === 0) return out;
    const { gear, minSize, avgSize, maxSize, maskS, maskL } = this;
    let pos = 0;

    if (this.pendingLen > 0) {
      const cut = scan(data, 0, n, this.pendingLen, this.hash, gear, minSize, avgSize, maxSize, maskS, maskL);
      if (cut < 0) {
        this.hash = lastHash;
        this.append(data);
        return out;
      }
      out.push(this.takePending(data.subarray(0, cut)));
      pos = cut;
    }

    while (pos < n) {
      const cut = scan(data, pos, n, 0, 0, gear, minSize, avgSize, maxSize, maskS, maskL);
      if (cut < 0) {
        this.hash = lastHash;
        this.append(data.subarray(pos));
        break;
      }
      out.push(data.subarray(pos, cut));
      pos = cut;
    }
    return out;
  }

  /**
   * End the stream: returns the final chunk (possibly shorter than minSize), or null when
   * no bytes are pending, and resets the chunker so it can take a new stream.
   */
  finish(): Uint8Array | null {
    const last = this.pendingLen > 0 ? this.takePending(null) : null;
    this.reset();
    return last;
  }

  private reset(): void {
    this.parts = [];
    this.stage = null;
    this.stageLen = 0;
    this.pendingLen = 0;
    this.hash = 0;
  }

  /**
   * Keep bytes of the incomplete chunk. Large blocks are held as views (owned, so safe);
   * small ones are copied together so that byte-sized pushes do not build a list of
   * millions of views.
   */
  private append(bytes: Uint8Array): void {
    this.pendingLen += bytes.length;
    if (bytes.length >= COALESCE_BELOW) {
      this.sealStage();
      this.parts.push(bytes);
      return;
    }
    const need = this.stageLen + bytes.length;
    if (this.stage === null || need > this.stage.length) {
      // Grow geometrically, never beyond what one chunk can hold.
      const cap = Math.min(Math.max(need, 2 * (this.stage?.length ?? 0), 16 * 1024), this.maxSize);
      const grown = new Uint8Array(cap);
      if (this.stage !== null) grown.set(this.stage.subarray(0, this.stageLen));
      this.stage = grown;
    }
    this.stage.set(bytes, this.stageLen);
    this.stageLen = need;
  }

  /** Move the staging buffer into `parts`; it is never written again after this. */
  private sealStage(): void {
    if (this.stage !== null && this.stageLen > 0) this.parts.push(this.stage.subarray(0, this.stageLen));
    this.stage = null;
    this.stageLen = 0;
  }

  /** Assemble the pending bytes plus `head` (the chunk's end) into one fresh chunk. */
  private takePending(head: Uint8Array | null): Uint8Array {
    const total = this.pendingLen + (head === null ? 0 : head.length);
    let chunk: Uint8Array;
    if (this.parts.length === 0 && this.stage !== null && this.stage.length >= total) {
      // All pending bytes are staged and the rest fits: finish in place, no second copy.
      chunk = this.stage.subarray(0, total);
      if (head !== null) chunk.set(head, this.stageLen);
    } else {
      chunk = new Uint8Array(total);
      let off = 0;
      for (const part of this.parts) {
        chunk.set(part, off);
        off += part.length;
      }
      if (this.stage !== null) {
        chunk.set(this.stage.subarray(0, this.stageLen), off);
        off += this.stageLen;
      }
      if (head !== null) chunk.set(head, off);
    }
    // The returned chunk may alias the staging buffer, so drop it rather than reuse it.
    this.reset();
    return chunk;
  }
}
