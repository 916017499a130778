/**
 * "What changed between these two moments": every path with a version recorded after
 * point A and at or before point B, classified by comparing its state at A and at B
 * (added, changed, deleted), with sizes. A path changed and changed back counts only when
 * its state differs; a directory counts only when it appears or disappears. States are
 * read as everywhere else: a torn capture counts as its last clean version.
 */
import type { Vault } from '../../vault/vault.js';
import type { VersionRow } from '../../vault/index/index-db.js';
import { displayPath } from '../../common/rel-path.js';
import { EntryKind, kindName, type EntryState } from '../../vault/journal/journal-record.js';

export interface Change {
  path: string;
  change: 'added' | 'changed' | 'deleted';
  type: string;
  sizeBefore: number | null;
  sizeAfter: number | null;
}

function live(v: VersionRow | undefined): EntryState | undefined {
  return v && v.entry.kind !== EntryKind.tombstone ? v.entry : undefined;
}

function sameState(a: EntryState, b: EntryState): boolean {
  if (a.kind !== b.kind || a.size !== b.size || a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid) return false;
  if (a.kind === EntryKind.dir) return true;
  if (a.kind === EntryKind.symlink) return (a.target ?? Buffer.alloc(0)).equals(b.target ?? Buffer.alloc(0));
  return a.mtimeNs === b.mtimeNs && a.extents.length === b.extents.length &&
    a.extents.every((x, i) => x.length === b.extents[i]!.length && (x.id === null ? b.extents[i]!.id === null : b.extents[i]!.id !== null && x.id.equals(b.extents[i]!.id!)));
}

/**
 * Changes of `groupId` from seq `fromSeq` (exclusive) to `toSeq` (inclusive), in path
 * order, at most `limit` (then `truncated` is set).
 */
export function changesBetween(vault: Vault, groupId: number, fromSeq: number, toSeq: number, limit: number): { changes: Change[]; truncated: boolean } {
  const changes: Change[] = [];
  // Paged by path (not one open iterator), so the per-path reads below can run between pages.
  const page = vault.index.db.prepare('SELECT DISTINCT path FROM versions WHERE group_id = ? AND seq > ? AND seq <= ? AND path > ? ORDER BY path LIMIT 500');
  let after: Buffer = Buffer.alloc(0);
  for (;;) {
    const rows = page.all(groupId, fromSeq, toSeq, after) as { path: Buffer }[];
    if (rows.length === 0) break;
    for (const { path } of rows) {
      const before = live(vault.index.versionAt(groupId, path, fromSeq));
      const now = live(vault.index.versionAt(groupId, path, toSeq));
      let change: Change['change'] | null = null;
      if (!before && now) change = 'added';
      else if (before && !now) change = 'deleted';
      else if (before && now && !sameState(before, now)) change = before.kind === EntryKind.dir && now.kind === EntryKind.dir ? null : 'changed';
      if (!change) continue;
      if (changes.length === limit) return { changes, truncated: true };
      changes.push({ path: displayPath(path), change, type: kindName((now ?? before)!.kind), sizeBefore: before ? before.size : null, sizeAfter: now ? now.size : null });
    }
    after = rows[rows.length - 1]!.path;
  }
  return { changes, truncated: false };
}
