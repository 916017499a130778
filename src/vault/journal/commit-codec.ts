/**
 * Binary encoding of journal commits and extent lists (docs/FORMAT.md, "Journal commits").
 *
 *   commit  "TMJC" | version u8 (=1) | group (u32 len + UTF-8) | first seq u64 | count u32 | records
 *   record  time i64 (ms) | op u8 | body
 *   op 1 put     path (u32 len + bytes) | put body
 *   op 2 delete  path
 *   op 3 rename  path | from (u32 len + bytes)
 *   op 4 vwrite  offset u64 | extents          (volume groups: blocks from offset on)
 *   op 5 vzero   offset u64 | length u64       (blocks read as zeros)
 *   op 6 vmark   mark u8 (1 baseline start, 2 baseline end) | volume size u64
 *   op 7 torn    path | put body: a put of a file read while it was being written (its
 *                bytes mix several states); point-in-time reads skip it unless asked
 *   put     kind u8 | mode u32 | uid u32 | gid u32 | mtime ns i64 | ctime ns i64 | ino u64 |
 *           size u64 | link (u32 len + bytes, 0 = none) | extents (files) or target (symlinks)
 *   extents count u32, then per extent: flag u8 (0 stored, 1 zeros) | length u32 | id (32, stored only)
 * The seq of record i is first seq + i.
 *
 * Version 2, a compacted commit written by `prune` (docs/FORMAT-retention.md):
 *   commit  "TMJC" | version u8 (=2) | group (u32 len + UTF-8) | through u64 | generation u32 |
 *           point count u32 | points | record count u32 | records
 *   point   seq u64 | time i64 (ms)          strictly increasing seq, every seq <= through
 *   record  seq u64 | op u8 (1 put, 2 delete, 7 torn put) | path (u32 len + bytes) | body (put: as above)
 *           seq <= through; records sorted by (seq, path); (path, seq) unique
 * It replaces every commit of its group whose last seq is <= through, and every compacted
 * commit of the group with a lower (through, generation).
 *
 * Version 3, a compacted commit of a volume group: version 2's layout (with no records),
 * then   baseline count u32 | baselines | run count u32 | runs
 *   baseline  start seq u64 | end seq u64 (0 = unfinished) | volume size u64
 *   run       seq u64 | first block u64 | block count u32 | flag u8 (0 chunk, 1 zeros) |
 *             chunk: id (32) | first block's index inside the chunk u32
 *             sorted by (first block, seq); seq <= through
 */
import { ByteReader, ByteWriter } from '../../common/byte-io.js';
import { TidemarkError } from '../../common/errors.js';
import {
  EntryKind, type CompactedCommit, type CompactedRecord, type EntryKindCode, type EntryState, type Extent, type JournalCommit,
  type JournalRecord, type RetainedPoint, type StoredCommit, type BlockRun, type CompactedVolume,
} from './journal-record.js';

const MAGIC = Buffer.from('TMJC');
const OP = { put: 1, delete: 2, rename: 3, vwrite: 4, vzero: 5, vmark: 6 } as const;
/** A put of a torn capture (an entry with `torn: true`): same body as a put. */
const OP_TORN = 7;
const MARK = { start: 1, end: 2 } as const;

export function writeExtents(w: ByteWriter, extents: readonly Extent[]): void {
  w.u32(extents.length);
  for (const e of extents) {
    if (e.id) w.u8(0).u32(e.length).bytes(e.id);
    else w.u8(1).u32(e.length);
  }
}

export function readExtents(r: ByteReader): Extent[] {
  const n = r.u32();
  if (n > r.remaining) throw new TidemarkError('TM_FORMAT', `extent count ${n} exceeds the data`);
  const out: Extent[] = [];
  for (let i = 0; i < n; i++) {
    const flag = r.u8();
    const length = r.u32();
    if (flag === 0) out.push({ id: Buffer.from(r.bytes(32)), length });
    else if (flag === 1) out.push({ id: null, length });
    else throw new TidemarkError('TM_FORMAT', `unknown extent flag ${flag}`);
  }
  return out;
}

export function encodeExtents(extents: readonly Extent[]): Buffer {
  const w = new ByteWriter(4 + extents.length * 37);
  writeExtents(w, extents);
  return Buffer.from(w.view());
}

