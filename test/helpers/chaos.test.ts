/**
 * Self-test of the fault-injection helpers: the quick snapshot must equal the reference
 * snapshot of helpers/tree.ts, and the PRNG must be reproducible from its seed.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Prng, quickSnapshot } from './chaos.js';
import { diffTrees, snapshotTree } from './tree.js';

describe('chaos helpers', () => {
  let dir: string;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tidemark-chaos-self-'));
    await fs.mkdir(path.join(dir, 'sub', 'deeper'), { recursive: true });
    await fs.mkdir(path.join(dir, 'empty'));
    await fs.writeFile(path.join(dir, 'a.txt'), 'hello\n');
    await fs.writeFile(path.join(dir, 'sub', 'b.bin'), new Prng(1).bytes(300_000));
    await fs.writeFile(path.join(dir, 'sub', 'deeper', 'c.txt'), '');
    await fs.link(path.join(dir, 'a.txt'), path.join(dir, 'sub', 'a-link.txt'));
    await fs.symlink('a.txt', path.join(dir, 'to-a'));
    await fs.symlink('nowhere', path.join(dir, 'dangling'));
    await fs.writeFile(Buffer.concat([Buffer.from(dir + '/'), Buffer.from([0x66, 0xff])]), 'bytes name');
    await fs.chmod(path.join(dir, 'a.txt'), 0o640);
  });

  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('quickSnapshot sees exactly what snapshotTree sees', async () => {
    const quick = quickSnapshot(dir);
    const ref = await snapshotTree(dir);
    assert.deepEqual(diffTrees(quick, ref, { mtimeToleranceMs: 0 }), []);
    assert.deepEqual([...quick.keys()], [...ref.keys()]);
    assert.deepEqual(quick.get('sub/a-link.txt')?.links, ['a.txt', 'sub/a-link.txt']);
  });

  it('Prng is reproducible from its seed and its bytes do not compress', () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const xs = Array.from({ length: 5 }, () => a.int(0, 1000));
    assert.deepEqual(xs, Array.from({ length: 5 }, () => b.int(0, 1000)));
    assert.ok(new Prng(7).bytes(1000).equals(new Prng(7).bytes(1000)));
    assert.ok(!new Prng(7).bytes(1000).equals(new Prng(8).bytes(1000)));
  });
});
