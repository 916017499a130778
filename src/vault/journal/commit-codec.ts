/**
 * Binary encoding of journal commits and extent lists (docs/FORMAT.md, "Journal commits").
 *
 *   commit  "TMJC" | version u8 (=1) | group (u32 len + UTF-8) | first seq u64 | count u32 | records
 *   record  time i64 (ms) | op u8 (1 put, 2 delete, 3 rename) | path (u32 len + bytes) | body
 *   put     kind u8 | mode u32 | uid u32 | gid u32 | mtime ns i64 | ctime ns i64 | ino u64 |
 *           size u64 | link (u32 len + bytes, 0 = none) | extents (files) or target (symlinks)
 *   rename  from (u32 len + bytes)
 *   extents count u32, then per extent: flag u8 (0 stored, 1 zeros) | length u32 | id (32, stored only)
 * The seq of record i is first seq + i.
 */
import { ByteReader, ByteWriter } from '../../common/byte-io.js';
import { TidemarkError } from '../../common/errors.js';
import { EntryKind, type EntryKindCode, type EntryState, type Extent, type JournalCommit, type JournalRecord } from './journal-record.js';

const MAGIC = Buffer.from('TMJC');
const OP = { put: 1, delete: 2, rename: 3 } as const;

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

export function encodeCommit(c: JournalCommit): Buffer {
  const w = new ByteWriter(1024 + c.records.length * 128);
  w.bytes(MAGIC).u8(1).lbytes(Buffer.from(c.group, 'utf8')).u64(c.firstSeq).u32(c.records.length);
  c.records.forEach((rec, i) => {
    if (rec.seq !== c.firstSeq + i) throw new TidemarkError('TM_INTERNAL', `commit records out of sequence at ${rec.seq}`);
    w.i64(rec.time).u8(OP[rec.op]).lbytes(rec.path);
    if (rec.op === 'put') {
      const e = rec.entry;
      w.u8(e.kind).u32(e.mode).u32(e.uid).u32(e.gid).i64(e.mtimeNs).i64(e.ctimeNs).u64(e.ino).u64(e.size).lbytes(e.link ?? Buffer.alloc(0));
      if (e.kind === EntryKind.file) writeExtents(w, e.extents);
      else if (e.kind === EntryKind.symlink) w.lbytes(e.target ?? Buffer.alloc(0));
    } else if (rec.op === 'rename') {
      w.lbytes(rec.from);
    }
  });
  return Buffer.from(w.view());
}

export function decodeCommit(buf: Buffer, what: string): JournalCommit {
  const r = new ByteReader(buf, what);
  if (!r.bytes(4).equals(MAGIC)) throw new TidemarkError('TM_FORMAT', `${what} is not a journal commit`);
  const version = r.u8();
  if (version !== 1) throw new TidemarkError('TM_FORMAT', `${what}: unsupported commit version ${version}`);
  const group = r.lbytes().toString('utf8');
  const firstSeq = r.num64();
  const count = r.u32();
  const records: JournalRecord[] = [];
  for (let i = 0; i < count; i++) {
    const seq = firstSeq + i;
    const time = Number(r.i64());
    const op = r.u8();
    const path = Buffer.from(r.lbytes());
    if (op === OP.put) {
      const kind = r.u8();
      if (kind !== EntryKind.file && kind !== EntryKind.dir && kind !== EntryKind.symlink) throw new TidemarkError('TM_FORMAT', `${what}: unknown entry kind ${kind}`);
      const entry: EntryState = {
        kind: kind as EntryKindCode, mode: r.u32(), uid: r.u32(), gid: r.u32(), mtimeNs: r.i64(), ctimeNs: r.i64(), ino: r.u64(),
        size: r.num64(), link: null, extents: [], target: null,
      };
      const link = r.lbytes();
      if (link.length > 0) entry.link = Buffer.from(link);
      if (kind === EntryKind.file) entry.extents = readExtents(r);
      else if (kind === EntryKind.symlink) entry.target = Buffer.from(r.lbytes());
      records.push({ op: 'put', seq, time, path, entry });
    } else if (op === OP.delete) {
      records.push({ op: 'delete', seq, time, path });
    } else if (op === OP.rename) {
      records.push({ op: 'rename', seq, time, path, from: Buffer.from(r.lbytes()) });
    } else {
      throw new TidemarkError('TM_FORMAT', `${what}: unknown record op ${op}`);
    }
  }
  if (r.remaining !== 0) throw new TidemarkError('TM_FORMAT', `${what}: ${r.remaining} trailing bytes`);
  return { group, firstSeq, records };
}