export function decodeExtents(buf: Buffer): Extent[] {
  return readExtents(new ByteReader(buf, 'extent list'));
}

/** The body of a put record: the entry's metadata, then its extents or symlink target. */
function writePutBody(w: ByteWriter, e: EntryState): void {
  // The index keeps inode numbers as signed 64-bit integers; the format stores them unsigned.
  w.u8(e.kind).u32(e.mode).u32(e.uid).u32(e.gid).i64(e.mtimeNs).i64(e.ctimeNs).u64(BigInt.asUintN(64, e.ino)).u64(e.size).lbytes(e.link ?? Buffer.alloc(0));
  if (e.kind === EntryKind.file) writeExtents(w, e.extents);
  else if (e.kind === EntryKind.symlink) w.lbytes(e.target ?? Buffer.alloc(0));
}

function readPutBody(r: ByteReader, what: string, torn = false): EntryState {
  const kind = r.u8();
  if (kind !== EntryKind.file && kind !== EntryKind.dir && kind !== EntryKind.symlink) throw new TidemarkError('TM_FORMAT', `${what}: unknown entry kind ${kind}`);
  if (torn && kind !== EntryKind.file) throw new TidemarkError('TM_FORMAT', `${what}: a torn put of a ${kind === EntryKind.dir ? 'directory' : 'symlink'} (only files can be torn)`);
  const entry: EntryState = {
    kind: kind as EntryKindCode, mode: r.u32(), uid: r.u32(), gid: r.u32(), mtimeNs: r.i64(), ctimeNs: r.i64(), ino: r.u64(),
    size: r.num64(), link: null, extents: [], target: null,
  };
  const link = r.lbytes();
  if (link.length > 0) entry.link = Buffer.from(link);
  if (kind === EntryKind.file) entry.extents = readExtents(r);
  else if (kind === EntryKind.symlink) entry.target = Buffer.from(r.lbytes());
  if (torn) entry.torn = true;
  return entry;
}

/**
 * Encodes a commit (version 1) record by record, as a capture emits them, so that a
 * capture of a large tree holds bytes rather than every record object until it commits.
 */
export class CommitEncoder {
  private readonly w = new ByteWriter(64 * 1024);
  private readonly countAt: number;
  private n = 0;

  constructor(readonly group: string, readonly firstSeq: number) {
    this.w.bytes(MAGIC).u8(1).lbytes(Buffer.from(group, 'utf8')).u64(firstSeq);
    this.countAt = this.w.length;
    this.w.u32(0);
  }

  /** Records added so far. */
  get count(): number { return this.n; }

  add(rec: JournalRecord): void {
    if (rec.seq !== this.firstSeq + this.n) throw new TidemarkError('TM_INTERNAL', `commit records out of sequence at ${rec.seq}`);
    const w = this.w;
    w.i64(rec.time).u8(rec.op === 'put' && rec.entry.torn ? OP_TORN : OP[rec.op]);
    switch (rec.op) {
      case 'put': w.lbytes(rec.path); writePutBody(w, rec.entry); break;
      case 'delete': w.lbytes(rec.path); break;
      case 'rename': w.lbytes(rec.path).lbytes(rec.from); break;
      case 'vwrite': w.u64(rec.offset); writeExtents(w, rec.extents); break;
      case 'vzero': w.u64(rec.offset).u64(rec.length); break;
      case 'vmark': w.u8(MARK[rec.mark]).u64(rec.size); break;
    }
    this.n++;
  }

  /** The encoded commit (a copy: the encoder may be dropped or reused). */
  finish(): Buffer {
    const out = Buffer.from(this.w.view());
    out.writeUInt32LE(this.n, this.countAt);
    return out;
  }
}

export function encodeCommit(c: JournalCommit): Buffer {
  const e = new CommitEncoder(c.group, c.firstSeq);
  for (const rec of c.records) e.add(rec);
  return e.finish();
}

