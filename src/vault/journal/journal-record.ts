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

export type JournalRecord = PutRecord | DeleteRecord | RenameRecord;

/** A contiguous run of one group's records, stored as one commit blob. */
export interface JournalCommit {
  group: string;
  firstSeq: number;
  records: JournalRecord[];
}

/** A record before the journal gives it a seq and a time. */
export type RecordDraft = JournalRecord extends infer R ? (R extends JournalRecord ? Omit<R, 'seq' | 'time'> : never) : never;
