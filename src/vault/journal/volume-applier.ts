/**
 * Applies a volume group's records to the index: every written block gets a version
 * (chunk and position, or zeros) at the record's seq. A record that no volume tap could
 * have written (unaligned, beyond the volume, before any baseline) is refused.
 */
import { TidemarkError } from '../../common/errors.js';
import type { IndexDb } from '../index/index-db.js';
import { VolumeIndex } from '../index/volume-index.js';
import { VOLUME_BLOCK, type VolumeRecord } from './journal-record.js';

function fail(rec: VolumeRecord, why: string): never {
  throw new TidemarkError('TM_FORMAT', `journal record seq:${rec.seq} (${rec.op}) ${why}`);
}

function checkRange(rec: VolumeRecord, offset: number, length: number, size: number): void {
  if (offset % VOLUME_BLOCK !== 0 || length % VOLUME_BLOCK !== 0) fail(rec, `is not aligned to ${VOLUME_BLOCK}-byte blocks`);
  if (offset + length > size) fail(rec, `ends at byte ${offset + length}, beyond the volume's ${size} bytes`);
}

/** Apply one volume record of group `groupId` (inside the caller's transaction). */
export function applyVolumeRecord(db: IndexDb, groupId: number, rec: VolumeRecord): void {
  const vi = new VolumeIndex(db);
  if (rec.op === 'vmark') {
    if (rec.mark === 'start') {
      if (rec.size <= 0 || rec.size % VOLUME_BLOCK !== 0) fail(rec, `gives a volume size of ${rec.size}, not a positive multiple of ${VOLUME_BLOCK}`);
      vi.startBaseline(groupId, rec.seq, rec.size);
    } else {
      vi.endBaseline(groupId, rec.seq);
    }
    db.addPoint(groupId, rec.seq, rec.time);
    return;
  }
  const base = vi.baselineAt(groupId, rec.seq);
  if (!base) fail(rec, 'comes before any baseline of the volume');
  if (rec.op === 'vzero') {
    checkRange(rec, rec.offset, rec.length, base.size);
    vi.putBlocks(groupId, rec.offset / VOLUME_BLOCK, rec.length / VOLUME_BLOCK, rec.seq, null, 0);
  } else {
    let at = rec.offset;
    for (const x of rec.extents) {
      checkRange(rec, at, x.length, base.size);
      vi.putBlocks(groupId, at / VOLUME_BLOCK, x.length / VOLUME_BLOCK, rec.seq, x.id, 0);
      at += x.length;
    }
  }
  db.addPoint(groupId, rec.seq, rec.time);
}
