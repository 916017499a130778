import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkCache } from './chunk-cache.js';

const id = (n: number): Buffer => Buffer.alloc(32, n);

describe('ChunkCache', () => {
  it('opens a chunk once and serves it from memory after that', () => {
    const cache = new ChunkCache(1024);
    let opened = 0;
    const open = (i: Buffer): Buffer => { opened++; return Buffer.alloc(100, i[0]); };
    assert.equal(cache.get(id(1), open)[0], 1);
    assert.equal(cache.get(id(1), open)[0], 1);
    assert.equal(opened, 1);
    assert.equal(cache.bytes, 100);
  });

  it('never holds more than its bound, dropping the least recently used chunk first', () => {
    const cache = new ChunkCache(300);
    const opened: number[] = [];
    const open = (i: Buffer): Buffer => { opened.push(i[0]!); return Buffer.alloc(100, i[0]); };
    for (const n of [1, 2, 3]) cache.get(id(n), open);
    cache.get(id(1), open); // 1 is now the most recently used
    cache.get(id(4), open); // drops 2
    assert.equal(cache.bytes, 300);
    assert.equal(cache.size, 3);
    cache.get(id(1), open);
    cache.get(id(3), open);
    assert.deepEqual(opened, [1, 2, 3, 4]);
    cache.get(id(2), open);
    assert.deepEqual(opened, [1, 2, 3, 4, 2]);
    for (let n = 10; n < 100; n++) {
      cache.get(id(n), (i) => Buffer.alloc(50 + n, i[0]));
      assert.ok(cache.bytes <= 300, `${cache.bytes} bytes held`);
    }
  });

  it('does not keep a chunk larger than its bound, nor drop others for it', () => {
    const cache = new ChunkCache(300);
    cache.get(id(1), () => Buffer.alloc(100));
    assert.equal(cache.get(id(2), () => Buffer.alloc(301)).length, 301);
    assert.equal(cache.size, 1);
    assert.equal(cache.bytes, 100);
  });
});