/** Decode a stored commit of either version (use `isCompacted` to tell them apart). */
export function decodeCommit(buf: Buffer, what: string): StoredCommit {
  const r = new ByteReader(buf, what);
  if (!r.bytes(4).equals(MAGIC)) throw new TidemarkError('TM_FORMAT', `${what} is not a journal commit`);
  const version = r.u8();
  if (version === 2 || version === 3) return decodeCompacted(r, what, version === 3);
  if (version !== 1) throw new TidemarkError('TM_FORMAT', `${what}: unsupported commit version ${version}`);
  const group = r.lbytes().toString('utf8');
  const firstSeq = r.num64();
  const count = r.u32();
  const records: JournalRecord[] = [];
  for (let i = 0; i < count; i++) {
    const seq = firstSeq + i;
    const time = Number(r.i64());
    const op = r.u8();
    if (op === OP.put || op === OP_TORN) {
      records.push({ op: 'put', seq, time, path: Buffer.from(r.lbytes()), entry: readPutBody(r, what, op === OP_TORN) });
    } else if (op === OP.delete) {
      records.push({ op: 'delete', seq, time, path: Buffer.from(r.lbytes()) });
    } else if (op === OP.rename) {
      const path = Buffer.from(r.lbytes());
      records.push({ op: 'rename', seq, time, path, from: Buffer.from(r.lbytes()) });
    } else if (op === OP.vwrite) {
      records.push({ op: 'vwrite', seq, time, offset: r.num64(), extents: readExtents(r) });
    } else if (op === OP.vzero) {
      records.push({ op: 'vzero', seq, time, offset: r.num64(), length: r.num64() });
    } else if (op === OP.vmark) {
      const m = r.u8();
      if (m !== MARK.start && m !== MARK.end) throw new TidemarkError('TM_FORMAT', `${what}: unknown volume mark ${m}`);
      records.push({ op: 'vmark', seq, time, mark: m === MARK.start ? 'start' : 'end', size: r.num64() });
    } else {
      throw new TidemarkError('TM_FORMAT', `${what}: unknown record op ${op}`);
    }
  }
  if (r.remaining !== 0) throw new TidemarkError('TM_FORMAT', `${what}: ${r.remaining} trailing bytes`);
  return { group, firstSeq, records };
}

/** Order of records in a compacted commit: by seq, then by path bytes. */
export function compareCompacted(a: { seq: number; path: Buffer }, b: { seq: number; path: Buffer }): number {
  return a.seq - b.seq || Buffer.compare(a.path, b.path);
}

/** Encode a compacted commit (version 2); checks the invariants the decoder enforces. */
export function encodeCompactedCommit(c: CompactedCommit): Buffer {
  const w = new ByteWriter(1024 + c.points.length * 16 + c.records.length * 128 + (c.volume?.runs.length ?? 0) * 60);
  w.bytes(MAGIC).u8(c.volume ? 3 : 2).lbytes(Buffer.from(c.group, 'utf8')).u64(c.through).u32(c.generation).u32(c.points.length);
  let prev = 0;
  for (const p of c.points) {
    if (p.seq <= prev || p.seq > c.through) throw new TidemarkError('TM_INTERNAL', `compacted commit point seq:${p.seq} out of order or beyond through ${c.through}`);
    prev = p.seq;
    w.u64(p.seq).i64(p.time);
  }
  w.u32(c.records.length);
  c.records.forEach((rec, i) => {
    if (rec.seq < 1 || rec.seq > c.through) throw new TidemarkError('TM_INTERNAL', `compacted commit record seq:${rec.seq} beyond through ${c.through}`);
    if (i > 0 && compareCompacted(c.records[i - 1]!, rec) >= 0) throw new TidemarkError('TM_INTERNAL', `compacted commit records out of order at seq:${rec.seq}`);
    w.u64(rec.seq).u8(rec.op === 'put' && rec.entry.torn ? OP_TORN : OP[rec.op]).lbytes(rec.path);
    if (rec.op === 'put') writePutBody(w, rec.entry);
  });
  if (c.volume) writeCompactedVolume(w, c.volume, c.through);
  return Buffer.from(w.view());
}

/** Version 3 tail: baselines, then block runs (see the header comment). */
function writeCompactedVolume(w: ByteWriter, v: CompactedVolume, through: number): void {
  w.u32(v.baselines.length);
  for (const b of v.baselines) w.u64(b.startSeq).u64(b.endSeq ?? 0).u64(b.size);
  w.u32(v.runs.length);
  v.runs.forEach((r, i) => {
    if (r.seq < 1 || r.seq > through || r.count < 1) throw new TidemarkError('TM_INTERNAL', `compacted volume run at block ${r.block} seq:${r.seq} is invalid`);
    if (i > 0 && compareRuns(v.runs[i - 1]!, r) >= 0) throw new TidemarkError('TM_INTERNAL', `compacted volume runs out of order at block ${r.block}`);
    w.u64(r.seq).u64(r.block).u32(r.count);
    if (r.chunk) w.u8(0).bytes(r.chunk).u32(r.coff);
    else w.u8(1);
  });
}

