/**
 * Acceptance: crash safety of `protect --once`.
 *
 * A source tree (a few thousand small files and several 5–16 MiB random files) is
 * recorded three times; then, round after round, the tree is changed a little and a
 * `protect --once` is SIGKILLed after a random delay (seeded PRNG, spread over the measured
 * duration of a run, so kills land while scanning, reading and chunking, writing packs and
 * committing). Now and then a run is left to finish. Afterwards:
 *
 *  - the next command never fails with "locked" (the dead writer's lock is taken over);
 *  - no recorded point is lost or changed: the last seq never goes backwards, and a point
 *    that a killed run managed to make durable restores to that run's tree exactly;
 *  - every few rounds: `verify --read-data` is clean (packs the index does not know, left
 *    by a killed run, are allowed as "unindexed-pack"), earlier completed points restore
 *    exactly, and an uninterrupted `protect --once` succeeds and its point restores exactly.
 *
 * Replay a failure with TIDEMARK_TEST_SEED=<seed printed in the diagnostics>.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describeCall, makeVault, type RunResult, type TestVault } from '../helpers/cli.js';
import { assertSameTree, type Snapshot } from '../helpers/tree.js';
import type { ProtectJson, TimelineJson, VerifyJson } from '../helpers/contract.js';
import { Prng, listPacksSync, parseJson, quickSnapshot, spawnCli, testSeed } from '../helpers/chaos.js';

const MiB = 1024 * 1024;
const GROUP = 'g';
const ROUNDS = 20;
/** Rounds at most, when too few of the first ROUNDS were killed mid-run. */
const MAX_ROUNDS = 2 * ROUNDS;
const CHECK_EVERY = 5;
const SMALL_FILES = 2000;
const SMALL_DIRS = 20;
const BASE_BIG_MIB = [5, 6, 8, 12];
const EXTRA_BIG_CAP = 20 * MiB;
/** A protect run that takes longer than this is reported as hung. */
const HANG_MS = 90_000;

type KillMode = 'complete' | 'timed' | 'on-temp' | 'on-pack';

/** How a round's run ends: mostly a timed kill, some kills aimed at pack writes and commits. */
function killMode(rng: Prng): KillMode {
  const x = rng.next();
  return x < 0.15 ? 'complete' : x < 0.65 ? 'timed' : x < 0.8 ? 'on-temp' : 'on-pack';
}

interface Point {
  seq: number;
  snap: Snapshot;
  label: string;
}

type Outcome = 'completed' | 'killed: nothing durable' | 'killed: during a pack write' | 'killed: packs durable, no commit' | 'killed: commit durable (recovered)';

/** The source tree and what the test knows about it. */
class Source {
  readonly small: string[] = [];
  readonly big: string[] = [];
  readonly extra: { rel: string; size: number }[] = [];
  private counter = 0;

  constructor(readonly dir: string, private readonly rng: Prng) {}

  private abs(rel: string): string {
    return path.join(this.dir, rel);
  }

  private async writeSmall(rel: string): Promise<void> {
    await fs.mkdir(path.dirname(this.abs(rel)), { recursive: true });
    await fs.writeFile(this.abs(rel), this.rng.bytes(this.rng.int(0, 3000)));
  }

  async create(): Promise<void> {
    for (let i = 0; i < SMALL_FILES; i++) {
      const rel = `small/d${String(i % SMALL_DIRS).padStart(2, '0')}/f${String(i).padStart(5, '0')}.dat`;
      await this.writeSmall(rel);
      this.small.push(rel);
    }
    for (const [i, mib] of BASE_BIG_MIB.entries()) {
      const rel = `big/b${i}.bin`;
      await fs.mkdir(path.dirname(this.abs(rel)), { recursive: true });
      await fs.writeFile(this.abs(rel), this.rng.bytes(mib * MiB));
      this.big.push(rel);
    }
  }

