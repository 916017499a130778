import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seconds } from './restore-times.js';

describe('restored times', () => {
  it('land on the stored microsecond exactly (utimes keeps microseconds; a double near 2026 is not exact to them)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tidemark-times-'));
    try {
      const f = join(dir, 'f');
      writeFileSync(f, 'x');
      // Times with every kind of sub-microsecond tail, around now and far from it.
      const samples = [1_795_451_222_222_000_000n, 1_795_451_222_221_999_999n, 1_795_451_222_222_000_999n, 1_700_000_000_123_456_789n, 86_400_000_000_001n, 4_102_444_800_999_999_000n];
      for (let i = 0n; i < 200n; i++) samples.push(1_795_451_000_000_000_000n + i * 7_777_777_777n + (i % 1000n));
      // Whole milliseconds (as `touch -d` and many tools write them): 1795451221.432 used to come back as .431999.
      for (let ms = 0n; ms < 1000n; ms++) samples.push(1_795_451_221_000_000_000n + ms * 1_000_000n);
      for (const ns of samples) {
        utimesSync(f, seconds(ns), seconds(ns));
        const got = statSync(f, { bigint: true }).mtimeNs;
        assert.equal(got / 1000n, ns / 1000n, `stored ${ns} ns, restored ${got} ns`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
