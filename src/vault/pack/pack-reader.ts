/**
 * Reads packs: the blob table from the trailer, and single blobs by offset. File handles
 * are cached, least recently used closed first (a restore reads many blobs from few packs,
 * an image's random reads many packs in turn), and all closed by `close()`.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { TidemarkError, isErrno, wrapIo } from '../../common/errors.js';
import type { Sealer } from '../crypto/sealer.js';
import { decodeBlobTable, packRelPath, PACK_FOOTER_MAGIC, PACK_FOOTER_SIZE, PACK_HEADER_SIZE, PACK_MAGIC, TRAILER_AAD, type BlobEntry } from './pack-format.js';

/** Most pack files kept open at once. */
const MAX_OPEN_PACKS = 128;
/** Sealed blobs up to this size are read into one reused buffer (they are opened synchronously). */
const SCRATCH_BYTES = 1024 * 1024;

export class PackReader {
  /** Open packs, least recently used first. */
  private readonly fds = new Map<string, number>();
  private scratch: Buffer | null = null;

  constructor(private readonly vaultDir: string, private readonly sealer: Sealer) {}

  private fd(name: string): number {
    let fd = this.fds.get(name);
    if (fd !== undefined) {
      this.fds.delete(name);
      this.fds.set(name, fd);
    } else {
      try {
        fd = openSync(join(this.vaultDir, packRelPath(name)), 'r');
      } catch (err) {
        if (isErrno(err, 'ENOENT')) {
          throw new TidemarkError('TM_CORRUPT', `pack ${name} is missing from the vault`, { details: { pack: name }, hint: 'run `tidemark verify` to see what it affects' });
        }
        throw wrapIo(err, `Cannot open pack ${name}`);
      }
      if (this.fds.size >= MAX_OPEN_PACKS) {
        const [oldest, oldFd] = this.fds.entries().next().value!;
        this.fds.delete(oldest);
        closeSync(oldFd);
      }
      this.fds.set(name, fd);
    }
    return fd;
  }

  /** Read `length` bytes at `offset` of a pack, exactly. */
  readRange(name: string, offset: number, length: number, into?: Buffer): Buffer {
    const buf = into && into.length >= length ? into.subarray(0, length) : Buffer.allocUnsafe(length);
    const fd = this.fd(name);
    let got = 0;
    while (got < length) {
      const n = readSync(fd, buf, got, length - got, offset + got);
      if (n === 0) throw new TidemarkError('TM_CORRUPT', `pack ${name} is truncated (wanted ${length} bytes at ${offset})`, { details: { pack: name } });
      got += n;
    }
    return buf;
  }

  /** Read and open a pack's blob table. */
  readTable(name: string): { size: number; blobs: BlobEntry[] } {
    const what = `pack ${name}`;
    const size = fstatSync(this.fd(name)).size;
    if (size < PACK_HEADER_SIZE + PACK_FOOTER_SIZE + 28) throw new TidemarkError('TM_CORRUPT', `${what} is too short (${size} bytes)`, { details: { pack: name } });
    const head = this.readRange(name, 0, PACK_HEADER_SIZE);
    if (!head.subarray(0, 4).equals(PACK_MAGIC)) throw new TidemarkError('TM_CORRUPT', `${what} does not start with the pack magic`, { details: { pack: name } });
    const foot = this.readRange(name, size - PACK_FOOTER_SIZE, PACK_FOOTER_SIZE);
    if (!foot.subarray(4).equals(PACK_FOOTER_MAGIC)) throw new TidemarkError('TM_CORRUPT', `${what} has no valid footer`, { details: { pack: name } });
    const tlen = foot.readUInt32LE(0);
    if (tlen + PACK_FOOTER_SIZE + PACK_HEADER_SIZE > size) throw new TidemarkError('TM_CORRUPT', `${what}: trailer length ${tlen} exceeds the pack`, { details: { pack: name } });
    const trailer = this.readRange(name, size - PACK_FOOTER_SIZE - tlen, tlen);
    try {
      return { size, blobs: decodeBlobTable(this.sealer.decrypt(TRAILER_AAD, trailer, `${what} trailer`), size, what) };
    } catch (err) {
      if (err instanceof TidemarkError) throw new TidemarkError('TM_CORRUPT', err.message, { details: { pack: name }, cause: err });
      throw err;
    }
  }

  /**
   * Read, decrypt (the tag authenticates the blob and its id) and decompress one blob (its
   * sealed bytes go through a reused buffer). Reads for restores and images skip
   * recomputing the id (`Sealer.open`); `verify --read-data` does not.
   */
  readBlob(pack: string, e: { id: Buffer; offset: number; length: number; flags: number; rawLength: number }, checkId = false): Buffer {
    if (e.length <= SCRATCH_BYTES) this.scratch ??= Buffer.allocUnsafeSlow(SCRATCH_BYTES);
    const sealed = this.readRange(pack, e.offset, e.length, e.length <= SCRATCH_BYTES ? this.scratch! : undefined);
    return this.sealer.open(e.id, sealed, e.flags, e.rawLength, `blob ${e.id.toString('hex').slice(0, 16)} in pack ${pack}`, checkId);
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}
