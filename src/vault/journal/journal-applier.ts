/**
 * Applies journal records to the index: the per-path version lists and the group's head
 * (its latest state). A record naming a directory (delete, rename, dir replaced by a
 * file) is one record in the journal and is expanded here into per-path versions, so
 * point-in-time reads never replay the journal.
 */
import { TidemarkError } from '../../common/errors.js';
import { assertSafeRel, displayPath, isUnder, parentOf } from '../../common/rel-path.js';
import { TOMBSTONE, type IndexDb } from '../index/index-db.js';
import { EntryKind, isVolumeRecord, type FileRecord, type JournalRecord } from './journal-record.js';
import { applyVolumeRecord } from './volume-applier.js';

/** Tombstone `path` (optionally itself too) and everything below it in head. */
function tombstoneSubtree(db: IndexDb, groupId: number, path: Buffer, seq: number, includeSelf: boolean): void {
  for (const row of db.headSubtree(groupId, path)) {
    if (!includeSelf && row.path.equals(path)) continue;
    db.putVersion(groupId, row.path, seq, TOMBSTONE);
  }
}

/**
 * Refuse a record that no capture could have produced: an unsafe name, or a path whose
 * parent is not a directory at that point (e.g. a file "below" a symlink). A crafted or
 * damaged journal is reported, never materialized.
 */
function validate(db: IndexDb, groupId: number, rec: FileRecord): void {
  const where = `journal record seq:${rec.seq}`;
  assertSafeRel(rec.path, where);
  if (rec.op === 'rename') assertSafeRel(rec.from, where);
  if (rec.op === 'put' && rec.entry.link) assertSafeRel(rec.entry.link, where);
  if (rec.path.length === 0) {
    if (rec.op === 'put' && rec.entry.kind === EntryKind.dir) return;
    throw new TidemarkError('TM_FORMAT', `${where} ${rec.op === 'put' ? 'makes the root a non-directory' : `${rec.op}s the root`}`);
  }
  if (rec.op === 'rename' && rec.from.length === 0) throw new TidemarkError('TM_FORMAT', `${where} renames the root`);
  if (rec.op === 'delete') return;
  const parent = parentOf(rec.path);
  if (parent.length === 0) return;
  const p = db.headAt(groupId, parent);
  if (!p || p.entry.kind !== EntryKind.dir) {
    throw new TidemarkError('TM_FORMAT', `${where} puts ${JSON.stringify(displayPath(rec.path))} below something that is not a directory`);
  }
}

/** Apply one record of group `groupId`; the caller wraps a commit in one transaction. */
export function applyRecord(db: IndexDb, groupId: number, rec: JournalRecord): void {
  if (isVolumeRecord(rec)) {
    applyVolumeRecord(db, groupId, rec);
    return;
  }
  validate(db, groupId, rec);
  switch (rec.op) {
    case 'put': {
      const old = db.headAt(groupId, rec.path);
      if (old && old.entry.kind === EntryKind.dir && rec.entry.kind !== EntryKind.dir) {
        tombstoneSubtree(db, groupId, rec.path, rec.seq, false);
      }
      db.putVersion(groupId, rec.path, rec.seq, rec.entry);
      break;
    }
    case 'delete':
      tombstoneSubtree(db, groupId, rec.path, rec.seq, true);
      break;
    case 'rename': {
      if (rec.from.equals(rec.path)) break;
      if (isUnder(rec.path, rec.from)) {
        throw new TidemarkError('TM_FORMAT', `journal record ${rec.seq} renames ${displayPath(rec.from)} into itself`);
      }
      const moving = db.headSubtree(groupId, rec.from);
      tombstoneSubtree(db, groupId, rec.path, rec.seq, true);
      for (const row of moving) db.putVersion(groupId, row.path, rec.seq, TOMBSTONE);
      for (const row of moving) {
        const to = Buffer.concat([rec.path, row.path.subarray(rec.from.length)]);
        db.putVersion(groupId, to, rec.seq, row.entry);
      }
      break;
    }
  }
  db.addPoint(groupId, rec.seq, rec.time);
}