function readCompactedVolume(r: ByteReader, what: string, through: number): CompactedVolume {
  const nb = r.u32();
  if (nb * 24 > r.remaining) throw new TidemarkError('TM_FORMAT', `${what}: baseline count ${nb} exceeds the data`);
  const baselines: CompactedVolume['baselines'] = [];
  for (let i = 0; i < nb; i++) {
    const startSeq = r.num64();
    const end = r.num64();
    baselines.push({ startSeq, endSeq: end === 0 ? null : end, size: r.num64() });
  }
  const nr = r.u32();
  if (nr * 21 > r.remaining) throw new TidemarkError('TM_FORMAT', `${what}: run count ${nr} exceeds the data`);
  const runs: BlockRun[] = [];
  for (let i = 0; i < nr; i++) {
    const seq = r.num64();
    const block = r.num64();
    const count = r.u32();
    const flag = r.u8();
    let chunk: Buffer | null = null;
    let coff = 0;
    if (flag === 0) { chunk = Buffer.from(r.bytes(32)); coff = r.u32(); } else if (flag !== 1) throw new TidemarkError('TM_FORMAT', `${what}: unknown run flag ${flag}`);
    const run = { seq, block, count, chunk, coff };
    if (seq < 1 || seq > through || count < 1) throw new TidemarkError('TM_FORMAT', `${what}: block run at ${block} seq:${seq} is invalid`);
    if (i > 0 && compareRuns(runs[i - 1]!, run) >= 0) throw new TidemarkError('TM_FORMAT', `${what}: block runs out of order at block ${block}`);
    runs.push(run);
  }
  return { baselines, runs };
}

/** Order of block runs in a compacted volume commit: by first block, then seq. */
export function compareRuns(a: { block: number; seq: number }, b: { block: number; seq: number }): number {
  return a.block - b.block || a.seq - b.seq;
}

function decodeCompacted(r: ByteReader, what: string, volume: boolean): CompactedCommit {
  const group = r.lbytes().toString('utf8');
  const through = r.num64();
  const generation = r.u32();
  const npoints = r.u32();
  if (npoints * 16 > r.remaining) throw new TidemarkError('TM_FORMAT', `${what}: point count ${npoints} exceeds the data`);
  const points: RetainedPoint[] = [];
  let prev = 0;
  for (let i = 0; i < npoints; i++) {
    const seq = r.num64();
    const time = Number(r.i64());
    if (seq <= prev || seq > through) throw new TidemarkError('TM_FORMAT', `${what}: point seq:${seq} out of order or beyond through ${through}`);
    prev = seq;
    points.push({ seq, time });
  }
  const count = r.u32();
  if (count > r.remaining) throw new TidemarkError('TM_FORMAT', `${what}: record count ${count} exceeds the data`);
  const records: CompactedRecord[] = [];
  for (let i = 0; i < count; i++) {
    const seq = r.num64();
    const op = r.u8();
    const path = Buffer.from(r.lbytes());
    let rec: CompactedRecord;
    if (op === OP.put || op === OP_TORN) rec = { op: 'put', seq, path, entry: readPutBody(r, what, op === OP_TORN) };
    else if (op === OP.delete) rec = { op: 'delete', seq, path };
    else throw new TidemarkError('TM_FORMAT', `${what}: record op ${op} is not allowed in a compacted commit`);
    if (seq < 1 || seq > through) throw new TidemarkError('TM_FORMAT', `${what}: record seq:${seq} beyond through ${through}`);
    if (i > 0 && compareCompacted(records[i - 1]!, rec) >= 0) throw new TidemarkError('TM_FORMAT', `${what}: records out of order at seq:${seq}`);
    records.push(rec);
  }
  const vol = volume ? readCompactedVolume(r, what, through) : undefined;
  if (r.remaining !== 0) throw new TidemarkError('TM_FORMAT', `${what}: ${r.remaining} trailing bytes`);
  return { kind: 'compacted', group, through, generation, points, records, ...(vol ? { volume: vol } : {}) };
}
