/**
 * Self-test of the tree snapshot helpers the end-to-end tests rely on: they must see every
 * difference a restore could get wrong, and none where a faithful copy (`cp -a`) is made.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assertSameTree, diffTrees, snapshotTree, subtreeOf, sha256, type Snapshot } from './tree.js';

const exec = promisify(execFile);
const NON_UTF8 = Buffer.from([0x66, 0xff, 0xfe]);

async function build(dir: string): Promise<void> {
  await fs.mkdir(path.join(dir, 'sub', 'deeper'), { recursive: true });
  await fs.mkdir(path.join(dir, 'empty'));
  await fs.writeFile(path.join(dir, 'a.txt'), 'hello\n');
  await fs.writeFile(path.join(dir, 'sub', 'b.bin'), Buffer.from([0, 1, 2, 3]));
  await fs.writeFile(path.join(dir, 'sub', 'deeper', 'c.txt'), '');
  await fs.link(path.join(dir, 'a.txt'), path.join(dir, 'sub', 'a-link.txt'));
  await fs.link(path.join(dir, 'sub', 'b.bin'), path.join(dir, 'sub', 'deeper', 'b-link.bin'));
  await fs.symlink('a.txt', path.join(dir, 'to-a'));
  await fs.symlink('nowhere/at/all', path.join(dir, 'dangling'));
  await fs.writeFile(Buffer.concat([Buffer.from(dir + '/'), NON_UTF8]), 'bytes name');
  await fs.chmod(path.join(dir, 'a.txt'), 0o640);
  await fs.chmod(path.join(dir, 'empty'), 0o755);
  const past = new Date('2001-02-03T04:05:06.789Z');
  await fs.utimes(path.join(dir, 'sub', 'deeper'), past, past);
}

describe('tree snapshot helpers', () => {
  let tmp: string;
  let src: string;
  let snap: Snapshot;

  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tidemark-tree-'));
    src = path.join(tmp, 'src');
    await fs.mkdir(src);
    await build(src);
    snap = await snapshotTree(src);
  });
  after(async () => { await fs.rm(tmp, { recursive: true, force: true }); });

  it('records every entry below the directory with type, mode, size, hash, target, mtime', () => {
    assert.deepEqual([...snap.keys()].sort(), [
      '<hex:66fffe>', 'a.txt', 'dangling', 'empty', 'sub', 'sub/a-link.txt', 'sub/b.bin', 'sub/deeper',
      'sub/deeper/b-link.bin', 'sub/deeper/c.txt', 'to-a',
    ]);
    const a = snap.get('a.txt');
    assert.equal(a?.type, 'file');
    assert.equal(a?.mode, 0o640);
    assert.equal(a?.size, 6);
    assert.equal(a?.sha256, sha256('hello\n'));
    assert.deepEqual(a?.links, ['a.txt', 'sub/a-link.txt']);
    assert.deepEqual(snap.get('sub/b.bin')?.links, ['sub/b.bin', 'sub/deeper/b-link.bin']);
    assert.equal(snap.get('sub/deeper/c.txt')?.size, 0);
    assert.equal(snap.get('sub/deeper/c.txt')?.links, undefined);
    assert.equal(snap.get('sub/deeper')?.mtimeMs, Date.parse('2001-02-03T04:05:06.789Z'));
    assert.equal(snap.get('dangling')?.type, 'symlink');
    assert.equal(Buffer.from(snap.get('dangling')?.target ?? '', 'hex').toString(), 'nowhere/at/all');
    assert.equal(snap.get('dangling')?.mtimeMs, undefined);
    assert.equal(snap.get('empty')?.type, 'dir');
    assert.equal(snap.get('<hex:66fffe>')?.sha256, sha256('bytes name'));
  });

  it('finds no difference between a tree and a faithful copy of it (cp -a)', async () => {
    const copy = path.join(tmp, 'copy');
    await fs.mkdir(copy);
    await exec('cp', ['-a', `${src}/.`, copy]);
    assertSameTree(await snapshotTree(copy), snap);
  });

  it('reports content, mode, mtime, symlink target, hard link and missing/extra entries', async () => {
    const copy = path.join(tmp, 'broken');
    await fs.mkdir(copy);
    await exec('cp', ['-a', `${src}/.`, copy]);
    await fs.writeFile(path.join(copy, 'sub', 'b.bin'), Buffer.from([9, 9, 9, 9]));
    await fs.utimes(path.join(copy, 'sub', 'b.bin'), new Date(), snap.get('sub/b.bin')?.mtimeMs ?? 0);
    await fs.chmod(path.join(copy, 'empty'), 0o700);
    await fs.unlink(path.join(copy, 'dangling'));
    await fs.symlink('elsewhere', path.join(copy, 'dangling'));
    // Break the a.txt hard link: replace the second name by a copy.
    await fs.unlink(path.join(copy, 'sub', 'a-link.txt'));
    await fs.copyFile(path.join(copy, 'a.txt'), path.join(copy, 'sub', 'a-link.txt'));
    await fs.unlink(path.join(copy, 'to-a'));
    await fs.writeFile(path.join(copy, 'extra'), 'x');
    const future = new Date('2030-01-01T00:00:00Z');
    await fs.utimes(path.join(copy, 'sub', 'deeper'), future, future);
    const diffs = diffTrees(await snapshotTree(copy), snap);
    const text = diffs.join('\n');
    assert.match(text, /"sub\/b\.bin": content differs/);
    assert.match(text, /"empty": mode expected 0o755, got 0o700/);
    assert.match(text, /"dangling": symlink target expected "nowhere\/at\/all", got "elsewhere"/);
    assert.match(text, /"a\.txt": hard links expected \["a\.txt", "sub\/a-link\.txt"\], got none/);
    assert.match(text, /missing: "to-a"/);
    assert.match(text, /unexpected: "extra"/);
    assert.match(text, /"sub\/deeper": mtime expected 2001-02-03T04:05:06\.789Z, got 2030/);
    assert.throws(() => assertSameTree(new Map(), snap, { label: 'x' }), /x: trees differ in 11 place\(s\)/);
  });

  it('tolerates 1 ms of mtime rounding and nothing more', async () => {
    // A round trip through a JS Date (whole ms, then float seconds) may land just below.
    const copy = path.join(tmp, 'mtimes');
    await fs.mkdir(copy);
    await exec('cp', ['-a', `${src}/.`, copy]);
    const a = snap.get('a.txt');
    assert.ok(a?.mtimeMs !== undefined);
    await fs.utimes(path.join(copy, 'a.txt'), new Date(), new Date(a.mtimeMs));
    await fs.utimes(path.join(copy, 'sub', 'deeper'), new Date(), new Date(snap.get('sub/deeper')?.mtimeMs ?? 0));
    assertSameTree(await snapshotTree(copy), snap);
    const shifted = (delta: number): Snapshot => new Map(snap).set('a.txt', { ...a, mtimeMs: (a.mtimeMs ?? 0) + delta });
    assertSameTree(shifted(-1), snap);
    assertSameTree(shifted(1), snap);
    assert.throws(() => assertSameTree(shifted(-2), snap), /"a\.txt": mtime expected/);
    assert.throws(() => assertSameTree(shifted(2), snap), /"a\.txt": mtime expected/);
  });

  it('cuts a subtree out of a snapshot as if it had been taken there', async () => {
    const sub = subtreeOf(snap, 'sub');
    assertSameTree(sub, await snapshotTree(path.join(src, 'sub')));
    assert.deepEqual(sub.get('b.bin')?.links, ['b.bin', 'deeper/b-link.bin']);
    // a.txt's other name is outside the subtree: within it, a-link.txt is a single name.
    assert.equal(sub.get('a-link.txt')?.links, undefined);
  });
});
