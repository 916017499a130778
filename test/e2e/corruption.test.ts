/**
 * Acceptance: corruption is detected and reported with what it affects, and costs only
 * what it affects.
 *
 * A tree is recorded in three runs that each add large random files, so that its content
 * spreads over several packs. Then, one at a time (each undone before the next):
 *
 *  - one byte in the middle of a pack is flipped: `verify --read-data` fails and names
 *    exactly the files whose content was in the damaged blob (found independently: the
 *    files `cat` cannot read), and every other file still reads and restores byte-exact;
 *  - a pack loses its last 100 bytes: reported, with the files it holds;
 *  - a pack is deleted: reported as missing, with exactly the files it held;
 *  - index.sqlite is overwritten with garbage: commands fail with a message about the
 *    index (no crash), and `index rebuild` recreates it so that restores work again.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describeCall, makeVault, type RunResult, type TestVault } from '../helpers/cli.js';
import { assertSameTree, sha256, snapshotTree, type Snapshot } from '../helpers/tree.js';
import type { ProtectJson, VerifyJson } from '../helpers/contract.js';
import { Prng, assertNoCrash, listPacks, packPath, parseJson, testSeed } from '../helpers/chaos.js';

const MiB = 1024 * 1024;
const GROUP = 'g';
const T = { timeout: 120_000 };

describe('corruption is detected, reported with what it affects, and contained', () => {
  let tv: TestVault;
  let src: string;
  let snap: Snapshot;
  let files: string[];
  /** pack name → size, largest first */
  let packs: { name: string; size: number }[];
  const rng = new Prng(testSeed(20260101));

  async function write(rel: string, data: Buffer | string): Promise<void> {
    await fs.mkdir(path.dirname(path.join(src, rel)), { recursive: true });
    await fs.writeFile(path.join(src, rel), data);
  }

  async function protect(): Promise<ProtectJson> {
    return tv.json<ProtectJson>(['protect', src, '--group', GROUP, '--once']);
  }

  async function verify(): Promise<{ res: RunResult; v: VerifyJson }> {
    const args = ['verify', '--read-data', '--json'];
    const res = await tv.run(args);
    assertNoCrash(res, args);
    return { res, v: parseJson<VerifyJson>(res, args) };
  }

  /** Paths named in `problems[].affected`, without a leading slash. */
  function affectedPaths(v: VerifyJson): Set<string> {
    const out = new Set<string>();
    for (const p of v.problems) {
      assert.ok(Array.isArray(p.affected), `problem ${p.kind} has an "affected" array: ${JSON.stringify(p)}`);
      for (const a of p.affected) {
        assert.equal(a.group, GROUP, `affected entry names the group: ${JSON.stringify(a)}`);
        out.add(a.path.replace(/^\/+/, ''));
      }
    }
    return out;
  }

  /**
   * `cat` every file of the latest point: the set of files that cannot be read. A file
   * that reads must have exactly its recorded bytes (damage is never passed off as data).
   */
  async function unreadableFiles(): Promise<Set<string>> {
    const failed = new Set<string>();
    for (let i = 0; i < files.length; i += 2) {
      await Promise.all(files.slice(i, i + 2).map(async (f) => {
        const args = ['cat', GROUP, f];
        const res = await tv.run(args);
        assertNoCrash(res, args);
        if (res.code !== 0) {
          failed.add(f);
          assert.match(res.stderr, /corrupt|damaged|authenticat|missing|truncated|altered/i, `${describeCall(args)} must say why it fails:\n${res.stderr}`);
        } else {
          assert.equal(sha256(res.stdout), snap.get(f)?.sha256, `${describeCall(args)} exited 0 but printed wrong bytes`);
        }
      }));
    }
    return failed;
  }

  /** `restore --path F` of each file: each must come back byte-exact. */
  async function assertRestoresExactly(list: string[], why: string): Promise<void> {
    for (const f of list) {
      const dir = await tv.tempDir('one');
      await tv.json(['restore', GROUP, '--path', f, '--to', dir]);
      const got = await snapshotTree(dir);
      const name = path.posix.basename(f);
      assert.deepEqual([...got.keys()], [name], `${why}: restore --path ${f} writes just ${name}`);
      assert.equal(got.get(name)?.sha256, snap.get(f)?.sha256, `${why}: restore --path ${f} gives its bytes`);
      await fs.rm(dir, { recursive: true, force: true });
    }
  }

  /** Replace a pack's bytes (pack files are read-only: 0400). */
  async function writePack(name: string, data: Buffer): Promise<void> {
    const file = packPath(tv.vault, name);
    await fs.chmod(file, 0o600).catch(() => undefined);
    await fs.writeFile(file, data);
    await fs.chmod(file, 0o400);
  }

  async function assertHealthy(why: string): Promise<void> {
    const { res, v } = await verify();
    assert.equal(v.ok, true, `${why}: verify ok: ${JSON.stringify(v.problems)}`);
    assert.equal(res.code, 0, `${why}: verify exit code:\n${res.stderr}`);
  }

  before(async () => {
    tv = await makeVault();
    src = await tv.tempDir('src');
    await write('big1.bin', rng.bytes(20 * MiB));
    await write('docs/a.txt', 'alpha\n'.repeat(100));
    await write('docs/b.txt', 'beta\n');
    await protect();
    await write('big2.bin', rng.bytes(18 * MiB + 12345));
    await write('docs/c.txt', 'gamma\n'.repeat(1000));
    await protect();
    await write('mid.bin', rng.bytes(6 * MiB));
    for (let i = 1; i <= 4; i++) await write(`small/s${i}.dat`, rng.bytes(1000 * i));
    await protect();
    snap = await snapshotTree(src);
    files = [...snap].filter(([, e]) => e.type === 'file').map(([k]) => k).sort();
    const names = (await listPacks(tv.vault)).packs;
    packs = await Promise.all(names.map(async (name) => ({ name, size: (await fs.stat(packPath(tv.vault, name))).size })));
    packs.sort((a, b) => b.size - a.size);
    assert.ok(packs.length >= 4, `the content spreads over several packs, got ${packs.length}`);
    await assertHealthy('before any damage');
  });

  after(async () => {
    await tv?.cleanup();
  });

  it('a flipped byte in a pack: verify names exactly the files of the damaged blob; the rest restores', T, async (t) => {
    const victim = packs[0]!;
    const file = packPath(tv.vault, victim.name);
    const orig = await fs.readFile(file);
    const damaged = Buffer.from(orig);
    const at = Math.floor(orig.length / 2);
    damaged[at] = damaged[at]! ^ 0x40;
    await writePack(victim.name, damaged);
    try {
      const { res, v } = await verify();
      assert.notEqual(res.code, 0, `verify must fail on a damaged pack; stdout:\n${res.stdout.toString().slice(0, 2000)}`);
      assert.equal(v.ok, false, 'verify: ok false');
      assert.ok(v.problems.some((p) => p.pack === victim.name && p.kind !== 'unindexed-pack'),
        `a problem names the damaged pack ${victim.name}: ${JSON.stringify(v.problems)}`);
      const affected = affectedPaths(v);
      const unreadable = await unreadableFiles();
      t.diagnostic(`byte ${at} of pack ${victim.name.slice(0, 12)} flipped: problems ${v.problems.map((p) => p.kind).join(', ')}; affected ${[...affected].join(', ')}; unreadable ${[...unreadable].join(', ')}`);
      assert.ok(unreadable.size >= 1, 'at least one file reads the damaged blob');
      assert.ok(unreadable.size < files.length, 'at least one file is not affected');
      assert.deepEqual([...affected].sort(), [...unreadable].sort(),
        `verify's affected files must be exactly those that cannot be read (byte ${at} of pack ${victim.name} flipped)`);
      const intact = files.filter((f) => !unreadable.has(f));
      await assertRestoresExactly(intact, 'after a flipped byte');

      // A full restore writes every intact file exactly, leaves the damaged ones out, fails, and says which.
      const dir = await tv.tempDir('full');
      const args = ['restore', GROUP, '--to', dir, '--json'];
      const r = await tv.run(args);
      assertNoCrash(r, args);
      assert.notEqual(r.code, 0, `${describeCall(args)} must not report success when data is damaged`);
      const out = r.stdout.toString() + r.stderr;
      for (const f of unreadable) assert.ok(out.includes(f), `${describeCall(args)} must name the damaged file ${f}:\n${out.slice(0, 3000)}`);
      const got = await snapshotTree(dir);
      for (const [k, e] of got) {
        if (e.type !== 'file') continue;
        assert.equal(e.sha256, snap.get(k)?.sha256, `full restore: ${k} has its recorded bytes`);
      }
      for (const f of intact) assert.ok(got.has(f), `full restore wrote the intact file ${f}`);
    } finally {
      await writePack(victim.name, orig);
    }
    await assertHealthy('after undoing the flipped byte');
  });

  it('a pack cut short by 100 bytes is reported with the files it holds', T, async (t) => {
    const victim = packs[1]!;
    const file = packPath(tv.vault, victim.name);
    const orig = await fs.readFile(file);
    await writePack(victim.name, orig.subarray(0, orig.length - 100));
    try {
      const { res, v } = await verify();
      assert.notEqual(res.code, 0, 'verify must fail on a truncated pack');
      assert.equal(v.ok, false, 'verify: ok false');
      assert.ok(v.problems.some((p) => p.pack === victim.name && p.kind !== 'unindexed-pack'),
        `a problem names the truncated pack ${victim.name}: ${JSON.stringify(v.problems.map((p) => ({ ...p, affected: p.affected.length })))}`);
      const affected = affectedPaths(v);
      assert.ok(affected.size >= 1, 'the truncated pack held file content: affected files are listed');
      // The blob table is gone, so verify counts every file of the pack as affected; the
      // blobs themselves may still read. Files it does not list must read.
      const unreadable = await unreadableFiles();
      t.diagnostic(`pack ${victim.name.slice(0, 12)} truncated: problems ${v.problems.map((p) => p.kind).join(', ')}; affected ${[...affected].join(', ')}; unreadable ${[...unreadable].join(', ') || 'none'}`);
      for (const f of unreadable) assert.ok(affected.has(f), `${f} cannot be read but verify does not list it`);
      assert.ok(affected.size < files.length, 'not every file is affected');
      await assertRestoresExactly(files.filter((f) => !affected.has(f)), 'after truncation');
    } finally {
      await writePack(victim.name, orig);
    }
    await assertHealthy('after undoing the truncation');
  });

  it('a deleted pack is reported as missing, with exactly the files it held', T, async () => {
    const victim = packs[1]!;
    const file = packPath(tv.vault, victim.name);
    const orig = await fs.readFile(file);
    await fs.rm(file);
    try {
      const { res, v } = await verify();
      assert.notEqual(res.code, 0, 'verify must fail when a pack is missing');
      assert.equal(v.ok, false, 'verify: ok false');
      const p = v.problems.find((q) => q.pack === victim.name);
      assert.ok(p, `a problem names the missing pack ${victim.name}: ${JSON.stringify(v.problems)}`);
      assert.equal(p.kind, 'missing-pack');
      const affected = affectedPaths(v);
      const unreadable = await unreadableFiles();
      assert.ok(unreadable.size >= 1 && unreadable.size < files.length, `some but not all files are lost: ${[...unreadable].join(', ')}`);
      assert.deepEqual([...affected].sort(), [...unreadable].sort(), 'affected files are exactly those that cannot be read');
      await assertRestoresExactly(files.filter((f) => !unreadable.has(f)), 'with a pack missing');
    } finally {
      await writePack(victim.name, orig);
    }
    await assertHealthy('after putting the pack back');
  });

  describe('a destroyed index', () => {
    before(async () => {
      for (const f of ['index.sqlite-wal', 'index.sqlite-shm']) await fs.rm(path.join(tv.vault, f), { force: true });
      await fs.writeFile(path.join(tv.vault, 'index.sqlite'), new Prng(99).bytes(64 * 1024));
    });

    it('makes commands fail with a clear message about the index (no crash)', T, async () => {
      for (const args of [['ls', GROUP], ['restore', GROUP, '--to', path.join(tv.root, 'never')], ['verify']]) {
        const res = await tv.run(args);
        assert.notEqual(res.code, 0, `${describeCall(args)} must fail with a garbage index`);
        assert.equal(res.signal, null);
        assert.match(res.stderr, /index/i, `${describeCall(args)}: the message must say that the index is damaged:\n${res.stderr}`);
        assert.doesNotMatch(res.stderr, /^\s+at .+:\d+:\d+\)?$/m, `${describeCall(args)}: a message, not a stack trace:\n${res.stderr}`);
      }
    });

    it('index rebuild recreates it, and every file restores again', T, async () => {
      const args = ['index', 'rebuild', '--json'];
      const res = await tv.run(args);
      assert.equal(res.code, 0, `${describeCall(args)} must repair a garbage index file (delete and recreate it); exit ${res.code}:\n${res.stderr}`);
      const dir = await tv.tempDir('rebuilt');
      await tv.json(['restore', GROUP, '--to', dir]);
      assertSameTree(await snapshotTree(dir), snap, { label: 'restore after index rebuild' });
      await assertHealthy('after index rebuild');
    });
  });
});

