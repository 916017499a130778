import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IndexDb } from './index-db.js';
import { VolumeIndex } from './volume-index.js';

const dir = mkdtempSync(join(tmpdir(), 'tm-volindex-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('VolumeIndex', () => {
  it('blocksAt answers exactly as blockAt does for every block of a range, at every seq', () => {
    const db = new IndexDb(join(dir, 'index.sqlite'));
    try {
      const v = new VolumeIndex(db);
      const g = db.ensureGroup('vol');
      const other = db.ensureGroup('other');
      const chunk = (n: number): Buffer => Buffer.alloc(32, n);
      // Versions with gaps (never-written blocks), zero runs and several rewrites of one region.
      v.putBlocks(g, 0, 16, 1, chunk(1), 0);
      v.putBlocks(g, 20, 8, 2, chunk(2), 3);
      v.putBlocks(g, 4, 4, 3, null, 0);
      v.putBlocks(g, 6, 20, 5, chunk(3), 1);
      v.putBlocks(g, 10, 1, 7, chunk(4), 9);
      v.putBlocks(other, 0, 40, 4, chunk(9), 0);
      for (const seq of [0, 1, 2, 3, 4, 5, 6, 7, 100]) {
        for (const [first, count] of [[0, 40], [3, 1], [5, 7], [26, 2], [30, 5]] as const) {
          const want = Array.from({ length: count }, (_, i) => v.blockAt(g, first + i, seq));
          assert.deepEqual(v.blocksAt(g, first, count, seq), want, `blocks ${first}+${count} at seq ${seq}`);
        }
      }
    } finally {
      db.close();
    }
  });
});
