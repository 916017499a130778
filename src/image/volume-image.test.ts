/**
 * VolumeImage against a real vault written by the volume tap: images of different points
 * served by one process through one shared chunk cache never mix their blocks, and the
 * cache stays within its bound.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initVault, Vault } from '../vault/vault.js';
import { VolumeTap } from '../tap/volume/volume-tap.js';
import { VOLUME_BLOCK } from '../vault/journal/journal-record.js';
import { ChunkCache } from './chunk-cache.js';
import { resolvePoint } from './point.js';
import { VolumeImage } from './volume-image.js';

const ENV = { TIDEMARK_PASSPHRASE: 'volume-image-test' };
const SIZE = 2 * 1024 * 1024;
const CHUNK = 64 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'tm-volimage-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Block `b` as written in round `r`: distinct in every block and round. */
function blockOf(r: number, b: number): Buffer {
  const buf = Buffer.alloc(VOLUME_BLOCK, (r * 31 + b) & 0xff);
  buf.writeUInt32LE(r, 0);
  buf.writeUInt32LE(b, 4);
  return buf;
}

describe('VolumeImage', () => {
  it('images of two points sharing one bounded chunk cache each read their own blocks', async () => {
    initVault(join(dir, 'vault'), { env: ENV });
    const vault = Vault.open(join(dir, 'vault'), { env: ENV, write: true });
    try {
      const tap = VolumeTap.open({ vault, group: 'vol', backing: join(dir, 'backing.img'), size: SIZE, commitIntervalMs: 60_000 });
      await tap.baseline();
      const blocks = SIZE / VOLUME_BLOCK;
      const models: Buffer[] = [];
      const seqs: number[] = [];
      for (let r = 1; r <= 2; r++) {
        const model = Buffer.concat(Array.from({ length: blocks }, (_, b) => blockOf(r, b)));
        // Round 2 rewrites only every other 64 KiB chunk, so the points share some chunks.
        for (let at = 0; at < SIZE; at += CHUNK) {
          if (r === 2 && (at / CHUNK) % 2 === 1) { models[0]!.copy(model, at, at, at + CHUNK); continue; }
          await tap.write(at, model.subarray(at, at + CHUNK), false);
        }
        await tap.flush();
        models.push(model);
        seqs.push(tap.status().lastSeq);
      }
      await tap.close();

      const cache = new ChunkCache(4 * CHUNK);
      const images = seqs.map((s) => new VolumeImage(vault, resolvePoint(vault, 'vol', `seq:${s}`), { cache }));
      let x = 12345;
      const buf = Buffer.alloc(VOLUME_BLOCK);
      for (let i = 0; i < 2000; i++) {
        x = (x * 1103515245 + 12345) >>> 0;
        const which = x & 1;
        const b = (x >>> 8) % blocks;
        images[which]!.read(b * VOLUME_BLOCK, buf);
        assert.ok(buf.equals(models[which]!.subarray(b * VOLUME_BLOCK, (b + 1) * VOLUME_BLOCK)), `image ${which} block ${b}`);
        assert.ok(cache.bytes <= 4 * CHUNK, `${cache.bytes} bytes cached`);
      }
      assert.ok(cache.size > 0);
      // Unaligned reads across blocks and chunks, and past the written region, too.
      for (const [which, off, len] of [[0, 1000, 200_000], [1, CHUNK - 10, 20], [1, SIZE - 5000, 5000]] as const) {
        const out = Buffer.alloc(len);
        images[which]!.read(off, out);
        assert.ok(out.equals(models[which]!.subarray(off, off + len)), `image ${which} at ${off}+${len}`);
      }
    } finally {
      vault.close();
    }
  });
});
