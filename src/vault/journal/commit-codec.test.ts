import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeCommit, encodeCommit, encodeCompactedCommit } from './commit-codec.js';
import { EntryKind, isCompacted, type CompactedCommit, type EntryState } from './journal-record.js';

const file: EntryState = {
  kind: EntryKind.file, mode: 0o644, uid: 1000, gid: 1000, mtimeNs: 1_700_000_000_123_456_789n, ctimeNs: 1_700_000_000_987_654_321n,
  ino: 2n ** 63n + 5n, size: 10, extents: [{ id: Buffer.alloc(32, 7), length: 6 }, { id: null, length: 4 }], target: null, link: null,
};
const link: EntryState = { ...file, kind: EntryKind.symlink, size: 0, extents: [], target: Buffer.from('../x'), ino: 9n };

const compacted: CompactedCommit = {
  kind: 'compacted', group: 'g', through: 40, generation: 3,
  points: [{ seq: 2, time: 1000 }, { seq: 17, time: 5000 }, { seq: 40, time: 9000 }],
  records: [
    { op: 'put', seq: 1, path: Buffer.from('a'), entry: file },
    { op: 'put', seq: 1, path: Buffer.from('b'), entry: link },
    { op: 'delete', seq: 17, path: Buffer.from('a') },
    { op: 'put', seq: 33, path: Buffer.from([0x66, 0xff]), entry: { ...file, link: Buffer.from('a') } },
  ],
};

describe('compacted commits (version 2)', () => {
  it('round-trip: points, shared seqs, tombstones, inode numbers above 2^63, hard links', () => {
    const back = decodeCommit(encodeCompactedCommit(compacted), 'test');
    assert.ok(isCompacted(back));
    assert.deepEqual(back, compacted);
  });

  it('version 1 commits still decode as plain commits', () => {
    const plain = { group: 'g', firstSeq: 5, records: [{ op: 'put' as const, seq: 5, time: 1, path: Buffer.from('a'), entry: { ...file, ino: 5n } }] };
    const back = decodeCommit(encodeCommit(plain), 'test');
    assert.equal(isCompacted(back), false);
    assert.deepEqual(back, plain);
  });

  it('refuses to encode records out of order or beyond through', () => {
    assert.throws(() => encodeCompactedCommit({ ...compacted, records: [...compacted.records].reverse() }), /out of order/);
    assert.throws(() => encodeCompactedCommit({ ...compacted, through: 20 }), /beyond through/);
    assert.throws(() => encodeCompactedCommit({ ...compacted, points: [{ seq: 5, time: 0 }, { seq: 5, time: 0 }] }), /out of order/);
  });

  it('rejects damaged encodings with TM_FORMAT, never reading past the end', () => {
    const good = encodeCompactedCommit(compacted);
    for (let cut = 5; cut < good.length; cut += 7) {
      assert.throws(() => decodeCommit(good.subarray(0, cut), 'test'), (e: Error & { code?: string }) => e.code === 'TM_FORMAT', `cut at ${cut}`);
    }
    const bad = Buffer.from(good);
    bad[4] = 9;
    assert.throws(() => decodeCommit(bad, 'test'), /unsupported commit version 9/);
    assert.throws(() => decodeCommit(Buffer.concat([good, Buffer.from([0])]), 'test'), /trailing/);
  });
});

describe('volume records and compacted volume commits (version 3)', () => {
  const id = Buffer.alloc(32, 0xab);
  it('round-trip: vwrite with chunks and holes, vzero, baseline marks', () => {
    const plain = {
      group: 'vol', firstSeq: 7, records: [
        { op: 'vmark' as const, seq: 7, time: 1, mark: 'start' as const, size: 1 << 30 },
        { op: 'vwrite' as const, seq: 8, time: 2, offset: 8192, extents: [{ id, length: 65536 }, { id: null, length: 4096 }] },
        { op: 'vzero' as const, seq: 9, time: 2, offset: 0, length: 4096 },
        { op: 'vmark' as const, seq: 10, time: 3, mark: 'end' as const, size: 1 << 30 },
      ],
    };
    assert.deepEqual(decodeCommit(encodeCommit(plain), 'test'), plain);
  });

  const vc: CompactedCommit = {
    kind: 'compacted', group: 'vol', through: 50, generation: 1, points: [{ seq: 10, time: 1 }, { seq: 50, time: 2 }], records: [],
    volume: {
      baselines: [{ startSeq: 1, endSeq: 10, size: 1 << 20 }, { startSeq: 45, endSeq: null, size: 1 << 20 }],
      runs: [{ seq: 8, block: 0, count: 16, chunk: id, coff: 0 }, { seq: 50, block: 0, count: 1, chunk: null, coff: 0 }, { seq: 9, block: 20, count: 3, chunk: id, coff: 5 }],
    },
  };

  it('round-trip of a compacted volume commit; damaged or disordered ones are refused', () => {
    const enc = encodeCompactedCommit(vc);
    assert.equal(enc[4], 3);
    assert.deepEqual(decodeCommit(enc, 'test'), vc);
    for (let cut = 5; cut < enc.length; cut += 5) {
      assert.throws(() => decodeCommit(enc.subarray(0, cut), 'test'), (e: Error & { code?: string }) => e.code === 'TM_FORMAT', `cut at ${cut}`);
    }
    assert.throws(() => encodeCompactedCommit({ ...vc, volume: { ...vc.volume!, runs: [...vc.volume!.runs].reverse() } }), /out of order/);
    assert.throws(() => encodeCompactedCommit({ ...vc, through: 20 }), /beyond through|invalid/);
  });
});

describe('torn captures (record op 7)', () => {
  const torn: EntryState = { ...file, ino: 5n, torn: true };
  it('a torn put round-trips as op 7 in plain and compacted commits; a clean put stays op 1', () => {
    const plain = { group: 'g', firstSeq: 3, records: [
      { op: 'put' as const, seq: 3, time: 1, path: Buffer.from('a'), entry: torn },
      { op: 'put' as const, seq: 4, time: 1, path: Buffer.from('b'), entry: { ...file, ino: 5n } },
    ] };
    const enc = encodeCommit(plain);
    // "TMJC" · version · group (4 + 1) · first seq (8) · count (4) · time (8): the first op.
    assert.equal(enc[4 + 1 + 5 + 8 + 4 + 8], 7);
    assert.deepEqual(decodeCommit(enc, 'test'), plain);
    const c: CompactedCommit = { ...compacted, records: [{ op: 'put', seq: 1, path: Buffer.from('a'), entry: torn }] };
    assert.deepEqual(decodeCommit(encodeCompactedCommit(c), 'test'), c);
  });

  it('refuses a torn put of anything but a file', () => {
    const enc = encodeCommit({ group: 'g', firstSeq: 1, records: [{ op: 'put', seq: 1, time: 1, path: Buffer.from('l'), entry: link }] });
    enc[4 + 1 + 5 + 8 + 4 + 8] = 7;
    assert.throws(() => decodeCommit(enc, 'test'), /only files can be torn/);
  });
});
