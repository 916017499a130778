/** What a group holds as of its latest point: a directory tree (file count, bytes) or a volume (its size). */
import type { IndexDb } from './index-db.js';
import { VolumeIndex } from './volume-index.js';

export interface GroupContents {
  kind: 'files' | 'volume';
  /** files in the tree (0 for a volume) */
  files: number;
  /** bytes of the tree's files, or the volume's size */
  bytes: number;
}

export function groupContents(index: IndexDb, groupId: number): GroupContents {
  const last = index.lastPoint(groupId);
  const volume = last ? new VolumeIndex(index).baselineAt(groupId, last.seq) : undefined;
  if (volume) return { kind: 'volume', files: 0, bytes: volume.size };
  const head = index.stmt('SELECT count(*) AS files, coalesce(sum(size), 0) AS bytes FROM head WHERE group_id = ? AND kind = 1').get(groupId) as { files: number; bytes: number };
  return { kind: 'files', files: head.files, bytes: head.bytes };
}