  /** A small change: edits inside big files, new, rewritten, renamed, chmod-ed and deleted small files. */
  async mutate(round: number, heavy: boolean): Promise<string[]> {
    const did: string[] = [];
    const rng = this.rng;
    for (let i = rng.int(1, 2); i > 0; i--) {
      const rel = rng.pick(this.big);
      const len = rng.int(1, 64 * 1024);
      const st = await fs.stat(this.abs(rel));
      const off = rng.int(0, st.size - len);
      const fh = await fs.open(this.abs(rel), 'r+');
      try { await fh.write(rng.bytes(len), 0, len, off); } finally { await fh.close(); }
      did.push(`edit ${rel}@${off}+${len}`);
    }
    const adds = rng.int(3, 25);
    const newDir = rng.chance(0.2) ? `small/r${round}` : undefined;
    for (let i = 0; i < adds; i++) {
      const rel = `${newDir ?? `small/d${String(rng.int(0, SMALL_DIRS - 1)).padStart(2, '0')}`}/n${round}-${++this.counter}.dat`;
      await this.writeSmall(rel);
      this.small.push(rel);
    }
    did.push(`add ${adds}`);
    const dels = rng.int(0, 8);
    for (let i = 0; i < dels && this.small.length > 100; i++) {
      const idx = rng.int(0, this.small.length - 1);
      await fs.unlink(this.abs(this.small[idx]!));
      this.small.splice(idx, 1);
    }
    did.push(`delete ${dels}`);
    const rewrites = rng.int(0, 4);
    for (let i = 0; i < rewrites; i++) await this.writeSmall(rng.pick(this.small));
    did.push(`rewrite ${rewrites}`);
    if (rng.chance(0.3)) {
      const idx = rng.int(0, this.small.length - 1);
      const to = `small/d${String(rng.int(0, SMALL_DIRS - 1)).padStart(2, '0')}/mv${round}-${++this.counter}.dat`;
      await fs.rename(this.abs(this.small[idx]!), this.abs(to));
      this.small[idx] = to;
      did.push('rename');
    }
    if (rng.chance(0.2)) {
      await fs.chmod(this.abs(rng.pick(this.small)), rng.pick([0o600, 0o640, 0o755]));
      did.push('chmod');
    }
    if (heavy) {
      const size = rng.int(4, 15) * MiB + rng.int(0, MiB);
      const rel = `big/new-${round}-${++this.counter}.bin`;
      await fs.writeFile(this.abs(rel), rng.bytes(size));
      this.extra.push({ rel, size });
      did.push(`new big ${rel} (${(size / MiB).toFixed(1)} MiB)`);
      while (this.extra.reduce((n, e) => n + e.size, 0) > EXTRA_BIG_CAP) {
        const old = this.extra.shift()!;
        await fs.unlink(this.abs(old.rel));
        did.push(`delete big ${old.rel}`);
      }
    }
    return did;
  }
}

