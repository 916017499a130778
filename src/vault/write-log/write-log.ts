/**
 * A volume group's write log: the live volume tap appends every write here (sealed, in
 * seq order) and acknowledges FLUSH once the log is on disk — one append and one
 * fdatasync, where a journal commit costs a pack file, its fsyncs and an index
 * transaction. The tap folds logged writes into packs and the index behind the client's
 * back; segments whose writes are all folded are deleted. A writer that opens the vault
 * after a crash folds what is left (replay-write-logs.ts).
 */
import { closeSync, fdatasyncSync, mkdirSync, openSync, renameSync, unlinkSync, writev, writevSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { wrapIo } from '../../common/errors.js';
import { fsyncDir } from '../../common/durable-file.js';
import { SyncGroup } from '../../common/sync-group.js';
import type { Sealer } from '../crypto/sealer.js';
import { encodeSegmentHeader, FrameOp, sealFrame, WRITE_LOG_KEY_INFO, type FrameHead } from './write-log-frame.js';

export const WRITE_LOG_DIR = 'wal';
/** start a new segment once the active one holds this much */
const ROTATE_BYTES = 256 * 1024 * 1024;
/** a fully folded active segment this large is replaced by an empty one */
const RECYCLE_BYTES = 16 * 1024 * 1024;
/** write buffered frames out once this much is buffered */
const WRITE_OUT_BYTES = 1024 * 1024;

/** Where one logged write lives, to read it back when it is folded. */
export interface FrameRef { segment: Segment; index: number; pos: number }

class Segment {
  /** next frame number */
  frames = 0;
  /** bytes appended, written out or not */
  appended = 0;
  lastSeq = 0;
  /** where the next write out starts: bytes written or being written */
  private queued = 0;
  private parts: Buffer[] = [];
  private inFlight: Promise<void> | null = null;
  private error: Error | null = null;
  /** set once the segment is replaced: everything written out and synced */
  finished: Promise<void> | null = null;
  readonly syncs: SyncGroup;

  constructor(readonly path: string, readonly fd: number, readonly key: Buffer) {
    this.syncs = new SyncGroup(() => this.fd, `the write log ${path}`);
  }

  add(parts: Buffer[], frame = true): { index: number; pos: number } {
    if (this.error) throw this.error;
    const at = { index: frame ? this.frames++ : -1, pos: this.appended };
    for (const p of parts) { this.parts.push(p); this.appended += p.length; }
    if (!this.inFlight && this.appended - this.queued >= WRITE_OUT_BYTES) this.writeOut();
    return at;
  }

  /**
   * Start writing the buffered frames on the thread pool (appends never wait for the
   * disk on this thread); the next batch starts when this one is done.
   */
  private writeOut(): void {
    const batch = this.parts.splice(0, 1024);
    const pos = this.queued;
    const bytes = batch.reduce((a, b) => a + b.length, 0);
    this.queued += bytes;
    this.inFlight = new Promise<void>((resolve, reject) => {
      const step = (list: Buffer[], at: number): void => {
        writev(this.fd, list, at, (err, n) => {
          if (err) { reject(wrapIo(err, `Cannot append to the write log ${this.path}`)); return; }
          let rest = n;
          const left: Buffer[] = [];
          for (const b of list) {
            if (rest >= b.length) { rest -= b.length; continue; }
            left.push(rest > 0 ? b.subarray(rest) : b);
            rest = 0;
          }
          if (left.length > 0) step(left, at + n);
          else resolve();
        });
      };
      step(batch, pos);
    }).then(() => {
      this.inFlight = null;
      if (this.parts.length > 0 && this.appended - this.queued >= WRITE_OUT_BYTES) this.writeOut();
    }, (err: Error) => {
      this.error = err;
      this.inFlight = null;
      throw err;
    });
    this.inFlight.catch(() => undefined);
  }

  /** Resolves once every frame appended so far is in the file (not yet synced). */
  async drain(): Promise<void> {
    // Bounded: each turn writes what was appended before it started.
    for (;;) {
      if (this.error) throw this.error;
      if (this.inFlight) { await this.inFlight; continue; }
      if (this.parts.length === 0) return;
      this.writeOut();
    }
  }

  /** Write everything buffered now, on this thread (a new segment's first frames). */
  writeSyncAll(): void {
    while (this.parts.length > 0) {
      const n = writevSync(this.fd, this.parts.slice(0, 1024), this.queued);
      this.queued += n;
      let rest = n;
      while (rest > 0 && this.parts.length > 0) {
        const first = this.parts[0]!;
        if (rest >= first.length) { rest -= first.length; this.parts.shift(); } else { this.parts[0] = first.subarray(rest); rest = 0; }
      }
    }
  }

  close(): void {
    try { closeSync(this.fd); } catch { /* closing a descriptor we own cannot lose data already synced */ }
  }
}

export class WriteLog {
  private active: Segment;
  private older: Segment[] = [];
  private readonly removing = new Set<Promise<void>>();
  /** a folded segment kept to be written over by the next one (see newSegment) */
  private spare: Segment | null = null;
  private closing = false;

  private constructor(private readonly dir: string, private readonly sealer: Sealer, readonly group: string, firstSeq: number) {
    this.active = this.newSegment(firstSeq);
  }

  /** Start a write log for `group` whose next write has seq `firstSeq`. */
  static create(vaultDir: string, sealer: Sealer, group: string, firstSeq: number): WriteLog {
    const dir = join(vaultDir, WRITE_LOG_DIR);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return new WriteLog(dir, sealer, group, firstSeq);
  }

  /** Seal and append one frame (the caller gives seqs in order). */
  append(head: FrameHead, payload: Uint8Array | null): FrameRef {
    const seg = this.active;
    const at = seg.add(sealFrame(seg.key, seg.frames, head, payload));
    seg.lastSeq = head.seq;
    return { segment: seg, ...at };
  }

  /** Bytes in every segment not yet deleted. */
  get bytes(): number {
    return this.older.reduce((a, s) => a + s.appended, 0) + this.active.appended;
  }

  /** Resolves once every frame appended so far is in its file (readable by others; not yet durable). */
  async written(): Promise<void> {
    const active = this.active;
    await Promise.all([...this.older.map((s) => s.finished), active.drain()]);
  }

  /** Make everything appended so far durable. */
  async sync(): Promise<void> {
    const active = this.active;
    await Promise.all([...this.older.map((s) => s.finished), active.drain()]);
    await active.syncs.sync();
  }

  /**
   * Everything through `foldedSeq` is durable in the journal: delete the segments that
   * hold nothing newer, and start a new segment when the active one is large (a fully
   * folded one sooner, so the log stays small when the fold keeps up).
   */
  release(foldedSeq: number, nextSeq: number): void {
    const a = this.active;
    if (a.appended >= ROTATE_BYTES || (a.appended >= RECYCLE_BYTES && a.lastSeq <= foldedSeq)) {
      // A FLUSH after this waits for the old segment to be written out and synced (sync()).
      a.finished = a.drain().then(() => a.syncs.sync());
      a.finished.catch(() => undefined);
      this.older.push(a);
      this.active = this.newSegment(nextSeq);
    }
    const keep: Segment[] = [];
    for (const s of this.older) {
      if (s.lastSeq <= foldedSeq) this.remove(s);
      else keep.push(s);
    }
    this.older = keep;
  }

  /** Close every segment; delete them when all their writes are folded (`foldedSeq`). */
  async close(foldedSeq: number): Promise<void> {
    this.closing = true;
    const all = [...this.older, this.active];
    this.older = [];
    await Promise.all([...this.removing, ...all.map((s) => s.drain().then(() => s.syncs.idle()))]);
    if (this.spare) all.push(this.spare);
    this.spare = null;
    for (const s of all) {
      s.close();
      if (s.lastSeq <= foldedSeq) {
        try { unlinkSync(s.path); } catch (err) { throw wrapIo(err, `Cannot delete the folded write log ${s.path}`); }
      }
    }
  }

  /**
   * Delete a folded segment once no sync of it runs (closing the descriptor under a
   * running or queued fdatasync could sync whatever file reuses the number). A segment
   * left behind by a failed unlink is harmless: replay skips writes already journaled.
   */
  private remove(s: Segment): void {
    const done = (s.finished ?? Promise.resolve()).catch(() => undefined).then(() => s.syncs.idle()).then(() => {
      if (!this.spare && !this.closing) { this.spare = s; return; }
      s.close();
      // On the thread pool: freeing a 256 MiB file's blocks would stall requests here.
      return unlink(s.path).catch(() => { /* see above */ });
    });
    this.removing.add(done);
    void done.finally(() => this.removing.delete(done));
  }

  private newSegment(firstSeq: number): Segment {
    const id = randomBytes(16);
    const path = join(this.dir, `${firstSeq.toString(16).padStart(16, '0')}-${id.toString('hex', 0, 8)}.twl`);
    let fd: number;
    const spare = this.spare;
    this.spare = null;
    try {
      if (spare) {
        // Written over from the start: its blocks are allocated already, so a FLUSH's
        // fdatasync has only data to write, not the file's growth (what databases do with
        // their WAL). What is left of the old frames fails authentication under the new
        // segment's key, so replay stops where the new frames end.
        renameSync(spare.path, path);
        fd = spare.fd;
      } else {
        fd = openSync(path, 'wx+', 0o600);
      }
    } catch (err) {
      spare?.close();
      throw wrapIo(err, `Cannot create the write log ${path}`);
    }
    const seg = new Segment(path, fd, this.sealer.subkey(WRITE_LOG_KEY_INFO, id));
    seg.add([encodeSegmentHeader({ id, firstSeq })], false);
    seg.add(sealFrame(seg.key, seg.frames, { op: FrameOp.group, seq: 0, time: 0, offset: 0, length: 0 }, Buffer.from(this.group, 'utf8')));
    seg.lastSeq = firstSeq - 1;
    try {
      seg.writeSyncAll();
      fdatasyncSync(fd);
      fsyncDir(this.dir);
    } catch (err) {
      seg.close();
      throw wrapIo(err, `Cannot create the write log ${path}`);
    }
    return seg;
  }
}
