/**
 * The journal's vocabulary: one record per captured change, each with its own seq
 * (strictly increasing per group) and capture time. A group's recovery point `seq:N`
 * is the state after applying records 1..N.
 */

export const EntryKind = { tombstone: 0, file: 1, dir: 2, symlink: 3 } as const;
export type EntryKindCode = (typeof EntryKind)[keyof typeof EntryKind];

export function kindName(k: number): 'file' | 'dir' | 'symlink' | 'deleted' {
  return k === EntryKind.file ? 'file' : k === EntryKind.dir ? 'dir' : k === EntryKind.symlink ? 'symlink' : 'deleted';
}

/** A run of file content: a stored chunk, or `id: null` for zeros never stored (holes). */
export interface Extent {
  id: Buffer | null;
  length: number;
}

/** The state of one entry as captured. */
export interface EntryState {
  kind: EntryKindCode;
  mode: number;
  uid: number;
  gid: number;
  mtimeNs: bigint;
  ctimeNs: bigint;
  ino: bigint;
  size: number;
  /** files: the content */
  extents: Extent[];
  /** symlinks: the target bytes */
  target: Buffer | null;
  /** files: another path of the same group this is a hard link of (its content is also in `extents`) */
  link: Buffer | null;
  /**
   * files: a torn capture: the file kept changing while it was read, so `extents` may mix
   * several of its states. Point-in-time reads skip torn versions unless asked for them
   * (docs/FORMAT.md, "Torn captures"). Absent (never false) on clean versions.
   */
  torn?: true;
}

interface RecordBase {
  seq: number;
  /** capture time, ms since the epoch; non-decreasing with seq */
  time: number;
  path: Buffer;
}

export interface PutRecord extends RecordBase { op: 'put'; entry: EntryState }
/** Removes the path and, for a directory, everything below it. */
export interface DeleteRecord extends RecordBase { op: 'delete' }
/** Moves `from` (and everything below it) to `path`, replacing what was there. */
export interface RenameRecord extends RecordBase { op: 'rename'; from: Buffer }

/** A change to a file group's tree. */
export type FileRecord = PutRecord | DeleteRecord | RenameRecord;

/**
 * Volume groups (the volume tap): the volume's address space is cut into blocks of
 * VOLUME_BLOCK bytes; every record covers whole blocks. Records carry no path.
 */
export const VOLUME_BLOCK = 4096;

interface VolumeRecordBase {
  seq: number;
  /** capture time, ms since the epoch; non-decreasing with seq */
  time: number;
}

/** Blocks from `offset` on now hold the extents' bytes (an extent with `id: null` is zeros). */
export interface VolumeWriteRecord extends VolumeRecordBase { op: 'vwrite'; offset: number; extents: Extent[] }
/** Blocks in [offset, offset + length) now read as zeros (TRIM, WRITE_ZEROES). */
export interface VolumeZeroRecord extends VolumeRecordBase { op: 'vzero'; offset: number; length: number }
/**
 * A baseline starts (`start`, with the volume's size) or ends (`end`). Between the two the
 * journal is catching up with a volume that may have changed while nobody watched it: the
 * points inside are not states the volume was ever in, and images refuse them.
 */
export interface VolumeMarkRecord extends VolumeRecordBase { op: 'vmark'; mark: 'start' | 'end'; size: number }

export type VolumeRecord = VolumeWriteRecord | VolumeZeroRecord | VolumeMarkRecord;

/** Any record of either kind of group. */
export type JournalRecord = FileRecord | VolumeRecord;

/** True for a record of a volume group. */
export function isVolumeRecord(r: JournalRecord): r is VolumeRecord {
  return r.op === 'vwrite' || r.op === 'vzero' || r.op === 'vmark';
}

/** A contiguous run of one group's records, stored as one commit blob. */
export interface JournalCommit {
  group: string;
  firstSeq: number;
  records: JournalRecord[];
}

/** A record before the journal gives it a seq and a time. */
export type RecordDraft = JournalRecord extends infer R ? (R extends JournalRecord ? Omit<R, 'seq' | 'time'> : never) : never;

/** A recovery point (seq and capture time) kept by retention. */
export interface RetainedPoint {
  seq: number;
  /** capture time, ms since the epoch */
  time: number;
}

/**
 * One version kept by a compacted commit, at its own seq: `put` (the entry's state from
 * `seq` on) or `delete` (a tombstone: the path does not exist from `seq` on). Several
 * records may share a seq (a renamed or deleted directory touches many paths at once).
 */
export type CompactedRecord =
  | { op: 'put'; seq: number; path: Buffer; entry: EntryState }
  | { op: 'delete'; seq: number; path: Buffer };

/**
 * A compacted commit (format version 2), written by `prune`: the whole state of a
 * group's journal up to `through` after thinning. It replaces every commit of the group
 * whose last seq is <= `through`; `points` lists the recovery points retained up to
 * `through` (a record's seq need not be one of them).
 */
export interface CompactedCommit {
  kind: 'compacted';
  group: string;
  through: number;
  /**
   * 1 for the group's first compacted commit, then one more each time: of two compacted
   * commits with the same `through`, the higher generation replaces the other.
   */
  generation: number;
  points: RetainedPoint[];
  records: CompactedRecord[];
  /** volume groups (commit version 3): their baselines and retained block versions; `records` is empty */
  volume?: CompactedVolume;
}

/** A run of consecutive blocks written at one seq: blocks of one chunk from `coff` on, or zeros. */
export interface BlockRun {
  seq: number;
  block: number;
  count: number;
  /** null: zeros */
  chunk: Buffer | null;
  coff: number;
}

/** The volume part of a compacted commit: everything up to `through`. */
export interface CompactedVolume {
  baselines: { startSeq: number; endSeq: number | null; size: number }[];
  /** sorted by (block, seq); no two runs share a (block, seq) */
  runs: BlockRun[];
}

/** Any commit as stored in a pack. */
export type StoredCommit = JournalCommit | CompactedCommit;

/** True for a compacted (version 2) commit. */
export function isCompacted(c: StoredCommit): c is CompactedCommit {
  return (c as CompactedCommit).kind === 'compacted';
}