describe('crash safety: protect --once killed at random moments', () => {
  let tv: TestVault;
  let src: Source;
  const seed = testSeed(Date.now() % 1_000_000);
  const rng = new Prng(seed);
  const points: Point[] = [];
  let knownLast = 0;
  let ingestMs = 0;

  const protectArgs = (): string[] => ['protect', src.dir, '--group', GROUP, '--once', '--json'];

  /** Run protect to completion; it must succeed. */
  async function protectFully(label: string): Promise<{ seq: number; ms: number; result: ProtectJson }> {
    const args = protectArgs();
    const t0 = Date.now();
    const res = await tv.run(args);
    const ms = Date.now() - t0;
    assert.equal(res.code, 0, `${label}: ${describeCall(args)} exited ${res.code} (${res.signal})\n${res.stderr}`);
    const result = parseJson<ProtectJson>(res, args);
    assert.ok(result.lastSeq >= knownLast, `${label}: lastSeq ${result.lastSeq} went below the last known seq ${knownLast}`);
    knownLast = result.lastSeq;
    return { seq: result.lastSeq, ms, result };
  }

  function addPoint(p: Point): void {
    if (!points.some((q) => q.seq === p.seq)) points.push(p);
  }

  async function restoreAndCompare(p: Point, why: string): Promise<void> {
    const dir = await tv.tempDir('restore');
    try {
      await tv.json(['restore', GROUP, '--at', `seq:${p.seq}`, '--to', dir]);
      assertSameTree(quickSnapshot(dir), p.snap, { label: `${why}: restore seq:${p.seq} (${p.label}), seed ${seed}` });
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }

  /** Restore several points, two at a time. */
  async function restoreAll(list: Point[], why: string): Promise<void> {
    for (let i = 0; i < list.length; i += 2) {
      await Promise.all(list.slice(i, i + 2).map((p) => restoreAndCompare(p, why)));
    }
  }

  function assertNotLocked(res: RunResult, args: string[], after: string): void {
    assert.doesNotMatch(res.stderr, /lock|being written by another process/i,
      `${describeCall(args)} after ${after} must take over the dead writer's lock; stderr:\n${res.stderr}`);
    assert.notEqual(res.code, 5, `${describeCall(args)} after ${after} exited 5 (TM_LOCKED):\n${res.stderr}`);
  }

  before(async () => {
    tv = await makeVault();
    src = new Source(await tv.tempDir('src'), rng);
    await src.create();
  });

  after(async () => {
    await tv?.cleanup();
  });

  it('records three initial points and measures a run', { timeout: 120_000 }, async (t) => {
    t.diagnostic(`seed ${seed} (replay with TIDEMARK_TEST_SEED=${seed})`);
    let snap = quickSnapshot(src.dir);
    let r = await protectFully('initial point 1');
    addPoint({ seq: r.seq, snap, label: 'initial 1' });
    t.diagnostic(`initial protect: ${r.ms} ms, ${r.result.records} records`);

    await src.mutate(0, false);
    snap = quickSnapshot(src.dir);
    r = await protectFully('initial point 2');
    addPoint({ seq: r.seq, snap, label: 'initial 2' });
    const light = r.ms;

    await src.mutate(0, true);
    snap = quickSnapshot(src.dir);
    r = await protectFully('initial point 3');
    addPoint({ seq: r.seq, snap, label: 'initial 3' });
    ingestMs = Math.max(light, r.ms);
    t.diagnostic(`a run takes ${light} ms (light change) / ${r.ms} ms (with a new big file): kills spread over 0..${Math.round(ingestMs * 1.15)} ms`);
    assert.equal(points.length, 3, `three distinct points: ${points.map((p) => p.seq).join(', ')}`);
  });

  it(`survives ${ROUNDS} rounds of SIGKILL during protect --once`, { timeout: 600_000 }, async (t) => {
    assert.ok(ingestMs > 0, 'the initial points were recorded');
    const outcomes = new Map<Outcome, number>();
    // Timed kills spread over the duration of the last run that finished: rounds change
    // little, so they run faster than the initial ingest (and a loaded machine makes any
    // single measurement loose); calibrating on the initial run alone let half the kills
    // land after the run was over.
    let recentMs = ingestMs;
    const killedSoFar = (): number => [...outcomes].filter(([k]) => k !== 'completed').reduce((n, [, c]) => n + c, 0);
    // How many kills land mid-run is up to the machine's timing: rounds go on past ROUNDS
    // (at most MAX_ROUNDS) until half of ROUNDS were killed mid-run.
    for (let round = 1; ; round++) {
      const heavy = rng.chance(0.3);
      const did = await src.mutate(round, heavy);
      const snap = quickSnapshot(src.dir);
      const before = listPacksSync(tv.vault);
      const mode = killMode(rng);
      const delay = Math.round(rng.next() * recentMs * 1.15);
      const extra = rng.int(0, 40);
      const args = protectArgs();
      const sp = spawnCli(args, tv.env);
      const kill = (): void => { sp.child.kill('SIGKILL'); };
      let timer: NodeJS.Timeout | undefined;
      let poll: NodeJS.Timeout | undefined;
      if (mode === 'timed') {
        timer = setTimeout(kill, delay);
      } else if (mode === 'on-temp' || mode === 'on-pack') {
        // Kill when the run is seen writing a pack (a temp file), or just after a pack
        // became durable (within `extra` ms: while the journal commit is made durable).
        poll = setInterval(() => {
          const now = listPacksSync(tv.vault);
          if (mode === 'on-temp' && now.temps.some((n) => !before.temps.includes(n))) { clearInterval(poll); kill(); }
          if (mode === 'on-pack' && now.packs.some((n) => !before.packs.includes(n))) { clearInterval(poll); timer = setTimeout(kill, extra); }
        }, 2);
      }
      let hung = false;
      const watchdog = setTimeout(() => { hung = true; kill(); }, HANG_MS);
      const res = await sp.done;
      clearTimeout(watchdog);
      clearTimeout(timer);
      clearInterval(poll);
      assert.ok(!hung, `round ${round}: protect --once did not finish within ${HANG_MS} ms (mode ${mode}); stderr:\n${res.stderr}`);
      const how = mode === 'timed' ? `kill after ${delay} ms` : mode === 'on-temp' ? 'kill while a pack is written'
        : mode === 'on-pack' ? `kill ${extra} ms after a new pack appears` : 'left to finish';
      const where = `round ${round} (seed ${seed}, ${how}, ran ${Date.now() - sp.started} ms; changes: ${did.join('; ')})`;

      let outcome: Outcome;
      if (res.signal === null) {
        assert.equal(res.code, 0, `${where}: protect exited ${res.code}:\n${res.stderr}`);
        recentMs = Math.max(50, Date.now() - sp.started);
        const result = parseJson<ProtectJson>(res, args);
        assert.ok(result.lastSeq >= knownLast, `${where}: lastSeq ${result.lastSeq} < last known ${knownLast}`);
        knownLast = result.lastSeq;
        addPoint({ seq: result.lastSeq, snap, label: `round ${round}, completed` });
        outcome = 'completed';
      } else {
        assert.equal(res.signal, 'SIGKILL', `${where}: protect died of ${res.signal}:\n${res.stderr}`);
        const afterKill = listPacksSync(tv.vault);
        const newPacks = afterKill.packs.filter((p) => !before.packs.includes(p));
        // The next command takes over the lock, indexes what the dead run left and applies
        // a commit it made durable: then that commit's point is the tree of this round.
        const targs = ['timeline', GROUP, '--json'];
        const tres = await tv.run(targs);
        assertNotLocked(tres, targs, `the SIGKILL of ${where}`);
        assert.equal(tres.code, 0, `${where}: ${describeCall(targs)} exited ${tres.code}:\n${tres.stderr}`);
        const tl = parseJson<TimelineJson>(tres, targs);
        assert.ok(tl.last.seq >= knownLast, `${where}: the last seq went back from ${knownLast} to ${tl.last.seq}: a recorded point was lost`);
        if (tl.last.seq > knownLast) {
          knownLast = tl.last.seq;
          addPoint({ seq: tl.last.seq, snap, label: `round ${round}, ${how}, commit recovered` });
          outcome = 'killed: commit durable (recovered)';
        } else if (afterKill.temps.some((n) => !before.temps.includes(n))) {
          outcome = 'killed: during a pack write';
        } else if (newPacks.length > 0) {
          outcome = 'killed: packs durable, no commit';
        } else {
          outcome = 'killed: nothing durable';
        }
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      if (process.env.TIDEMARK_TEST_VERBOSE) console.error(`${new Date().toISOString()} ${where}: ${outcome}`);

      const final = round >= ROUNDS && (killedSoFar() >= ROUNDS / 2 || round >= MAX_ROUNDS);
      if (round % CHECK_EVERY === 0 || final) {
        // 1. The vault is healthy.
        const vargs = ['verify', '--read-data', '--json'];
        const vres = await tv.run(vargs);
        assertNotLocked(vres, vargs, where);
        const v = parseJson<VerifyJson>(vres, vargs);
        const serious = v.problems.filter((p) => p.kind !== 'unindexed-pack');
        assert.deepEqual(serious, [], `${where}: verify --read-data found problems`);
        assert.equal(v.ok, true, `${where}: verify ok`);
        assert.equal(vres.code, 0, `${where}: verify exited ${vres.code}:\n${vres.stderr}`);
        // 2. Earlier completed points restore exactly (a rotating sample; all of them at the end).
        const earlier = final ? [...points] : [rng.pick(points)];
        await restoreAll([...new Set(earlier)], `check after ${where}`);
        // 3. An uninterrupted run succeeds and its point is the tree as it is now.
        const r = await protectFully(`uninterrupted protect after ${where}`);
        addPoint({ seq: r.seq, snap, label: `uninterrupted run after round ${round}` });
        if (!final || !earlier.some((p) => p.seq === r.seq)) {
          await restoreAndCompare(points.find((p) => p.seq === r.seq)!, `uninterrupted run after ${where}`);
        }
      }
      if (final) break;
    }
    t.diagnostic(`outcomes: ${[...outcomes].map(([k, n]) => `${k} x${n}`).join(', ')}`);
    t.diagnostic(`points checked: ${points.map((p) => `seq:${p.seq} (${p.label})`).join('; ')}`);
    const killed = killedSoFar();
    assert.ok(killed >= ROUNDS / 2, `at least half of the rounds must be killed mid-run, got ${killed} (seed ${seed})`);
  });
});
