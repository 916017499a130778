/**
 * The fold thread of a volume tap: turns logged writes into journal records (chunk ids,
 * sealed chunks, packs, index rows) and commits them at least every commit interval, on a
 * core of its own, through a borrowed writer handle of the vault (the tap's process holds
 * the lock). It answers `folded` after each commit; the tap then deletes folded segments.
 */
import { closeSync, openSync, readlinkSync, readSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { TidemarkError } from '../../common/errors.js';
import type { VolumeRecord } from '../../vault/journal/journal-record.js';
import { pieces, storePieces } from '../../vault/journal/volume-pieces.js';
import { Vault } from '../../vault/vault.js';
import { FrameOp, openFrame } from '../../vault/write-log/write-log-frame.js';
import type { FoldEntryMessage, FoldThreadData, FromFoldThread, ToFoldThread } from './fold-messages.js';

const MAX_PENDING_BYTES = 64 * 1024 * 1024;
const port = parentPort!;

// The fold is background work: when the cores are busy, the thread serving requests goes
// first (Linux: a thread id is a valid setpriority target; threads this one starts, such
// as its seal and pack threads, inherit the niceness).
try {
  const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  if (Number.isInteger(tid) && tid > 0) setPriority(tid, 19);
} catch { /* elsewhere: the fold runs at the process's priority */ }

const d = workerData as FoldThreadData;
const buf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
const vault = Vault.openBorrowed(d.vaultDir, { encKey: buf(d.key.encKey), idKey: buf(d.key.idKey), gearSeed: buf(d.key.gearSeed) });
const gid = vault.index.ensureGroup(d.group);
let pending: VolumeRecord[] = [];
let pendingBytes = 0;
let inTxn = false;
let lastCommit = Date.now();
let commits = 0;
let foldedSeq = vault.index.lastSeq(gid);
let failed = false;
/** the segment being read back, kept open while entries come from it */
let reader: { path: string; fd: number } | null = null;

const post = (m: FromFoldThread): void => port.postMessage(m);

function readExact(fd: number, length: number, pos: number, path: string): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let done = 0; done < length;) {
    const n = readSync(fd, b, done, length - done, pos + done);
    if (n === 0) throw new TidemarkError('TM_CORRUPT', `the write log ${path} ends inside a frame at byte ${pos + done}`);
    done += n;
  }
  return b;
}

function payloadOf(e: FoldEntryMessage): Buffer {
  if (e.data) return buf(e.data);
  const at = e.at!;
  if (reader?.path !== at.path) {
    if (reader) closeSync(reader.fd);
    reader = { path: at.path, fd: openSync(at.path, 'r') };
  }
  const len = readExact(reader.fd, 4, at.pos, at.path).readUInt32LE(0);
  return openFrame(buf(at.key), at.index, readExact(reader.fd, len + 16, at.pos + 4, at.path), `write log ${at.path}`).payload;
}

function record(rec: VolumeRecord): void {
  if (!inTxn) { vault.begin(); inTxn = true; }
  vault.apply(gid, rec);
  pending.push(rec);
  if (rec.op === 'vwrite') for (const x of rec.extents) pendingBytes += x.length;
}

function commit(): void {
  if (pending.length === 0) return;
  vault.commit(d.group, pending);
  inTxn = false;
  foldedSeq = pending[pending.length - 1]!.seq;
  pending = [];
  pendingBytes = 0;
  commits++;
  lastCommit = Date.now();
  post({ type: 'folded', seq: foldedSeq, commits });
}

function fold(entries: FoldEntryMessage[]): void {
  for (const e of entries) {
    if (e.op === FrameOp.zero) {
      record({ op: 'vzero', seq: e.seq, time: e.time, offset: e.offset, length: e.length });
    } else {
      record({ op: 'vwrite', seq: e.seq, time: e.time, offset: e.offset, extents: storePieces(vault, pieces(vault, e.offset, payloadOf(e))) });
    }
    if (pendingBytes >= MAX_PENDING_BYTES) commit();
  }
  if (Date.now() - lastCommit >= d.commitIntervalMs) commit();
}

function stop(commitFirst: boolean): void {
  if (commitFirst) commit();
  if (reader) closeSync(reader.fd);
  reader = null;
  clearInterval(timer);
  vault.close();
}

function guard(fn: () => void): void {
  if (failed) return;
  try {
    fn();
  } catch (err) {
    failed = true;
    const e = err as Error & { code?: string };
    post({ type: 'error', code: typeof e.code === 'string' && e.code.startsWith('TM_') ? e.code : 'TM_IO', message: e.message });
    try { vault.close(); } catch { /* the error above is what matters */ }
  }
}

const timer = setInterval(() => guard(() => { if (Date.now() - lastCommit >= d.commitIntervalMs) commit(); }), d.commitIntervalMs);

port.on('message', (m: ToFoldThread) => {
  if (m.type === 'entries') guard(() => fold(m.entries));
  else if (m.type === 'close') {
    guard(() => { stop(true); post({ type: 'closed', seq: foldedSeq, commits }); });
    port.close();
  } else {
    guard(() => stop(false));
    port.close();
  }
});
