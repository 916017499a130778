/**
 * Retention end to end, through the real CLI with a fixed clock (TIDEMARK_NOW, read by
 * `protect --once` as its capture clock and by `prune`): a group captured twice an hour
 * for eight hours ten days ago, a bookmark, and recent points. `prune` must drop exactly
 * the points the policy does not keep, leave every kept point restoring byte-identically
 * to what it restored before, shrink the vault, pass `verify --read-data`, and survive
 * `index rebuild` (the compacted commit in the packs says the same as the index). Then
 * prune is SIGKILLed at random moments: every crash leaves a vault that verifies and
 * still restores every kept point.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CLI_PATH, REPO_ROOT, makeVault, type TestVault } from '../helpers/cli.js';
import { assertSameTree, snapshotTree, type Snapshot } from '../helpers/tree.js';
import type { ProtectJson, VerifyJson } from '../helpers/contract.js';
import { childEnv } from '../helpers/child-env.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const GROUP = 'ret';
const TEST_TIMEOUT = 600_000;

interface PruneJson {
  dryRun: boolean;
  pointsDropped: number;
  versionsDropped: number;
  packsDeleted: number;
  packsRepacked: number;
  bytesFreed: number;
  groups: { group: string; dropped: number[]; compactedThrough: number | null; keptBeyondWindow: { seq: number; reason: string }[] }[];
}

interface Capture {
  label: string;
  time: number;
  seq: number;
  /** expected to survive prune */
  kept: boolean;
}

const iso = (t: number): string => new Date(t).toISOString();

/** Total bytes of the pack files under vault/packs. */
async function packBytes(vault: string): Promise<number> {
  let total = 0;
  for (const sub of await fs.readdir(path.join(vault, 'packs'))) {
    for (const f of await fs.readdir(path.join(vault, 'packs', sub))) total += (await fs.stat(path.join(vault, 'packs', sub, f))).size;
  }
  return total;
}

/** Restore seq:N into a fresh directory and snapshot it. */
async function restoreSnap(tv: TestVault, seq: number, env: Record<string, string> = {}): Promise<Snapshot> {
  const to = await tv.tempDir(`restore-${seq}-`);
  await tv.json(['restore', GROUP, '--at', `seq:${seq}`, '--to', to], { env });
  const snap = await snapshotTree(to);
  await fs.rm(to, { recursive: true, force: true });
  return snap;
}

/**
 * Build the scenario: eight hours (02:00–09:59 UTC, ten days before `now`) with two
 * captures each (at :05 and :35), a bookmark on the :05 capture of 03:00, and three
 * recent captures. A retention policy of 4 hourly and 1 daily point, 7 days of everything.
 */
async function buildScenario(tv: TestVault, now: number): Promise<Capture[]> {
  const src = await tv.tempDir('src-');
  const day = Math.floor((now - 10 * DAY) / DAY) * DAY;
  const captures: Capture[] = [];
  const protect = async (label: string, time: number, kept: boolean): Promise<void> => {
    const r = await tv.json<ProtectJson>(['protect', src, '--group', GROUP, '--once'], { env: { TIDEMARK_NOW: iso(time) } });
    assert.ok(r.records > 0, `${label}: protect recorded changes`);
    captures.push({ label, time, seq: r.lastSeq, kept });
  };
  await fs.writeFile(path.join(src, 'notes.txt'), 'notes\n');
  await fs.mkdir(path.join(src, 'dir'));
  for (let h = 2; h < 10; h++) {
    for (const m of [5, 35]) {
      // A new 300 KB file version each capture (what prune frees), and small changes.
      await fs.writeFile(path.join(src, 'data.bin'), randomBytes(300_000));
      await fs.appendFile(path.join(src, 'notes.txt'), `hour ${h} minute ${m}\n`);
      if (m === 5) await fs.writeFile(path.join(src, 'dir', `h${h}.txt`), `created at ${h}\n`);
      else await fs.rm(path.join(src, 'dir', `h${h - 1}.txt`), { force: true });
      // Kept: the last capture of each of the 4 most recent old hours (06..09), and the bookmark.
      await protect(`h${h}:${m}`, day + h * HOUR + m * MIN, m === 35 && h >= 6);
    }
  }
  const bookmarked = captures.find((c) => c.label === 'h3:5')!;
  await tv.json(['bookmark', GROUP, 'pre-patch', '--at', `seq:${bookmarked.seq}`]);
  bookmarked.kept = true;
  for (const ago of [3 * HOUR, HOUR, 10 * MIN]) {
    await fs.writeFile(path.join(src, 'data.bin'), randomBytes(300_000));
    await fs.appendFile(path.join(src, 'notes.txt'), `recent ${ago}\n`);
    await protect(`recent-${ago / MIN}m`, now - ago, true);
  }
  await tv.json(['retention', GROUP, '--keep-within', '7d', '--keep-hourly', '4', '--keep-daily', '1']);
  return captures;
}

