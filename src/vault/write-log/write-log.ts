/**
 * A volume group's write log: the live volume tap appends every write here (sealed, in
 * seq order) and acknowledges FLUSH once the log is on disk — one append and one
 * fdatasync, where a journal commit costs a pack file, its fsyncs and an index
 * transaction. The tap folds logged writes into packs and the index behind the client's
 * back; segments whose writes are all folded are deleted. A writer that opens the vault
 * after a crash folds what is left (replay-write-logs.ts).
 */
import { closeSync, fdatasyncSync, mkdirSync, openSync, readSync, unlinkSync, writevSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TidemarkError, wrapIo } from '../../common/errors.js';
import { fsyncDir } from '../../common/durable-file.js';
import { SyncGroup } from '../../common/sync-group.js';
import type { Sealer } from '../crypto/sealer.js';
import { encodeSegmentHeader, FrameOp, openFrame, sealFrame, WRITE_LOG_KEY_INFO, type FrameHead } from './write-log-frame.js';

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
  /** bytes in the file (written out) */
  written = 0;
  /** bytes appended, written out or not */
  appended = 0;
  lastSeq = 0;
  private parts: Buffer[] = [];
  readonly syncs: SyncGroup;

  constructor(readonly path: string, readonly fd: number, readonly key: Buffer) {
    this.syncs = new SyncGroup(() => this.fd, `the write log ${path}`);
  }

  add(parts: Buffer[], frame = true): { index: number; pos: number } {
    const at = { index: frame ? this.frames++ : -1, pos: this.appended };
    for (const p of parts) { this.parts.push(p); this.appended += p.length; }
    if (this.appended - this.written >= WRITE_OUT_BYTES) this.writeOut();
    return at;
  }

  writeOut(): void {
    while (this.parts.length > 0) {
      let n: number;
      try {
        n = writevSync(this.fd, this.parts.slice(0, 1024), this.written);
      } catch (err) {
        throw wrapIo(err, `Cannot append to the write log ${this.path}`);
      }
      this.written += n;
      while (n > 0 && this.parts.length > 0) {
        const first = this.parts[0]!;
        if (n >= first.length) { n -= first.length; this.parts.shift(); } else { this.parts[0] = first.subarray(n); n = 0; }
      }
    }
  }

  read(pos: number, length: number): Buffer {
    if (pos + length > this.written) this.writeOut();
    const b = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, b, done, length - done, pos + done);
      if (n === 0) throw new TidemarkError('TM_CORRUPT', `the write log ${this.path} ends inside a frame at byte ${pos + done}`);
      done += n;
    }
    return b;
  }

  close(): void {
    try { closeSync(this.fd); } catch { /* closing a descriptor we own cannot lose data already synced */ }
  }
}

export class WriteLog {
  private active: Segment;
  private older: Segment[] = [];
  private readonly removing = new Set<Promise<void>>();

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

  /** Write out buffered frames and make everything appended so far durable. */
  sync(): Promise<void> {
    try {
      this.active.writeOut();
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return this.active.syncs.sync();
  }

  /** Read a logged write's bytes back. */
  readPayload(ref: FrameRef): Buffer {
    const seg = ref.segment;
    const len = seg.read(ref.pos, 4).readUInt32LE(0);
    const sealed = seg.read(ref.pos + 4, len + 16);
    return openFrame(seg.key, ref.index, sealed, `write log ${seg.path}`).payload;
  }

  /**
   * Everything through `foldedSeq` is durable in the journal: delete the segments that
   * hold nothing newer, and start a new segment when the active one is large (a fully
   * folded one sooner, so the log stays small when the fold keeps up).
   */
  release(foldedSeq: number, nextSeq: number): void {
    const a = this.active;
    if (a.appended >= ROTATE_BYTES || (a.appended >= RECYCLE_BYTES && a.lastSeq <= foldedSeq)) {
      a.writeOut();
      try { fdatasyncSync(a.fd); } catch (err) { throw wrapIo(err, `Cannot sync the write log ${a.path}`); }
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
    const all = [...this.older, this.active];
    this.older = [];
    await Promise.all([...this.removing, ...all.map((s) => s.syncs.idle())]);
    for (const s of all) {
      if (s.lastSeq <= foldedSeq) {
        s.close();
        try { unlinkSync(s.path); } catch (err) { throw wrapIo(err, `Cannot delete the folded write log ${s.path}`); }
      } else {
        s.writeOut();
        s.close();
      }
    }
  }

  /**
   * Delete a folded segment once no sync of it runs (closing the descriptor under a
   * running or queued fdatasync could sync whatever file reuses the number). A segment
   * left behind by a failed unlink is harmless: replay skips writes already journaled.
   */
  private remove(s: Segment): void {
    const done = s.syncs.idle().then(() => {
      s.close();
      try { unlinkSync(s.path); } catch { /* see above */ }
    });
    this.removing.add(done);
    void done.finally(() => this.removing.delete(done));
  }

  private newSegment(firstSeq: number): Segment {
    const id = randomBytes(16);
    const path = join(this.dir, `${firstSeq.toString(16).padStart(16, '0')}-${id.toString('hex', 0, 8)}.twl`);
    let fd: number;
    try {
      fd = openSync(path, 'wx+', 0o600);
    } catch (err) {
      throw wrapIo(err, `Cannot create the write log ${path}`);
    }
    const seg = new Segment(path, fd, this.sealer.subkey(WRITE_LOG_KEY_INFO, id));
    seg.add([encodeSegmentHeader({ id, firstSeq })], false);
    seg.add(sealFrame(seg.key, seg.frames, { op: FrameOp.group, seq: 0, time: 0, offset: 0, length: 0 }, Buffer.from(this.group, 'utf8')));
    seg.lastSeq = firstSeq - 1;
    try {
      seg.writeOut();
      fdatasyncSync(fd);
      fsyncDir(this.dir);
    } catch (err) {
      seg.close();
      throw wrapIo(err, `Cannot create the write log ${path}`);
    }
    return seg;
  }
}
