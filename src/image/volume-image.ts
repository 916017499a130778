/**
 * A volume group as of one recovery point, read block by block from the index's
 * per-block version lists (one seek per block, whatever the journal's length) and the
 * vault's chunks (opened and verified on read, then kept in a byte-bounded ChunkCache).
 */
import { TidemarkError } from '../common/errors.js';
import { ChunkCache } from './chunk-cache.js';
import { VolumeIndex, type BlockRef } from '../vault/index/volume-index.js';
import { VOLUME_BLOCK } from '../vault/journal/journal-record.js';
import type { Vault } from '../vault/vault.js';
import type { ResolvedPoint } from './point.js';

/** Most blocks looked up by one index query (4 MiB of the volume). */
const QUERY_BLOCKS = 1024;

export interface VolumeImageOptions {
  /** Where opened chunks are kept; share one among the images of a vault. Default: a cache of its own (256 MiB). */
  cache?: ChunkCache;
}

export class VolumeImage {
  readonly size: number;
  private readonly volumes: VolumeIndex;
  private readonly cache: ChunkCache;
  private readonly openChunk = (id: Buffer): Buffer => this.vault.readBlob(id);

  constructor(private readonly vault: Vault, readonly point: ResolvedPoint, opts: VolumeImageOptions = {}) {
    this.volumes = new VolumeIndex(vault.index);
    this.cache = opts.cache ?? new ChunkCache();
    const base = this.volumes.baselineAt(point.groupId, point.seq);
    if (!this.volumes.isVolume(point.groupId)) {
      throw new TidemarkError('TM_USAGE', `Group "${point.group}" is a directory tree, not a volume`, { hint: 'use `tidemark restore` or `tidemark ls` for file groups' });
    }
    if (!base || base.endSeq === null || point.seq < base.endSeq) {
      const next = this.firstConsistentAfter(point.seq);
      throw new TidemarkError('TM_BAD_POINT', `seq:${point.seq} of group "${point.group}" lies inside a baseline: the volume was never in that state`, {
        hint: next ? `the next consistent point is seq:${next}` : 'wait for the baseline to finish (see `tidemark timeline`)',
      });
    }
    this.size = base.size;
  }

  private firstConsistentAfter(seq: number): number | undefined {
    const r = this.vault.index.db
      .prepare('SELECT min(end_seq) AS s FROM vbaselines WHERE group_id = ? AND end_seq IS NOT NULL AND end_seq >= ?')
      .get(this.point.groupId, seq) as { s: number | null };
    return r.s ?? undefined;
  }

  /** Fill `into` with the image's bytes from `offset` (block-aligned or not). */
  read(offset: number, into: Buffer): void {
    if (offset < 0 || offset + into.length > this.size) throw new TidemarkError('TM_USAGE', `read beyond the image (${offset}+${into.length} > ${this.size})`);
    if (into.length === 0) return;
    const { groupId, seq } = this.point;
    const last = Math.floor((offset + into.length - 1) / VOLUME_BLOCK);
    let done = 0;
    // A one-block read is one seek; longer ones look up to QUERY_BLOCKS blocks per query.
    for (let first = Math.floor(offset / VOLUME_BLOCK); first <= last; first += QUERY_BLOCKS) {
      const count = Math.min(QUERY_BLOCKS, last - first + 1);
      const refs = count === 1 ? [this.volumes.blockAt(groupId, first, seq)] : this.volumes.blocksAt(groupId, first, count, seq);
      for (let i = 0; i < count; i++) {
        const at = offset + done;
        const within = at - (first + i) * VOLUME_BLOCK;
        const n = Math.min(VOLUME_BLOCK - within, into.length - done);
        this.copyBlock(first + i, refs[i], within, into, done, n);
        done += n;
      }
    }
  }

  /** Copy bytes [within, within + n) of `block` (whose version is `ref`) to `into` at `at`. */
  private copyBlock(block: number, ref: BlockRef | undefined, within: number, into: Buffer, at: number, n: number): void {
    if (!ref || !ref.chunk) {
      into.fill(0, at, at + n);
      return;
    }
    const chunk = this.cache.get(ref.chunk, this.openChunk);
    const from = ref.coff * VOLUME_BLOCK + within;
    if (from + n > chunk.length) {
      throw new TidemarkError('TM_CORRUPT', `chunk ${ref.chunk.toString('hex').slice(0, 16)} is shorter than block ${block} of group "${this.point.group}" needs`, {
        hint: 'run `tidemark verify --read-data`',
      });
    }
    chunk.copy(into, at, from, from + n);
  }
}
