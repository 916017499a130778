/**
 * Folding write logs left behind by a volume tap that stopped without folding them (a
 * crash, SIGKILL, power loss): run by whoever next takes the vault's writer lock, before
 * anything reads the index. Frames already in the journal (seq at or below the group's
 * last seq) are skipped, the rest become journal records in seq order, and the segments
 * are deleted once their records are committed. A frame that does not authenticate ends
 * its segment: it can only be the torn tail of an append that was never acknowledged as
 * durable (an acknowledged FLUSH waited for the fdatasync).
 */
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { TidemarkError, wrapIo } from '../../common/errors.js';
import { fsyncDir } from '../../common/durable-file.js';
import type { JournalRecord } from '../journal/journal-record.js';
import { pieces, storePieces } from '../journal/volume-pieces.js';
import type { Sealer } from '../crypto/sealer.js';
import type { Vault } from '../vault.js';
import {
  decodeSegmentHeader, FrameOp, MAX_FRAME_PAYLOAD, openFrame, SEGMENT_HEADER_BYTES, WRITE_LOG_KEY_INFO, type FrameHead,
} from './write-log-frame.js';
import { WRITE_LOG_DIR } from './write-log.js';

/** commit the replayed records every this many bytes of writes */
const REPLAY_COMMIT_BYTES = 64 * 1024 * 1024;

export interface LoggedWrite { head: FrameHead; payload: Buffer }

export interface SegmentContents {
  path: string;
  group: string;
  firstSeq: number;
  /** frames after the group frame, in order (read lazily: `frames()`) */
  frames: () => Generator<LoggedWrite>;
  /** bytes after the last frame that authenticated (a torn tail), known after `frames()` ran */
  tornBytes: () => number;
}

function readExact(fd: number, length: number, pos: number): Buffer | null {
  const b = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, b, done, length - done, pos + done);
    if (n === 0) return null;
    done += n;
  }
  return b;
}

interface FrameAt { frame: LoggedWrite; next: number }

/** The frame at `pos`, or null where the log ends (end of file, a torn or damaged frame). */
function readFrameAt(fd: number, size: number, key: Buffer, path: string, index: number, pos: number): FrameAt | null {
  const len = readExact(fd, 4, pos);
  if (!len) return null;
  const n = len.readUInt32LE(0);
  if (n > MAX_FRAME_PAYLOAD || pos + 4 + n + 16 > size) return null;
  const sealed = readExact(fd, n + 16, pos + 4);
  if (!sealed) return null;
  try {
    return { frame: openFrame(key, index, sealed, `write log ${path}`), next: pos + 4 + n + 16 };
  } catch (err) {
    if (err instanceof TidemarkError && err.code === 'TM_CORRUPT') return null;
    throw err;
  }
}

/** Open one segment and read its group frame; null when it holds no complete group frame. */
export function openSegment(path: string, sealer: Sealer): SegmentContents | null {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const headBytes = readExact(fd, SEGMENT_HEADER_BYTES, 0);
    if (!headBytes) return null;
    const header = decodeSegmentHeader(headBytes, `write log ${path}`);
    const key = sealer.subkey(WRITE_LOG_KEY_INFO, header.id);
    const frameAt = (index: number, pos: number): FrameAt | null => readFrameAt(fd, size, key, path, index, pos);
    const first = frameAt(0, SEGMENT_HEADER_BYTES);
    if (!first || first.frame.head.op !== FrameOp.group) return null;
    let torn = 0;
    return {
      path, group: first.frame.payload.toString('utf8'), firstSeq: header.firstSeq,
      tornBytes: () => torn,
      frames: function* frames(): Generator<LoggedWrite> {
        const rfd = openSync(path, 'r');
        try {
          let pos = first.next;
          for (let index = 1; pos < size; index++) {
            const f = readFrameAt(rfd, size, key, path, index, pos);
            if (!f) { torn = size - pos; return; }
            yield f.frame;
            pos = f.next;
          }
        } finally {
          closeSync(rfd);
        }
      },
    };
  } finally {
    closeSync(fd);
  }
}

export interface ReplayReport { group: string; records: number; fromSeq: number; toSeq: number; tornBytes: number }

/** Fold every write log in the vault into its group's journal (needs the writer lock). */
export function replayWriteLogs(vault: Vault): ReplayReport[] {
  const dir = join(vault.dir, WRITE_LOG_DIR);
  if (!existsSync(dir)) return [];
  const names = readdirSync(dir).filter((n) => n.endsWith('.twl')).sort();
  if (names.length === 0) return [];
  const byGroup = new Map<string, SegmentContents[]>();
  const empty: string[] = [];
  for (const n of names) {
    const seg = openSegment(join(dir, n), vault.sealer);
    if (!seg) { empty.push(join(dir, n)); continue; }
    const list = byGroup.get(seg.group) ?? [];
    list.push(seg);
    byGroup.set(seg.group, list);
  }
  const reports: ReplayReport[] = [];
  for (const [group, segs] of byGroup) {
    segs.sort((a, b) => a.firstSeq - b.firstSeq);
    const gid = vault.index.ensureGroup(group);
    let last = vault.index.lastSeq(gid);
    const report: ReplayReport = { group, records: 0, fromSeq: last + 1, toSeq: last, tornBytes: 0 };
    let records: JournalRecord[] = [];
    let bytes = 0;
    vault.begin();
    try {
      for (const seg of segs) {
        for (const { head, payload } of seg.frames()) {
          if (head.seq <= last) continue;
          if (head.seq !== last + 1) {
            throw new TidemarkError('TM_CORRUPT', `the write log ${seg.path} of group "${group}" jumps from seq ${last} to seq ${head.seq}`, {
              hint: 'a write log segment is missing; the journal is intact up to seq ' + last + '; move the wal/ folder aside to open the vault',
            });
          }
          const rec: JournalRecord = head.op === FrameOp.write
            ? { op: 'vwrite', seq: head.seq, time: head.time, offset: head.offset, extents: storePieces(vault, pieces(vault, head.offset, payload)) }
            : { op: 'vzero', seq: head.seq, time: head.time, offset: head.offset, length: head.length };
          vault.apply(gid, rec);
          records.push(rec);
          last = head.seq;
          bytes += payload.length;
          if (bytes >= REPLAY_COMMIT_BYTES) {
            vault.commit(group, records);
            records = [];
            bytes = 0;
            vault.begin();
          }
        }
        report.tornBytes += seg.tornBytes();
      }
      vault.commit(group, records);
    } catch (err) {
      vault.rollback();
      throw err;
    }
    report.records = last - report.fromSeq + 1;
    report.toSeq = last;
    reports.push(report);
    if (report.tornBytes > 0) {
      process.emitWarning(`the write log of volume group "${group}" ended in ${report.tornBytes} bytes that are not valid frames (a write in progress when the tap stopped, or space reused from an older segment); the journal is complete up to seq:${last}`);
    }
    for (const seg of segs) unlink(seg.path);
  }
  for (const p of empty) unlink(p);
  fsyncDir(dir);
  return reports;
}

function unlink(path: string): void {
  try { unlinkSync(path); } catch (err) { throw wrapIo(err, `Cannot delete the folded write log ${path}`); }
}
