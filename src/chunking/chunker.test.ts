import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHash, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { Chunker, findBoundary, gearTable } from './chunker.js';
import { DEFAULT_CHUNKER_PARAMS, type ChunkerParams } from './chunker-api.js';
import { TidemarkError } from '../common/errors.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Small limits so that tests see thousands of chunks in a few MiB. */
const SMALL: ChunkerParams = { minSize: 2 * KiB, avgSize: 8 * KiB, maxSize: 64 * KiB };
/** Tiny limits for the property test, whose inputs are at most tens of KiB. */
const TINY: ChunkerParams = { minSize: 256, avgSize: 1024, maxSize: 4096 };

/** Deterministic bytes: the seed is a label, so each test's data is reproducible. */
function seededBytes(label: string, n: number): Uint8Array {
  const key = createHash('sha256').update(label).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return new Uint8Array(cipher.update(Buffer.alloc(n)));
}

/** Mulberry32: a small seeded PRNG for split sizes. Returns floats in [0, 1). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seq32(): Uint8Array {
  return Uint8Array.from({ length: 32 }, (_, i) => i);
}

const GEAR = gearTable(seq32());

/** Chunk a whole buffer with the pure function only. */
function chunkWhole(data: Uint8Array, params: ChunkerParams, gear: Uint32Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let pos = 0;
  for (let len = findBoundary(data, pos, data.length, params, gear); len > 0;
    len = findBoundary(data, pos, data.length, params, gear)) {
    out.push(data.subarray(pos, pos + len));
    pos += len;
  }
  if (pos < data.length) out.push(data.subarray(pos));
  return out;
}

/**
 * Stream `data` through a Chunker in blocks of the sizes `nextSize` yields. Each block is a
 * fresh copy, as a caller reading a file would pass, so aliasing bugs cannot hide behind a
 * shared input buffer; all chunks are collected before anyone inspects them.
 */
function chunkStream(data: Uint8Array, params: ChunkerParams, gear: Uint32Array,
  nextSize: () => number, chunker = new Chunker(params, gear)): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let off = 0; off < data.length;) {
    const n = Math.max(1, Math.min(nextSize(), data.length - off));
    out.push(...chunker.push(data.slice(off, off + n)));
    off += n;
  }
  const last = chunker.finish();
  if (last !== null) out.push(last);
  return out;
}

function lengths(chunks: readonly Uint8Array[]): number[] {
  return chunks.map((c) => c.length);
}

/** Concatenation reproduces the input; sizes respect the limits. */
function assertValid(chunks: readonly Uint8Array[], input: Uint8Array, p: ChunkerParams): void {
  assert.ok(Buffer.concat(chunks).equals(input), 'chunks do not concatenate to the input');
  chunks.forEach((c, i) => {
    assert.ok(c.length > 0, `chunk ${i} is empty`);
    assert.ok(c.length <= p.maxSize, `chunk ${i} has ${c.length} bytes > maxSize ${p.maxSize}`);
    if (i < chunks.length - 1) {
      assert.ok(c.length >= p.minSize, `chunk ${i} of ${chunks.length} has ${c.length} bytes < minSize ${p.minSize}`);
    }
  });
}

/**
 * deepEqual for long lists, reporting the first difference: node's assert diff of two lists
 * of thousands of entries is quadratic and would make a failing test look like a hang.
 */
function assertSameList<T extends string | number>(actual: readonly T[], expected: readonly T[], what = 'lists'): void {
  const n = Math.min(actual.length, expected.length);
  for (let i = 0; i < n; i++) {
    if (actual[i] !== expected[i]) assert.fail(`${what} differ first at index ${i}: ${actual[i]} !== ${expected[i]}`);
  }
  if (actual.length !== expected.length) {
    assert.fail(`${what} have ${actual.length} entries, expected ${expected.length}`);
  }
}