describe('index rebuild with a damaged pack keeps the points it can', () => {
  const vaults: TestVault[] = [];

  /** A vault with three small runs: each run's data and journal commit in one pack of its own. */
  async function threeRuns(): Promise<{ tv: TestVault; points: { seq: number; snap: Snapshot }[]; packs: string[] }> {
    const tv = await makeVault();
    vaults.push(tv);
    const src = await tv.tempDir('src');
    const points: { seq: number; snap: Snapshot }[] = [];
    const packs: string[] = [];
    for (const name of ['one', 'two', 'three']) {
      await fs.writeFile(path.join(src, `${name}.txt`), `${name}\n`.repeat(50));
      const before = (await listPacks(tv.vault)).packs;
      const r = await tv.json<ProtectJson>(['protect', src, '--group', GROUP, '--once']);
      points.push({ seq: r.lastSeq, snap: await snapshotTree(src) });
      const fresh = (await listPacks(tv.vault)).packs.filter((p) => !before.includes(p));
      assert.equal(fresh.length, 1, 'a small run writes one pack (its data and its journal commit)');
      packs.push(fresh[0]!);
    }
    return { tv, points, packs };
  }

  after(async () => {
    for (const tv of vaults) await tv.cleanup();
  });

  async function restoreIs(tv: TestVault, p: { seq: number; snap: Snapshot }, why: string): Promise<void> {
    const dir = await tv.tempDir('restore');
    const args = ['restore', GROUP, '--at', `seq:${p.seq}`, '--to', dir];
    const res = await tv.run(args);
    assertNoCrash(res, args);
    assert.equal(res.code, 0, `${why}: ${describeCall(args)} exited ${res.code}:\n${res.stderr}`);
    assertSameTree(await snapshotTree(dir), p.snap, { label: `${why}: seq:${p.seq}` });
  }

  async function rebuild(tv: TestVault): Promise<string> {
    const args = ['index', 'rebuild'];
    const res = await tv.run(args);
    assertNoCrash(res, args);
    return `index rebuild exited ${res.code}${res.code ? `: ${res.stderr.trim().split('\n').filter((l) => !/Warning|trace-warnings/.test(l))[0]}` : ''}`;
  }

  it('a damaged journal commit: verify reports it; rebuild keeps every point before it', T, async (t) => {
    const { tv, points, packs } = await threeRuns();
    // The last run's commit is the last blob of its pack, just before the sealed blob
    // table (whose length the footer gives): damage a byte inside it.
    const file = packPath(tv.vault, packs[2]!);
    const buf = await fs.readFile(file);
    const tableLength = buf.readUInt32LE(buf.length - 8);
    const at = buf.length - 8 - tableLength - 20;
    buf[at] = buf[at]! ^ 0x01;
    await fs.chmod(file, 0o600);
    await fs.writeFile(file, buf);
    await fs.chmod(file, 0o400);

    const vargs = ['verify', '--read-data', '--json'];
    const vres = await tv.run(vargs);
    assertNoCrash(vres, vargs);
    const v = parseJson<VerifyJson>(vres, vargs);
    assert.notEqual(vres.code, 0, 'verify fails');
    assert.ok(v.problems.some((p) => p.pack === packs[2] && p.kind === 'bad-blob'), `verify names the damaged blob: ${JSON.stringify(v.problems)}`);
    // The index still holds the commit's records: every point restores (so the damaged blob is the commit, not file data).
    for (const p of points) await restoreIs(tv, p, 'before index rebuild');

    const how = await rebuild(tv);
    t.diagnostic(how);
    // Whatever it does with the damaged commit, rebuilding a cache must not lose the points
    // recorded by the intact commits before it.
    for (const p of points.slice(0, 2)) await restoreIs(tv, p, `after a rebuild with a damaged commit (${how})`);
  });

  it('a pack that lost its blob table: rebuild keeps the points before it', T, async (t) => {
    const { tv, points, packs } = await threeRuns();
    const file = packPath(tv.vault, packs[1]!);
    const buf = await fs.readFile(file);
    await fs.chmod(file, 0o600);
    await fs.writeFile(file, buf.subarray(0, buf.length - 100));
    await fs.chmod(file, 0o400);
    const how = await rebuild(tv);
    t.diagnostic(how);
    await restoreIs(tv, points[0]!, `after a rebuild with the second run's pack cut short (${how})`);
  });
});