describe('retention and prune (CLI, fixed clock)', () => {
  let tv: TestVault;
  const NOW = Math.floor(Date.now() / MIN) * MIN;
  const ENV = { TIDEMARK_NOW: iso(NOW) };
  let captures: Capture[];

  before(async () => {
    tv = await makeVault();
    captures = await buildScenario(tv, NOW);
  }, { timeout: TEST_TIMEOUT });
  after(async () => { await tv?.cleanup(); });

  it('protect --once records capture times from TIDEMARK_NOW', async () => {
    const tl = await tv.json<{ first: { time: string } }>(['timeline', GROUP]);
    assert.equal(Date.parse(tl.first.time), captures[0]!.time, 'protect must take its capture clock from TIDEMARK_NOW (src/common/clock.ts nowMs)');
  });

  it('retention shows, sets and validates a group\'s policy', async () => {
    const shown = await tv.json<{ keepWithin: string; keepHourly: number; keepDaily: number; keepBookmarks: boolean; stored: boolean }>(['retention', GROUP]);
    assert.deepEqual([shown.keepWithin, shown.keepHourly, shown.keepDaily, shown.keepBookmarks, shown.stored], ['7d', 4, 1, true, true]);
    const other = await tv.json<{ keepWithin: string; keepHourly: number; keepDaily: number; stored: boolean }>(['retention', 'elsewhere']);
    assert.deepEqual([other.keepWithin, other.keepHourly, other.keepDaily, other.stored], ['7d', 48, 30, false]);
    for (const [args, message] of [
      [['--keep-within', '7x'], /--keep-within "7x" is not a valid duration/],
      [['--keep-hourly', '-3'], /--keep-hourly "-3" is not a valid count/],
      [['--keep-daily', 'many'], /--keep-daily "many" is not a valid count/],
    ] as const) {
      const r = await tv.run(['retention', GROUP, ...args]);
      assert.equal(r.code, 2, `retention ${args.join(' ')} exits 2`);
      assert.match(r.stderr, message);
    }
    const still = await tv.json<{ keepHourly: number }>(['retention', GROUP]);
    assert.equal(still.keepHourly, 4, 'an invalid option changes nothing');
  });

  it('prune drops exactly the unkept points; kept points restore identically, also after index rebuild', { timeout: TEST_TIMEOUT }, async () => {
    const kept = captures.filter((c) => c.kept);
    const dropped = captures.filter((c) => !c.kept);
    assert.equal(kept.length, 4 + 1 + 3);
    const before = new Map<number, Snapshot>();
    for (const c of kept) before.set(c.seq, await restoreSnap(tv, c.seq));
    const bytesBefore = await packBytes(tv.vault);

    const dry = await tv.json<PruneJson>(['prune', '--dry-run'], { env: ENV });
    assert.equal(dry.dryRun, true);
    const tlBefore = await tv.json<{ points: number }>(['timeline', GROUP]);
    assert.equal(await packBytes(tv.vault), bytesBefore, 'a dry run writes nothing');

    const r = await tv.json<PruneJson>(['prune'], { env: ENV });
    assert.equal(r.pointsDropped, dry.pointsDropped, 'the dry run announced what prune did');
    assert.deepEqual(r.groups[0]!.dropped, dry.groups[0]!.dropped);
    const droppedSet = new Set(r.groups[0]!.dropped);
    for (const c of dropped) assert.ok(droppedSet.has(c.seq), `${c.label} (seq:${c.seq}) is dropped`);
    for (const c of kept) assert.ok(!droppedSet.has(c.seq), `${c.label} (seq:${c.seq}) is kept`);
    const reasons = new Map(r.groups[0]!.keptBeyondWindow.map((k) => [k.seq, k.reason]));
    assert.equal(reasons.get(captures.find((c) => c.label === 'h3:5')!.seq), 'bookmark pre-patch');
    assert.match(reasons.get(captures.find((c) => c.label === 'h9:35')!.seq) ?? '', /^hourly \d{4}-\d\d-\d\dT09, daily \d{4}-\d\d-\d\d$/);
    assert.ok(r.versionsDropped > 0 && r.packsDeleted > 0, JSON.stringify(r));
    const after = await tv.json<{ points: number }>(['timeline', GROUP]);
    assert.equal(after.points, tlBefore.points - r.pointsDropped);

    const bytesAfter = await packBytes(tv.vault);
    assert.ok(bytesAfter < bytesBefore / 2, `the packs shrank from ${bytesBefore} to ${bytesAfter} bytes`);

    const checkPoints = async (when: string): Promise<void> => {
      for (const c of dropped) {
        const res = await tv.run(['ls', GROUP, '--at', `seq:${c.seq}`]);
        assert.equal(res.code, 2, `${when}: ${c.label} (seq:${c.seq}) no longer resolves`);
        assert.match(res.stderr, /has no point seq:/);
      }
      for (const c of kept) assertSameTree(await restoreSnap(tv, c.seq), before.get(c.seq)!, { label: `${when}: ${c.label} (seq:${c.seq})` });
      const bm = await tv.json<{ seq: number }>(['restore', GROUP, '--at', 'bookmark:pre-patch', '--to', await tv.tempDir('bm-')]);
      assert.equal(bm.seq, captures.find((c) => c.label === 'h3:5')!.seq);
    };
    await checkPoints('after prune');
    const v = await tv.json<VerifyJson>(['verify', '--read-data']);
    assert.ok(v.ok && v.problems.length === 0, JSON.stringify(v.problems));

    await tv.json(['index', 'rebuild']);
    await checkPoints('after index rebuild');
    const tl = await tv.json<{ points: number }>(['timeline', GROUP]);
    assert.equal(tl.points, after.points, 'index rebuild resurrects no dropped point');

    // Nothing left to do: a second prune drops and frees nothing.
    const second = await tv.json<PruneJson>(['prune'], { env: ENV });
    assert.equal(second.pointsDropped, 0);
    assert.equal(second.packsDeleted + second.packsRepacked, 0);
  });
});

