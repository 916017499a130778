/**
 * Acceptance: one writer at a time.
 *
 *  - Two `protect --once` started together against one vault: one fails with a clear
 *    "being written by another process" message (exit non-zero), or waits for the other;
 *    never do both write at once (their journal ranges never overlap, the vault verifies
 *    and the last point is the tree).
 *  - A lock left by a dead process of this host is taken over; a lock held by a live
 *    process, or by another host, is not (and readers keep working meanwhile).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeCall, makeVault, type RunResult, type TestVault } from '../helpers/cli.js';
import { assertSameTree, snapshotTree } from '../helpers/tree.js';
import type { ProtectJson, TimelineJson, VerifyJson } from '../helpers/contract.js';
import { Prng, assertNoCrash, parseJson, spawnCli, testSeed } from '../helpers/chaos.js';

const MiB = 1024 * 1024;
const T = { timeout: 120_000 };

describe('the writer lock', () => {
  let tv: TestVault;
  let src: string;
  const rng = new Prng(testSeed(4242));
  const lockFile = (): string => path.join(tv.vault, 'lock');

  async function verifyOk(why: string): Promise<void> {
    const v = await tv.json<VerifyJson>(['verify', '--read-data']);
    assert.equal(v.ok, true, `${why}: verify: ${JSON.stringify(v.problems)}`);
  }

  async function restoreLatestIs(group: string, dir: string, why: string): Promise<void> {
    const out = await tv.tempDir('restore');
    await tv.json(['restore', group, '--to', out]);
    assertSameTree(await snapshotTree(out), await snapshotTree(dir), { label: why });
    await fs.rm(out, { recursive: true, force: true });
  }

  /** A pid that was alive a moment ago and is not any more. */
  async function deadPid(): Promise<number> {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    const pid = child.pid!;
    await new Promise((r) => child.on('close', r));
    assert.throws(() => process.kill(pid, 0), /ESRCH/, `pid ${pid} must be gone`);
    return pid;
  }

  before(async () => {
    tv = await makeVault();
    src = await tv.tempDir('src');
    await fs.writeFile(path.join(src, 'big.bin'), rng.bytes(40 * MiB));
    for (let i = 0; i < 300; i++) await fs.writeFile(path.join(src, `f${i}.txt`), `file ${i}\n`);
  });

  after(async () => {
    await tv?.cleanup();
  });

  it('two protect --once at once: never both write', T, async (t) => {
    for (let round = 0; round < 3; round++) {
      // Change the big file so that each run reads it (and takes a while).
      const fh = await fs.open(path.join(src, 'big.bin'), 'r+');
      await fh.write(rng.bytes(4096), 0, 4096, rng.int(0, 39 * MiB));
      await fh.close();
      await fs.writeFile(path.join(src, `round-${round}.txt`), `round ${round}\n`);
      const args = ['protect', src, '--group', 'g', '--once', '--json'];
      const a = spawnCli(args, tv.env);
      const b = spawnCli(args, tv.env);
      const [ra, rb] = await Promise.all([a.done, b.done]);
      const results: { res: RunResult; json?: ProtectJson }[] = [];
      for (const res of [ra, rb]) {
        assertNoCrash(res, args);
        if (res.code === 0) {
          results.push({ res, json: parseJson<ProtectJson>(res, args) });
        } else {
          assert.equal(res.code, 5, `${describeCall(args)}: a run that loses the race exits 5 (TM_LOCKED), got ${res.code}:\n${res.stderr}`);
          assert.match(res.stderr, /being written by another process/, `${describeCall(args)}: the message says why:\n${res.stderr}`);
          assert.match(res.stderr, /pid \d+/, 'the message names the holder');
          results.push({ res });
        }
      }
      const ok = results.filter((r) => r.json);
      assert.ok(ok.length >= 1, `at least one of the two runs succeeds:\n${ra.stderr}\n${rb.stderr}`);
      if (ok.length === 2) {
        // Both succeeded: they must have run one after the other.
        const [x, y] = ok.map((r) => r.json!).sort((p, q) => p.lastSeq - q.lastSeq) as [ProtectJson, ProtectJson];
        if (x.records > 0 && y.records > 0) assert.ok(y.firstSeq! > x.lastSeq, `journal ranges overlap: ${JSON.stringify([x, y])}`);
      }
      t.diagnostic(`round ${round}: exits ${ra.code} and ${rb.code}`);
      await restoreLatestIs('g', src, `round ${round}: the latest point after two concurrent runs`);
    }
    await verifyOk('after concurrent runs');
    assert.ok(!existsSync(lockFile()), 'no lock is left behind');
  });

  it('two protect --once of different sources into different groups at once', T, async () => {
    const other = await tv.tempDir('other');
    await fs.writeFile(path.join(other, 'o.bin'), rng.bytes(30 * MiB));
    const a = spawnCli(['protect', src, '--group', 'g', '--once', '--json'], tv.env);
    const b = spawnCli(['protect', other, '--group', 'h', '--once', '--json'], tv.env);
    const [ra, rb] = await Promise.all([a.done, b.done]);
    for (const [res, group] of [[ra, 'g'], [rb, 'h']] as const) {
      assertNoCrash(res, ['protect', group]);
      assert.ok(res.code === 0 || (res.code === 5 && /being written by another process/.test(res.stderr)),
        `protect into ${group}: exit ${res.code}:\n${res.stderr}`);
    }
    if (rb.code !== 0) {
      const r = await tv.json<ProtectJson>(['protect', other, '--group', 'h', '--once']);
      assert.ok(r.records > 0);
    }
    await restoreLatestIs('h', other, 'group h');
    await restoreLatestIs('g', src, 'group g');
    await verifyOk('after concurrent runs into two groups');
  });

  it('a stale lock (dead pid on this host) is taken over', T, async () => {
    const pid = await deadPid();
    await fs.writeFile(lockFile(), JSON.stringify({ pid, host: os.hostname(), command: 'protect (killed)', since: new Date(Date.now() - 60_000).toISOString() }));
    await fs.writeFile(path.join(src, 'after-stale.txt'), 'stale lock taken over\n');
    const args = ['protect', src, '--group', 'g', '--once'];
    const res = await tv.run([...args, '--json']);
    assertNoCrash(res, args);
    assert.equal(res.code, 0, `${describeCall(args)} must take over a lock of dead pid ${pid}:\n${res.stderr}`);
    assert.doesNotMatch(res.stderr, /locked|being written/i);
    assert.ok(!existsSync(lockFile()), 'the lock is released after the run');
    await restoreLatestIs('g', src, 'after taking over a stale lock');
  });

  it('a lock held by a live process, or by another host, is respected; readers still work', T, async () => {
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      const holders = [
        { pid: sleeper.pid!, host: os.hostname(), why: 'a live process of this host' },
        { pid: 1, host: `not-${os.hostname()}`, why: 'a process of another host' },
      ];
      for (const h of holders) {
        const lock = JSON.stringify({ pid: h.pid, host: h.host, command: 'protect (elsewhere)', since: new Date().toISOString() });
        await fs.writeFile(lockFile(), lock);
        const before = await tv.json<TimelineJson>(['timeline', 'g']);
        await fs.writeFile(path.join(src, 'while-locked.txt'), `locked by ${h.why}\n`);
        const args = ['protect', src, '--group', 'g', '--once'];
        const res = await tv.run(args);
        assertNoCrash(res, args);
        assert.equal(res.code, 5, `${describeCall(args)} with a lock held by ${h.why} must exit 5:\n${res.stderr}`);
        assert.match(res.stderr, /being written by another process/);
        assert.ok(res.stderr.includes(`pid ${h.pid}`), `the message names pid ${h.pid}:\n${res.stderr}`);
        assert.equal(await fs.readFile(lockFile(), 'utf8'), lock, 'the lock of a live holder is left alone');
        // Readers do not need the lock.
        const after = await tv.json<TimelineJson>(['timeline', 'g']);
        assert.equal(after.last.seq, before.last.seq, 'nothing was written');
        const out = await tv.tempDir('restore');
        await tv.json(['restore', 'g', '--to', out]);
        await fs.rm(path.join(src, 'while-locked.txt'));
      }
    } finally {
      sleeper.kill('SIGKILL');
      await fs.rm(lockFile(), { force: true });
    }
  });
});