function sha256Hex(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

function assertUsage(fn: () => unknown, pattern?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof TidemarkError, `expected TidemarkError, got ${String(err)}`);
    assert.equal(err.code, 'TM_USAGE');
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

/**
 * The cut rule of docs/FORMAT.md, written as plainly as possible and independently of the
 * optimised code: every window hash is recomputed from scratch, and the mask test is phrased
 * as "the top n bits are zero".
 */
function referenceChunks(data: Uint8Array, p: ChunkerParams, gear: Uint32Array): number[] {
  const bits = Math.log2(p.avgSize);
  const windowHash = (j: number): number => {
    let h = 0;
    for (let k = 0; k < 32; k++) h = (h + ((gear[data[j - k]] << k) >>> 0)) >>> 0;
    return h;
  };
  const out: number[] = [];
  let s = 0;
  while (s < data.length) {
    let len = 0;
    for (let L = p.minSize; L <= p.maxSize && s + L <= data.length; L++) {
      const n = L < p.avgSize ? bits + 2 : bits - 2;
      if (windowHash(s + L - 1) >>> (32 - n) === 0 || L === p.maxSize) {
        len = L;
        break;
      }
    }
    if (len === 0) len = data.length - s;
    out.push(len);
    s += len;
  }
  return out;
}

describe('gearTable', { timeout: 60_000 }, () => {
  it('is HKDF-SHA-256(seed, salt="", info="tidemark/gear-table/v1", 1024) read as little-endian u32', () => {
    // RFC 5869 spelled out with HMAC, so the documented derivation is checked, not restated.
    const seed = seq32();
    const prk = createHmac('sha256', Buffer.alloc(32)).update(seed).digest();
    const info = Buffer.from('tidemark/gear-table/v1', 'ascii');
    assert.equal(info.length, 22);
    const blocks: Buffer[] = [];
    let prev = Buffer.alloc(0);
    for (let i = 1; i <= 32; i++) {
      prev = createHmac('sha256', prk).update(Buffer.concat([prev, info, Buffer.of(i)])).digest();
      blocks.push(prev);
    }
    const okm = Buffer.concat(blocks);
    const expected = Array.from({ length: 256 }, (_, i) =>
      (okm[4 * i] | (okm[4 * i + 1] << 8) | (okm[4 * i + 2] << 16) | (okm[4 * i + 3] << 24)) >>> 0);
    assert.deepEqual(Array.from(gearTable(seed)), expected);
  });

  it('matches the pinned known answer (changing it breaks dedup with existing vaults)', () => {
    assert.deepEqual(Array.from(GEAR.subarray(0, 4)), KNOWN_GEAR_HEAD);
    assert.deepEqual(Array.from(gearTable(new Uint8Array(32)).subarray(0, 2)), KNOWN_GEAR_ZERO_SEED_HEAD);
  });

  it('is deterministic and seed-dependent', () => {
    assert.equal(GEAR.length, 256);
    assert.deepEqual(gearTable(seq32()), GEAR);
    const other = seq32();
    other[31] ^= 1;
    const g2 = gearTable(other);
    const same = GEAR.filter((v, i) => v === g2[i]).length;
    assert.ok(same < 4, `${same} of 256 entries unchanged by a one-bit seed change`);
    assert.ok(new Set(GEAR).size > 250, 'entries should be essentially distinct');
  });

  it('rejects seeds that are not 32 bytes', () => {
    assertUsage(() => gearTable(new Uint8Array(31)), /32 bytes/);
    assertUsage(() => gearTable(new Uint8Array(33)), /32 bytes/);
    assertUsage(() => gearTable(new Uint8Array(0)), /32 bytes/);
  });
});

// Pinned outputs. The gear values were also computed with Python's hmac module from the
// documented derivation; the cuts are cross-checked by the reference test below. They
// exist so that an accidental change to the derivation or the cut rule fails loudly instead of
// silently ruining deduplication.
const KNOWN_GEAR_HEAD = [0x6433fa67, 0x15b4648f, 0x8be45aa6, 0x8821a921]; // seed 00 01 .. 1f
const KNOWN_GEAR_ZERO_SEED_HEAD = [0x395d475b, 0x2d9fb8b6]; // seed of 32 zero bytes
// SMALL params, seed 00 01 .. 1f, data = seededBytes('known answer', 256 KiB).
const KNOWN_CUTS_SMALL = [8299, 12573, 10469, 2860, 20357, 17154, 9405, 9321, 10512, 10121, 3437, 8784, 9631,
  8643, 9105, 10499, 5730, 10148, 10311, 11820, 11000, 15325, 8580, 5038, 11137, 11885];

describe('parameter validation', { timeout: 60_000 }, () => {
  const bad: [string, ChunkerParams, RegExp][] = [
    ['min below 64', { minSize: 32, avgSize: 128, maxSize: 512 }, /minSize must be at least 64/],
    ['min = avg', { minSize: 1024, avgSize: 1024, maxSize: 4096 }, /less than avgSize/],
    ['min > avg', { minSize: 4096, avgSize: 1024, maxSize: 8192 }, /less than avgSize/],
    ['avg = max', { minSize: 256, avgSize: 1024, maxSize: 1024 }, /less than maxSize/],
    ['avg > max', { minSize: 256, avgSize: 2048, maxSize: 1024 }, /less than maxSize/],
    ['avg not a power of two', { minSize: 1024, avgSize: 3000, maxSize: 8192 }, /power of two/],
    ['fractional', { minSize: 256, avgSize: 1024.5, maxSize: 4096 }, /integer/],
    ['NaN', { minSize: Number.NaN, avgSize: 1024, maxSize: 4096 }, /integer/],
    ['Infinity', { minSize: 256, avgSize: 1024, maxSize: Number.POSITIVE_INFINITY }, /integer/],
    ['negative', { minSize: -256, avgSize: 1024, maxSize: 4096 }, /at least 64/],
    ['max above 1 GiB', { minSize: 1024, avgSize: 2 ** 29, maxSize: 2 ** 30 + 1 }, /at most/],
  ];
  for (const [name, params, pattern] of bad) {
    it(`rejects ${name} with TM_USAGE`, () => {
      assertUsage(() => new Chunker(params, GEAR), pattern);
      assertUsage(() => findBoundary(new Uint8Array(10), 0, 10, params, GEAR), pattern);
    });
  }

  it('accepts the defaults and the extremes of the valid range', () => {
    for (const p of [DEFAULT_CHUNKER_PARAMS, { minSize: 64, avgSize: 128, maxSize: 129 },
      { minSize: 64, avgSize: 2 ** 29, maxSize: 2 ** 30 }]) {
      assert.doesNotThrow(() => new Chunker(p, GEAR));
    }
  });

  it('rejects a gear table that is not 256 entries and ranges outside the buffer', () => {
    assertUsage(() => new Chunker(SMALL, new Uint32Array(255)), /256/);
    assertUsage(() => findBoundary(new Uint8Array(10), 0, 10, SMALL, new Uint32Array(512)), /256/);
    assertUsage(() => findBoundary(new Uint8Array(10), 0, 11, SMALL, GEAR), /range/);
    assertUsage(() => findBoundary(new Uint8Array(10), 6, 5, SMALL, GEAR), /range/);
    assertUsage(() => findBoundary(new Uint8Array(10), -1, 5, SMALL, GEAR), /range/);
  });
});

describe('findBoundary', { timeout: 60_000 }, () => {
  // Degenerate tables make the hash of zero bytes constant, which pins each branch of the rule.
  const zeros = new Uint8Array(200 * KiB);

  it('cuts at exactly minSize when every hash matches', () => {
    const g = new Uint32Array(256); // hash is always 0
    assert.equal(findBoundary(zeros, 0, zeros.length, SMALL, g), SMALL.minSize);
    assert.equal(findBoundary(zeros, 5, 5 + SMALL.minSize, SMALL, g), SMALL.minSize);
    assert.equal(findBoundary(zeros, 0, SMALL.minSize - 1, SMALL, g), 0, 'fewer than minSize bytes decide nothing');
    assert.equal(findBoundary(zeros, 7, 7, SMALL, g), 0);
  });

  it('switches from the strict to the loose mask at exactly avgSize', () => {
    // Hash of a zero window = -gear[0] mod 2^32 = 0x00100000: the top 11 bits (loose mask,
    // log2(8192) - 2) are zero, the top 15 (strict mask) are not.
    const g = new Uint32Array(256).fill(0xfff00000);
    assert.equal(findBoundary(zeros, 0, zeros.length, SMALL, g), SMALL.avgSize);
    assert.equal(findBoundary(zeros, 0, SMALL.avgSize, SMALL, g), SMALL.avgSize);
    assert.equal(findBoundary(zeros, 0, SMALL.avgSize - 1, SMALL, g), 0);
    // 0x00010000 has its top 15 bits zero: the strict mask matches at minSize already.
    assert.equal(findBoundary(zeros, 0, zeros.length, SMALL, new Uint32Array(256).fill(0xffff0000)), SMALL.minSize);
  });

  it('tests a full 32-byte window from the first candidate cut on', () => {
    // Only byte value 1 contributes to the hash. A 1 that is the oldest byte of the window
    // ending at length minSize sets the top bit (1 << 31), so there is no cut at minSize; one
    // byte later it has left the window and the hash is 0.
    const g = new Uint32Array(256);
    g[1] = 1;
    for (const start of [0, 100]) {
      const data = new Uint8Array(start + SMALL.minSize + 100);
      data[start + SMALL.minSize - 32] = 1;
      assert.equal(findBoundary(data, start, data.length, SMALL, g), SMALL.minSize + 1);
      data[start + SMALL.minSize - 32] = 0;
      data[start + SMALL.minSize - 33] = 1; // outside every tested window
      assert.equal(findBoundary(data, start, data.length, SMALL, g), SMALL.minSize);
    }
  });

  it('cuts at maxSize when nothing matches, and needs maxSize bytes to say so', () => {
    const g = new Uint32Array(256).fill(0x80000000); // hash is always 0x80000000: never matches
    assert.equal(findBoundary(zeros, 0, zeros.length, SMALL, g), SMALL.maxSize);
    assert.equal(findBoundary(zeros, 3, 3 + SMALL.maxSize, SMALL, g), SMALL.maxSize);
    assert.equal(findBoundary(zeros, 0, SMALL.maxSize - 1, SMALL, g), 0);
  });

  it('depends only on the bytes from start, not on their position in the buffer', () => {
    const data = seededBytes('offset', 512 * KiB);
    for (const start of [0, 1, 1000, 77777]) {
      const a = findBoundary(data, start, data.length, SMALL, GEAR);
      const b = findBoundary(data.slice(start), 0, data.length - start, SMALL, GEAR);
      assert.equal(a, b);
      assert.ok(a >= SMALL.minSize && a <= SMALL.maxSize);
    }
  });

  it('implements the documented cut rule (checked against a naive reference)', () => {
    const data = seededBytes('reference', 1 * MiB);
    const expected = referenceChunks(data, SMALL, GEAR);
    assert.ok(expected.length > 50);
    assertSameList(lengths(chunkWhole(data, SMALL, GEAR)), expected);
    const tinyData = data.subarray(0, 64 * KiB);
    assertSameList(lengths(chunkWhole(tinyData, TINY, GEAR)), referenceChunks(tinyData, TINY, GEAR));
  });

  it('produces the pinned known-answer boundaries', () => {
    const data = seededBytes('known answer', 256 * KiB);
    assertSameList(lengths(chunkWhole(data, SMALL, GEAR)), KNOWN_CUTS_SMALL);
  });
});

describe('Chunker', { timeout: 60_000 }, () => {
  it('reproduces inputs of edge-case sizes exactly', () => {
    for (const p of [SMALL, DEFAULT_CHUNKER_PARAMS]) {
      const sizes = [0, 1, p.minSize - 1, p.minSize, p.minSize + 1, p.avgSize, p.maxSize - 1, p.maxSize,
        p.maxSize + 1, 2 * p.maxSize, 3 * p.maxSize + 17, 6 * MiB + 3];
      const big = seededBytes(`sizes ${p.avgSize}`, Math.max(...sizes));
      for (const size of sizes) {
        const input = big.subarray(0, size);
        const whole = chunkStream(input, p, GEAR, () => size);
        assertValid(whole, input, p);
        assertSameList(lengths(whole), lengths(chunkWhole(input, p, GEAR)), `chunk lengths for ${size} bytes`);
        if (size === 0) assert.equal(whole.length, 0);
        if (size > 0 && size <= p.minSize) assert.equal(whole.length, 1);
      }
    }
  });

  it('finish() returns null when nothing is pending and makes the chunker reusable', () => {
    const c = new Chunker(SMALL, GEAR);
    assert.equal(c.finish(), null);
    assert.deepEqual(c.push(new Uint8Array(0)), []);
    assert.equal(c.finish(), null);
    const a = seededBytes('reuse a', 300 * KiB);
    const b = seededBytes('reuse b', 300 * KiB);
    // Leave the first stream mid-chunk so that any leftover state would corrupt the second.
    const first = chunkStream(a, SMALL, GEAR, () => 7 * KiB, c);
    const second = chunkStream(b, SMALL, GEAR, () => 7 * KiB, c);
    assertValid(first, a, SMALL);
    assertSameList(lengths(second), lengths(chunkWhole(b, SMALL, GEAR)));
    assertValid(second, b, SMALL);
  });

  it('gives the same chunks for random push sizes from 1 byte to 8 MiB', () => {
    for (const [p, size] of [[SMALL, 3 * MiB], [DEFAULT_CHUNKER_PARAMS, 24 * MiB]] as const) {
      const data = seededBytes(`random pushes ${size}`, size);
      const expected = lengths(chunkWhole(data, p, GEAR));
      for (let seed = 1; seed <= 3; seed++) {
        const rnd = prng(seed);
        // Log-uniform sizes, so tiny and huge pushes are both common.
        const chunks = chunkStream(data, p, GEAR, () => Math.floor(2 ** (rnd() * 23)));
        assertValid(chunks, data, p);
        assertSameList(lengths(chunks), expected, `chunk lengths with PRNG seed ${seed}`);
      }
    }
  });

  it('gives the same chunks for push sizes 1 byte, 1 KiB, 64 KiB, 3 MiB, mixed and the whole buffer', () => {
    for (const [p, size] of [[SMALL, 2 * MiB], [DEFAULT_CHUNKER_PARAMS, 12 * MiB]] as const) {
      const data = seededBytes(`fixed pushes ${size}`, size);
      const reference = chunkStream(data, p, GEAR, () => size);
      assertValid(reference, data, p);
      assert.ok(reference.length > 5);
      const refHashes = reference.map(sha256Hex);
      for (const block of [KiB, 64 * KiB, 3 * MiB, size]) {
        assertSameList(chunkStream(data, p, GEAR, () => block).map(sha256Hex), refHashes, `chunks with push size ${block}`);
      }
      // One large block, then many small ones: a pending chunk made of both kinds of parts.
      let k = 0;
      assertSameList(chunkStream(data, p, GEAR, () => (k++ % 300 === 0 ? 100 * KiB : KiB)).map(sha256Hex),
        refHashes, 'chunks with mixed push sizes');
      if (p === SMALL) {
        assertSameList(chunkStream(data.subarray(0, 200 * KiB), p, GEAR, () => 1).map(sha256Hex),
          chunkWhole(data.subarray(0, 200 * KiB), p, GEAR).map(sha256Hex), 'push size 1');
      }
    }
  });

  it('returns chunks that stay valid after later pushes', () => {
    const data = seededBytes('aliasing', 2 * MiB);
    const c = new Chunker(SMALL, GEAR);
    const kept: { chunk: Uint8Array; copy: Uint8Array }[] = [];
    for (let off = 0; off < data.length; off += 3000) {
      for (const chunk of c.push(data.slice(off, off + 3000))) kept.push({ chunk, copy: chunk.slice() });
    }
    const last = c.finish();
    if (last !== null) kept.push({ chunk: last, copy: last.slice() });
    // A second stream through the same chunker must not write into the first stream's chunks.
    chunkStream(seededBytes('aliasing 2', 1 * MiB), SMALL, GEAR, () => 3000, c);
    for (const { chunk, copy } of kept) assert.ok(Buffer.from(chunk).equals(copy));
    assertValid(kept.map((k) => k.chunk), data, SMALL);
  });

  it('assembles chunks from one large push followed by many small ones', () => {
    // With an all-zero table every window matches, so each chunk is exactly minSize: a
    // 64 KiB push (kept as a view) then 1 KiB pushes (staged) fill each chunk, and the staging
    // buffer has grown large enough to hold the whole chunk, not just its staged part.
    const g = new Uint32Array(256);
    const data = seededBytes('large then small', 3 * MiB);
    let k = 0;
    const chunks = chunkStream(data, DEFAULT_CHUNKER_PARAMS, g, () => (k++ === 0 ? 64 * KiB : KiB));
    assertValid(chunks, data, DEFAULT_CHUNKER_PARAMS);
    assert.equal(chunks.length, 12);
    assert.ok(chunks.every((c) => c.length === DEFAULT_CHUNKER_PARAMS.minSize));
  });

  it('keeps the average chunk size within 0.5x..2x of avgSize on 64 MiB of random data', () => {
    const data = seededBytes('average', 64 * MiB);
    for (const p of [SMALL, DEFAULT_CHUNKER_PARAMS]) {
      const chunks = chunkStream(data, p, GEAR, () => 4 * MiB);
      assertValid(chunks, data, p);
      const mean = data.length / chunks.length;
      assert.ok(mean >= 0.5 * p.avgSize && mean <= 2 * p.avgSize,
        `mean ${Math.round(mean)} for avgSize ${p.avgSize}`);
      // Normalization should keep forced cuts at maxSize rare.
      const atMax = chunks.filter((c) => c.length === p.maxSize).length;
      assert.ok(atMax <= chunks.length * 0.01 + 1, `${atMax} of ${chunks.length} chunks hit maxSize`);
    }
  });

  it('resists shifts: inserting 100 bytes in 16 MiB changes at most 3 chunks', () => {
    const data = seededBytes('shift', 16 * MiB);
    const insert = seededBytes('inserted', 100);
    const mid = 8 * MiB + 12345;
    const edited = Buffer.concat([data.subarray(0, mid), insert, data.subarray(mid)]);
    for (const p of [SMALL, DEFAULT_CHUNKER_PARAMS]) {
      const before = chunkStream(data, p, GEAR, () => 4 * MiB).map(sha256Hex);
      const after = chunkStream(edited, p, GEAR, () => 4 * MiB).map(sha256Hex);
      const old = new Set(before);
      const fresh = after.filter((h) => !old.has(h)).length;
      const lost = before.filter((h) => !new Set(after).has(h)).length;
      assert.ok(fresh >= 1 && fresh <= 3, `${fresh} new chunks of ${after.length} (avgSize ${p.avgSize})`);
      assert.ok(lost <= 3, `${lost} old chunks gone (avgSize ${p.avgSize})`);
    }
  });

  it('keys boundaries by seed: same seed, same chunks; different seed, different chunks', () => {
    const data = seededBytes('seeds', 4 * MiB);
    const cuts = (g: Uint32Array): number[] => {
      let pos = 0;
      return chunkStream(data, SMALL, g, () => MiB).map((c) => (pos += c.length));
    };
    const a = cuts(gearTable(seq32()));
    assertSameList(cuts(gearTable(seq32())), a);
    const otherSeed = seq32().reverse();
    const b = cuts(gearTable(otherSeed));
    assert.notDeepEqual(b, a);
    const shared = b.filter((x) => new Set(a).has(x)).length;
    assert.ok(shared < a.length / 10, `${shared} of ${a.length} cut points shared across seeds`);
  });

  it('chunks 20 MiB of zeros validly and identically (sparse files)', () => {
    const zeros = new Uint8Array(20 * MiB);
    for (const p of [SMALL, DEFAULT_CHUNKER_PARAMS]) {
      for (const block of [4 * MiB, 100 * KiB + 1]) {
        const chunks = chunkStream(zeros, p, GEAR, () => block);
        assertValid(chunks, zeros, p);
        // The window hash of zeros is constant, so every full chunk has the same length
        // and deduplicates to one stored chunk.
        assert.equal(new Set(lengths(chunks.slice(0, -1))).size, 1);
      }
    }
  });

  it('property: any split of any data gives the chunks of the unsplit data', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          // size 'max': fast-check's default size would keep arrays to a few dozen bytes.
          fc.uint8Array({ maxLength: 40 * KiB, size: 'max' }),
          fc.integer({ min: 0, max: 40 * KiB }).map((n) => seededBytes(`fc ${n}`, n)),
        ),
        fc.array(fc.nat({ max: 40 * KiB }), { maxLength: 30, size: 'max' }),
        (data, rawSplits) => {
          const splits = [...new Set(rawSplits.map((s) => s % (data.length + 1)))].sort((x, y) => x - y);
          const c = new Chunker(TINY, GEAR);
          const got: Uint8Array[] = [];
          let prev = 0;
          for (const s of [...splits, data.length]) {
            got.push(...c.push(data.slice(prev, s)));
            prev = s;
          }
          const last = c.finish();
          if (last !== null) got.push(last);
          assertValid(got, data, TINY);
          assertSameList(got.map(sha256Hex), chunkWhole(data, TINY, GEAR).map(sha256Hex));
        },
      ),
      // Shrinking 40 KiB arrays could run for minutes; a bounded, still-failing result is enough.
      { numRuns: 30, seed: 0x71de, interruptAfterTimeLimit: 10_000, markInterruptAsFailure: true },
    );
  });
});
