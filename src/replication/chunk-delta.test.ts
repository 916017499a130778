import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { decodeDelta, encodeDelta } from './chunk-delta.js';

describe('chunk deltas', () => {
  it('an edit inside a 1 MiB chunk costs about its size, and decodes to the chunk exactly', () => {
    const base = randomBytes(1 << 20);
    const target = Buffer.from(base);
    randomBytes(20_000).copy(target, 600_000);
    const d = encodeDelta(target, base);
    assert.ok(d.length < 22_000, `delta of ${d.length} bytes`);
    assert.deepEqual(decodeDelta(d, base, target.length, 'test'), target);
  });

  it('refuses another length; against another base it rebuilds other bytes (refused by the id check)', () => {
    const base = randomBytes(100_000);
    const target = Buffer.concat([base.subarray(0, 50_000), randomBytes(10), base.subarray(50_000)]);
    const d = encodeDelta(target, base);
    assert.throws(() => decodeDelta(d, base, target.length - 1, 'test'), { code: 'TM_CORRUPT' });
    assert.notDeepEqual(decodeDelta(d, randomBytes(100_000), target.length, 'test'), target);
  });
});
