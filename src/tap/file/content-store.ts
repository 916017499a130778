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
import { closeSync, fstatSync, lstatSync, openSync, readSync, constants as fsc } from 'node:fs';
import { findBoundary, gearTable } from '../../chunking/chunker.js';
import type { ChunkerParams } from '../../chunking/chunker-api.js';
import type { Vault } from '../../vault/vault.js';
import type { Extent } from '../../vault/journal/journal-record.js';
import type { BigIntStats } from 'node:fs';

const READ_SIZE = 4 * 1024 * 1024;
const MAX_ATTEMPTS = 4;
/**
 * A file changed less than this before a read began may have been written again within
 * the same clock tick during the read (the kernel stamps ctime with a coarse clock), which
 * no stat comparison can see: such a read is not trusted (at least one tick at HZ = 100).
 */
const RACY_NS = 10_000_000n;

export interface CapturedContent {
  extents: Extent[];
  /** stat taken when reading finished (the state the content belongs to) */
  stat: BigIntStats;
  bytesRead: number;
  /** true when the file kept changing during every attempt: `extents` may mix several of its states */
  unstable: boolean;
  /** wall time (ms) when the read returned began */
  startedMs: number;
}

/** A read of a large file left unfinished by its deadline, resumed by `captureSlice`. */
export interface PartialRead {
  fd: number;
  /** stat when the read began */
  before: BigIntStats;
  /** wall clock (ns) when the read began */
  startNs: bigint;
  /** file offset read up to */
  pos: number;
  extents: Extent[];
  /** bytes read but not cut into chunks yet (the chunker's window) */
  carry: Buffer;
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

const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n;
const sleepArray = new Int32Array(new SharedArrayBuffer(4));

/**
 * Whether a read that began at `startNs` with stat `before` and ended with stat `after` at
 * offset `pos` saw one state of the file: `stable`, `changed`, or `racy`: the file changed
 * less than RACY_NS before the read began, so a write during the read may have left ctime
 * as it was (the kernel stamps it with a coarse clock) and the read cannot be trusted;
 * reading it again after `waitMs` settles it.
 */
function checkRead(before: BigIntStats, after: BigIntStats, startNs: bigint, pos: number): { state: 'stable' | 'changed' } | { state: 'racy'; waitMs: number } {
  if (!sameStat(before, after) || BigInt(pos) !== after.size) return { state: 'changed' };
  // ctime, not mtime: only the kernel sets it (utimes cannot put it in the past or future).
  // (A ctime more than a second ahead of the clock is a clock step, not a write in progress.)
  const racyFor = after.ctimeNs + RACY_NS - startNs;
  if (racyFor <= 0n || racyFor > RACY_NS + 1_000_000_000n) return { state: 'stable' };
  return { state: 'racy', waitMs: Math.min(Math.ceil(Number(racyFor) / 1e6), Number(RACY_NS / 1_000_000n) + 1) };
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
   * Read `fd` from `r.pos` on, cutting and storing chunks into `r.extents`, until the end of
   * the file or until `pause()` says stop (checked after each read). Returns true at the end
   * of the file; otherwise the unchunked bytes are kept in `r.carry` for the next call.
   * One reusable window, cut in place with findBoundary: every chunk is consumed (hashed,
   * and copied or sealed) before the window moves. Cuts are exactly those of the streaming
   * Chunker, however the read is split.
   */
  private readOn(r: PartialRead, onBytes: ((n: number) => void) | undefined, pause: () => boolean): { eof: boolean; bytesRead: number } {
    const buf = this.window;
    r.carry.copy(buf, 0);
    let start = 0;
    let end = r.carry.length;
    let bytesRead = 0;
    let eof = false;
    for (;;) {
      while (!eof && end < buf.length) {
        const n = readSync(r.fd, buf, end, buf.length - end, r.pos);
        if (n === 0) { eof = true; break; }
        end += n;
        r.pos += n;
        bytesRead += n;
        onBytes?.(n);
      }
      for (let len = findBoundary(buf, start, end, this.params, this.gear); len > 0; len = findBoundary(buf, start, end, this.params, this.gear)) {
        this.storeChunk(buf.subarray(start, start + len), r.extents);
        start += len;
      }
      if (eof) {
        if (start < end) this.storeChunk(buf.subarray(start, end), r.extents);
        r.carry = Buffer.alloc(0);
        return { eof, bytesRead };
      }
      if (pause()) {
        r.carry = Buffer.from(buf.subarray(start, end));
        return { eof, bytesRead };
      }
      buf.copyWithin(0, start, end);
      end -= start;
      start = 0;
    }
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
      let racyRetried = false;
      for (let attempt = 1; ; attempt++) {
        const r = this.begin(fd);
        bytesRead += this.readOn(r, onBytes, () => false).bytesRead;
        const after = fstatSync(fd, { bigint: true });
        const check = checkRead(r.before, after, r.startNs, r.pos);
        if (check.state === 'racy' && !racyRetried) {
          // Once per call, and not counted as an attempt: wait out the clock tick, read again.
          racyRetried = true;
          attempt--;
          Atomics.wait(sleepArray, 0, 0, check.waitMs);
          continue;
        }
        const stable = check.state === 'stable';
        if (stable || attempt >= attempts) return { extents: r.extents, stat: after, bytesRead, unstable: !stable, startedMs: Number(r.startNs / 1_000_000n) };
      }
    } finally {
      closeSync(fd);
    }
  }

  private begin(fd: number): PartialRead {
    return { fd, before: fstatSync(fd, { bigint: true }), startNs: nowNs(), pos: 0, extents: [], carry: Buffer.alloc(0) };
  }

  /**
   * Capture a large file a slice at a time: read from where `partial` left off (or from the
   * start) until the end of the file or until `deadline` (ms, wall clock). Unfinished, the
   * read is returned to be resumed by a later call (its descriptor stays open: call
   * `abandon` to drop it); finished, the content as `capture` returns it after one attempt.
   * A file replaced since the read began (another inode) is read again from the start.
   */
  captureSlice(path: Buffer | string, partial: PartialRead | undefined, deadline: number, onBytes?: (n: number) => void):
    { done: CapturedContent } | { partial: PartialRead; bytesRead: number } {
    let r = partial;
    if (r) {
      let replaced = true;
      try { replaced = fstatSync(r.fd, { bigint: true }).ino !== lstatSync(path, { bigint: true }).ino; } catch { /* gone: start over, which reports it */ }
      if (replaced) { ContentStore.abandon(r); r = undefined; }
    }
    if (!r) r = this.begin(openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NOATIME));
    let bytesRead: number;
    try {
      const out = this.readOn(r, onBytes, () => Date.now() >= deadline);
      bytesRead = out.bytesRead;
      if (!out.eof) return { partial: r, bytesRead };
      const after = fstatSync(r.fd, { bigint: true });
      const stable = checkRead(r.before, after, r.startNs, r.pos).state === 'stable';
      ContentStore.abandon(r);
      return { done: { extents: r.extents, stat: after, bytesRead, unstable: !stable, startedMs: Number(r.startNs / 1_000_000n) } };
    } catch (err) {
      ContentStore.abandon(r);
      throw err;
    }
  }

  /** Close an unfinished slice read. */
  static abandon(r: PartialRead): void {
    try { closeSync(r.fd); } catch { /* already closed */ }
  }
}
