/**
 * The index of volume groups: per-block version lists answer "which chunk held block B
 * at seq N" with one B-tree seek, whatever the journal's length, and the baseline windows
 * say which points are states the volume was really in.
 */
import type { IndexDb } from './index-db.js';
import type { BlockRun, CompactedVolume } from '../journal/journal-record.js';

/** Where one block's bytes were at some seq: in a chunk (at block `coff` of it) or zeros. */
export interface BlockRef {
  chunk: Buffer | null;
  coff: number;
  seq: number;
}

/** A baseline window: [startSeq, endSeq); endSeq null while (or if) it never finished. */
export interface Baseline {
  startSeq: number;
  endSeq: number | null;
  size: number;
}

/** Volume queries and updates over one index. */
export class VolumeIndex {
  constructor(private readonly index: IndexDb) {}

  /** The block's version at or before `seq`; undefined when never written (reads as zeros). */
  blockAt(groupId: number, block: number, seq: number): BlockRef | undefined {
    return this.index
      .stmt('SELECT chunk, coff, seq FROM vblocks WHERE group_id = ? AND block = ? AND seq <= ? ORDER BY seq DESC LIMIT 1')
      .get(groupId, block, seq) as BlockRef | undefined;
  }

  /**
   * The versions at or before `seq` of blocks [first, first + count), in block order, in
   * one query that still seeks once per block (whatever the journal's length).
   */
  blocksAt(groupId: number, first: number, count: number, seq: number): (BlockRef | undefined)[] {
    const rows = this.index
      .stmt(`WITH RECURSIVE r(b) AS (SELECT @first UNION ALL SELECT b + 1 FROM r WHERE b < @last)
        SELECT v.chunk, v.coff, v.seq FROM r LEFT JOIN vblocks v ON v.group_id = @groupId AND v.block = r.b
          AND v.seq = (SELECT max(seq) FROM vblocks WHERE group_id = @groupId AND block = r.b AND seq <= @seq)
        ORDER BY r.b`)
      .all({ first, last: first + count - 1, groupId, seq }) as { chunk: Buffer | null; coff: number | null; seq: number | null }[];
    return rows.map((r) => (r.seq === null ? undefined : (r as BlockRef)));
  }

  /** Record blocks [first, first + count) at `seq`: block i is block coff0 + i of `chunk` (null: zeros). */
  putBlocks(groupId: number, first: number, count: number, seq: number, chunk: Buffer | null, coff0: number): void {
    const s = this.index.stmt('INSERT OR REPLACE INTO vblocks (group_id, block, seq, chunk, coff) VALUES (?, ?, ?, ?, ?)');
    for (let i = 0; i < count; i++) s.run(groupId, first + i, seq, chunk, chunk ? coff0 + i : 0);
  }

  startBaseline(groupId: number, seq: number, size: number): void {
    this.index.stmt('INSERT OR REPLACE INTO vbaselines (group_id, start_seq, end_seq, size) VALUES (?, ?, NULL, ?)').run(groupId, seq, size);
  }

  endBaseline(groupId: number, seq: number): void {
    this.index.stmt('UPDATE vbaselines SET end_seq = ? WHERE group_id = ? AND end_seq IS NULL').run(seq, groupId);
  }

  /** The last baseline started at or before `seq`. */
  baselineAt(groupId: number, seq: number): Baseline | undefined {
    const r = this.index
      .stmt('SELECT start_seq AS startSeq, end_seq AS endSeq, size FROM vbaselines WHERE group_id = ? AND start_seq <= ? ORDER BY start_seq DESC LIMIT 1')
      .get(groupId, seq) as Baseline | undefined;
    return r;
  }

  /** True when the group is a volume group (has at least one baseline). */
  isVolume(groupId: number): boolean {
    return this.index.stmt('SELECT 1 FROM vbaselines WHERE group_id = ? LIMIT 1').get(groupId) !== undefined;
  }

  /** Every block version of a group, ordered by (block, seq) (retention walks them once). */
  versions(groupId: number): IterableIterator<BlockRef & { block: number }> {
    return this.index
      .stmt('SELECT block, seq, chunk, coff FROM vblocks WHERE group_id = ? ORDER BY block, seq')
      .iterate(groupId) as IterableIterator<BlockRef & { block: number }>;
  }

  baselines(groupId: number, through: number): CompactedVolume['baselines'] {
    return this.index
      .stmt('SELECT start_seq AS startSeq, end_seq AS endSeq, size FROM vbaselines WHERE group_id = ? AND start_seq <= ? ORDER BY start_seq')
      .all(groupId, through) as CompactedVolume['baselines'];
  }

  /**
   * Make the group's block versions and baselines up to `through` exactly the compacted
   * commit's (versions after `through` are left alone). Inside the caller's transaction.
   */
  applyCompacted(groupId: number, through: number, v: CompactedVolume): void {
    this.index.stmt('DELETE FROM vblocks WHERE group_id = ? AND seq <= ?').run(groupId, through);
    this.index.stmt('DELETE FROM vbaselines WHERE group_id = ? AND start_seq <= ?').run(groupId, through);
    const addBase = this.index.stmt('INSERT INTO vbaselines (group_id, start_seq, end_seq, size) VALUES (?, ?, ?, ?)');
    for (const b of v.baselines) addBase.run(groupId, b.startSeq, b.endSeq, b.size);
    for (const r of v.runs) this.putBlocks(groupId, r.block, r.count, r.seq, r.chunk, r.coff);
  }

  /** Distinct chunks referenced by a group's blocks (verify, prune). */
  chunkRefs(groupId: number): Buffer[] {
    return (this.index.stmt('SELECT DISTINCT chunk FROM vblocks WHERE group_id = ? AND chunk IS NOT NULL').all(groupId) as { chunk: Buffer }[]).map((r) => r.chunk);
  }

  /** Blocks (with the seq they were written at) that reference `chunk`, for damage reports. */
  blocksUsing(chunk: Buffer, limit = 1000): { groupId: number; block: number; seq: number }[] {
    return this.index
      .stmt('SELECT group_id AS groupId, block, seq FROM vblocks WHERE chunk = ? LIMIT ?')
      .all(chunk, limit) as { groupId: number; block: number; seq: number }[];
  }
}

/** Merge block versions (any order) into runs: consecutive blocks of one seq and one chunk (or zeros). */
export function toRuns(rows: readonly (BlockRef & { block: number })[]): BlockRun[] {
  const sorted = [...rows].sort((a, b) => a.seq - b.seq || a.block - b.block);
  const runs: BlockRun[] = [];
  for (const r of sorted) {
    const last = runs[runs.length - 1];
    const extends_ = last && last.seq === r.seq && last.block + last.count === r.block
      && (last.chunk === null ? r.chunk === null : r.chunk !== null && last.chunk.equals(r.chunk) && last.coff + last.count === r.coff);
    if (extends_) last.count++;
    else runs.push({ seq: r.seq, block: r.block, count: 1, chunk: r.chunk, coff: r.chunk ? r.coff : 0 });
  }
  return runs.sort((a, b) => a.block - b.block || a.seq - b.seq);
}