/** Spawn `prune` and SIGKILL it after `delayMs`; resolves with how it ended. */
function killedPrune(env: Record<string, string>, delayMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, 'prune', '--json'], { cwd: REPO_ROOT, env: childEnv(env), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    child.on('error', reject);
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stderr }); });
  });
}

describe('prune killed at random moments (SIGKILL)', () => {
  let tv: TestVault;
  const NOW = Math.floor(Date.now() / MIN) * MIN;
  let captures: Capture[];
  const pristine = new Map<number, Snapshot>();

  before(async () => {
    tv = await makeVault();
    captures = await buildScenario(tv, NOW);
    for (const c of captures.filter((x) => x.kept)) pristine.set(c.seq, await restoreSnap(tv, c.seq));
    await fs.cp(tv.vault, path.join(tv.root, 'pristine'), { recursive: true });
  }, { timeout: TEST_TIMEOUT });
  after(async () => { await tv?.cleanup(); });

  it('leaves a vault that verifies and restores every kept point, whenever it dies', { timeout: TEST_TIMEOUT }, async () => {
    // How long an uninterrupted prune takes, on a copy: kill moments are drawn over that span.
    const timed = path.join(tv.root, 'timed');
    await fs.cp(path.join(tv.root, 'pristine'), timed, { recursive: true });
    const t0 = Date.now();
    await tv.json(['prune'], { env: { TIDEMARK_VAULT: timed, TIDEMARK_NOW: iso(NOW) } });
    const span = Math.max(300, Date.now() - t0);
    const outcomes: string[] = [];
    for (let round = 0; round < 8; round++) {
      const dir = path.join(tv.root, `round-${round}`);
      await fs.cp(path.join(tv.root, 'pristine'), dir, { recursive: true });
      const env = { TIDEMARK_VAULT: dir, TIDEMARK_NOW: iso(NOW), TIDEMARK_PASSPHRASE: tv.passphrase };
      const delay = randomInt(0, span + 1);
      const killed = await killedPrune(env, delay);
      outcomes.push(`${delay}ms:${killed.signal ?? killed.code}`);
      assert.ok(killed.signal === 'SIGKILL' || killed.code === 0, `round ${round}: prune failed by itself: ${killed.stderr}`);
      const label = `round ${round} (killed after ${delay} ms)`;
      const v = await tv.json<VerifyJson>(['verify', '--read-data'], { env });
      assert.ok(v.ok, `${label}: verify: ${JSON.stringify(v.problems.slice(0, 3))}`);
      // The bookmark, an hourly point and the latest point, right after the crash.
      const sample = [captures.find((x) => x.label === 'h3:5')!, captures.find((x) => x.label === 'h7:35')!, captures.at(-1)!];
      for (const c of sample) {
        const to = path.join(dir, '..', `r${round}-${c.seq}`);
        await tv.json(['restore', GROUP, '--at', `seq:${c.seq}`, '--to', to], { env });
        assertSameTree(await snapshotTree(to), pristine.get(c.seq)!, { label: `${label}: seq:${c.seq} after the crash` });
      }
      // Pick up where it died: a completed prune leaves every kept point and no dropped one.
      await tv.json(['prune'], { env });
      const done = await tv.json<VerifyJson>(['verify', '--read-data'], { env });
      assert.ok(done.ok && done.problems.length === 0, `${label}: after a full prune: ${JSON.stringify(done.problems.slice(0, 3))}`);
      for (const c of sample) {
        const to = path.join(dir, '..', `d${round}-${c.seq}`);
        await tv.json(['restore', GROUP, '--at', `seq:${c.seq}`, '--to', to], { env });
        assertSameTree(await snapshotTree(to), pristine.get(c.seq)!, { label: `${label}: seq:${c.seq} after prune finished` });
      }
      for (const c of captures.filter((x) => !x.kept).slice(0, 2)) {
        const res = await tv.run(['ls', GROUP, '--at', `seq:${c.seq}`], { env });
        assert.equal(res.code, 2, `${label}: ${c.label} is gone after prune finished`);
      }
      await fs.rm(dir, { recursive: true, force: true });
    }
    // Report what the rounds exercised (visible with --test-reporter=spec).
    process.stdout.write(`# prune kill rounds: ${outcomes.join(', ')} (span ${span} ms)\n`);
  });
});
