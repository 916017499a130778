/**
 * prune against a real vault in a temp directory, driven in-process with a fixed clock:
 * random trees changed over simulated days, thinned by random policies, several prunes
 * in a row. After every prune each retained point must read exactly as before, the
 * dropped ones must be gone, `index rebuild` (from the packs alone) must give the same
 * index, and every referenced blob must still be stored and readable.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../common/rel-path.js';
import { ingestOnce } from '../tap/file/snapshot-ingest.js';
import { initVault, Vault } from './vault.js';
import { verifyVault } from './vault-verify.js';
import { pruneVault, retainedVersions } from './prune.js';
import { thin } from './retention/thin.js';
import { DEFAULT_POLICY, type RetentionPolicy } from './retention/retention-policy.js';
import { EntryKind } from './journal/journal-record.js';
import type { VersionRow } from './index/index-db.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ENV = { TIDEMARK_PASSPHRASE: 'prune-test-passphrase' };

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function describeRow(r: VersionRow): string {
  const e = r.entry;
  return JSON.stringify([r.seq, e.kind, e.mode, e.uid, e.gid, String(e.mtimeNs), String(e.ctimeNs), String(BigInt.asUintN(64, e.ino)), e.size,
    e.extents.map((x) => `${x.id?.toString('hex') ?? 'zero'}:${x.length}`), e.target?.toString('hex') ?? null, e.link?.toString('hex') ?? null]);
}

/** The whole tree of a group at a point, as the index answers it. */
function stateAt(vault: Vault, gid: number, seq: number): Map<string, string> {
  const out = new Map<string, string>();
  const root = vault.index.versionAt(gid, ROOT, seq);
  if (!root || root.entry.kind === EntryKind.tombstone) return out;
  out.set('', describeRow(root));
  const walk = (dir: Buffer): void => {
    for (const row of vault.index.childrenAt(gid, dir, seq)) {
      out.set(row.path.toString('latin1'), describeRow(row));
      if (row.entry.kind === EntryKind.dir) walk(row.path);
    }
  };
  walk(ROOT);
  return out;
}

/** Every table of the index that must survive a rebuild, for one group. */
function indexDump(vault: Vault, gid: number): { points: string; versions: string; head: string } {
  const db = vault.index.db;
  return {
    points: JSON.stringify(db.prepare('SELECT seq, time FROM points WHERE group_id = ? ORDER BY seq').all(gid)),
    versions: JSON.stringify(db.prepare('SELECT hex(path) p, seq, kind, mode, size, hex(extents) x, hex(target) t, hex(link) l, ino FROM versions WHERE group_id = ? ORDER BY path, seq').safeIntegers(true).all(gid), (_k, v) => (typeof v === 'bigint' ? String(v) : v)),
    head: JSON.stringify(db.prepare('SELECT hex(path) p, seq FROM head WHERE group_id = ? ORDER BY path').all(gid)),
  };
}

function packBytes(dir: string, vault: Vault): number {
  return vault.listPackFiles().reduce((s, n) => s + statSync(join(dir, 'packs', n.slice(0, 2), `${n}.pack`)).size, 0);
}

function rebuildIndex(vault: Vault): void {
  vault.index.db.exec('DELETE FROM versions; DELETE FROM head; DELETE FROM points; DELETE FROM commits; DELETE FROM blobs; DELETE FROM packs; DELETE FROM groups; DELETE FROM bookmarks;');
  vault.syncIndex();
  vault.syncBookmarks();
}

/** Apply one random change to the tree under `src`. */
function mutate(src: string, r: () => number, n: number): void {
  const files: string[] = [];
  const dirs: string[] = [''];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(src, rel))) {
      const p = rel ? `${rel}/${name}` : name;
      const st = statSync(join(src, p), { throwIfNoEntry: false });
      if (st?.isDirectory()) { dirs.push(p); walk(p); } else files.push(p);
    }
  };
  walk('');
  const pick = <T>(a: T[]): T => a[Math.floor(r() * a.length)]!;
  const op = r();
  const content = (): Buffer => Buffer.from(`content ${Math.floor(r() * 6)} `.repeat(1 + Math.floor(r() * 3000)));
  if (op < 0.35 || files.length === 0) {
    writeFileSync(join(src, pick(dirs), `f${n}`), content());
  } else if (op < 0.6) {
    writeFileSync(join(src, pick(files)), content());
  } else if (op < 0.7) {
    rmSync(join(src, pick(files)), { force: true });
  } else if (op < 0.8) {
    mkdirSync(join(src, pick(dirs), `d${n}`), { recursive: true });
  } else if (op < 0.87 && dirs.length > 1) {
    const d = pick(dirs.slice(1));
    const to = join(src, `moved${n}`);
    renameSync(join(src, d), to);
  } else if (op < 0.93 && dirs.length > 1) {
    rmSync(join(src, pick(dirs.slice(1))), { recursive: true, force: true });
  } else {
    symlinkSync(`target-${n}`, join(src, pick(dirs), `l${n}`));
  }
}

describe('prune', () => {
  let tmp: string;
  before(() => { tmp = mkdtempSync(join(tmpdir(), 'tidemark-prune-')); });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('keeps every retained point byte-identical, forgets dropped ones, and survives index rebuild (random scenarios)', () => {
    let compactions = 0;
    let recompactions = 0;
    let dropped = 0;
    for (const seed of [1, 2, 3, 4]) {
      const r = rng(seed);
      const dir = join(tmp, `v${seed}`);
      const src = join(tmp, `src${seed}`);
      mkdirSync(src);
      initVault(dir, { env: ENV });
      const vault = Vault.open(dir, { env: ENV, write: true });
      try {
        let clock = Date.parse('2026-10-01T00:00:00Z');
        const states = new Map<number, Map<string, string>>();
        let n = 0;
        for (let round = 0; round < 3; round++) {
          // A burst of captures spread over a few simulated days.
          const captures = 15 + Math.floor(r() * 20);
          for (let i = 0; i < captures; i++) {
            for (let k = 1 + Math.floor(r() * 3); k > 0; k--) mutate(src, r, n++);
            clock += Math.floor(r() * 8 * HOUR);
            ingestOnce(vault, { source: src, group: 'g', now: () => clock });
            if (r() < 0.1) {
              const gid = vault.index.groupId('g')!;
              const last = vault.index.lastPoint(gid)!;
              vault.addBookmark({ group: 'g', name: `b${n}`, seq: last.seq, time: last.time, consistency: 'crash', tags: [] });
            }
          }
          const gid = vault.index.groupId('g')!;
          for (const p of vault.index.pointsOf(gid)) if (!states.has(p.seq)) states.set(p.seq, stateAt(vault, gid, p.seq));
          const policy: RetentionPolicy = { keepWithinMs: Math.floor(r() * 2 * DAY), keepHourly: Math.floor(r() * 6), keepDaily: Math.floor(r() * 4), keepBookmarks: true };
          const now = clock + Math.floor(r() * 3 * DAY);
          const pointsBefore = vault.index.pointsOf(gid);
          const marks = new Set(vault.index.bookmarks(gid).map((b) => b.seq));
          const expected = thin(pointsBefore, marks, policy, now);

          const report = pruneVault(vault, { now, policyOf: () => policy });
          const label = `seed ${seed} round ${round}`;
          const g = report.groups[0]!;
          const after = vault.index.pointsOf(gid);
          const afterSeqs = new Set(after.map((p) => p.seq));
          for (const s of expected.keep) assert.ok(afterSeqs.has(s), `${label}: kept point seq:${s} is still there`);
          for (const s of g.dropped) assert.ok(!afterSeqs.has(s) && expected.drop.includes(s), `${label}: seq:${s} dropped as the policy says`);
          assert.equal(g.pointsDropped + g.pointsDeferred, expected.drop.length, `${label}: every point the policy drops is dropped or deferred`);
          for (const s of expected.drop) if (!g.dropped.includes(s)) assert.ok(g.compactedThrough === null || s > g.compactedThrough, `${label}: only points after through are deferred`);
          for (const p of after) assert.deepEqual(stateAt(vault, gid, p.seq), states.get(p.seq), `${label}: state at seq:${p.seq}`);
          const v = verifyVault(vault, { readData: true });
          assert.ok(v.ok, `${label}: verify: ${JSON.stringify(v.problems.slice(0, 3))}`);
          assert.equal(v.problems.length, 0, `${label}: no unindexed packs left`);

          // The packs alone give back the same index.
          const dump = indexDump(vault, gid);
          rebuildIndex(vault);
          const gid2 = vault.index.groupId('g')!;
          assert.deepEqual(indexDump(vault, gid2), dump, `${label}: index rebuilt from the packs`);
          for (const p of after) assert.deepEqual(stateAt(vault, gid2, p.seq), states.get(p.seq), `${label}: state at seq:${p.seq} after rebuild`);

          // A second prune at the same moment changes nothing.
          const again = pruneVault(vault, { now, policyOf: () => policy });
          assert.equal(again.pointsDropped, 0, `${label}: second prune drops nothing`);
          assert.equal(again.packsDeleted + again.packsRepacked, 0, `${label}: second prune frees nothing`);
          for (const s of g.dropped) states.delete(s);
          if (g.compactedThrough !== null) { compactions++; if (vault.index.compacted(gid2).generation > 1) recompactions++; }
          dropped += g.pointsDropped;
        }
      } finally {
        vault.close();
      }
    }
    // The scenarios must exercise what they claim to.
    assert.ok(compactions >= 6 && recompactions >= 3 && dropped > 100, `compactions ${compactions}, recompactions ${recompactions}, dropped ${dropped}`);
  });

  it('never rewrites commits that reach into the window, and shrinks the vault', () => {
    const dir = join(tmp, 'window');
    const src = join(tmp, 'window-src');
    mkdirSync(src);
    initVault(dir, { env: ENV });
    const vault = Vault.open(dir, { env: ENV, write: true });
    try {
      const t0 = Date.parse('2026-11-01T00:00:00Z');
      for (let i = 0; i < 30; i++) {
        writeFileSync(join(src, 'big.bin'), Buffer.alloc(200_000, i + 1).fill(i, 0, 1000));
        writeFileSync(join(src, `small${i % 3}`), `v${i}`);
        ingestOnce(vault, { source: src, group: 'g', now: () => t0 + i * HOUR });
      }
      const gid = vault.index.groupId('g')!;
      const before = packBytes(dir, vault);
      const allPoints = vault.index.pointsOf(gid);
      // Window = the last 5 hours: points 26..30 are inside it.
      const now = t0 + 29 * HOUR + 30 * 60_000;
      const policy: RetentionPolicy = { ...DEFAULT_POLICY, keepWithinMs: 5 * HOUR, keepHourly: 0, keepDaily: 0 };
      const dry = pruneVault(vault, { now, policyOf: () => policy, dryRun: true });
      assert.equal(vault.index.pointCount(gid), allPoints.length, 'a dry run changes nothing');
      assert.equal(packBytes(dir, vault), before, 'a dry run writes nothing');
      const r = pruneVault(vault, { now, policyOf: () => policy });
      assert.equal(r.pointsDropped, dry.pointsDropped);
      assert.equal(r.packsDeleted, dry.packsDeleted);
      const inWindow = allPoints.filter((p) => p.time >= now - 5 * HOUR);
      assert.equal(new Set(inWindow.map((p) => p.time)).size, 5);
      const left = new Set(vault.index.pointsOf(gid).map((p) => p.seq));
      for (const p of inWindow) assert.ok(left.has(p.seq), `seq:${p.seq} inside the window is kept`);
      assert.ok(r.groups[0]!.compactedThrough! < inWindow[0]!.seq, 'through stops before the window');
      assert.ok(r.pointsDropped > 0 && r.packsDeleted > 0, JSON.stringify(r));
      assert.ok(packBytes(dir, vault) < before / 2, `the vault shrank: ${packBytes(dir, vault)} < ${before} / 2`);
      assert.equal(r.bytesFreed, before - packBytes(dir, vault));
    } finally {
      vault.close();
    }
  });
});

describe('prune after a crash', () => {
  let tmp: string;
  before(() => { tmp = mkdtempSync(join(tmpdir(), 'tidemark-prune-crash-')); });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('ignores superseded commits in packs a crash left undeleted, and collects them', () => {
    const dir = join(tmp, 'v');
    const src = join(tmp, 'src');
    mkdirSync(src);
    initVault(dir, { env: ENV });
    let vault = Vault.open(dir, { env: ENV, write: true });
    const t0 = Date.parse('2026-11-01T00:00:00Z');
    const r = rng(7);
    for (let i = 0; i < 40; i++) {
      mutate(src, r, i);
      ingestOnce(vault, { source: src, group: 'g', now: () => t0 + i * HOUR });
    }
    const saved = join(tmp, 'saved-packs');
    cpSync(join(dir, 'packs'), saved, { recursive: true });
    const policy: RetentionPolicy = { keepWithinMs: 10 * HOUR, keepHourly: 3, keepDaily: 1, keepBookmarks: true };
    const now = t0 + 40 * HOUR;
    const first = pruneVault(vault, { now, policyOf: () => policy });
    assert.ok(first.packsDeleted > 0);
    const packsAfter = new Set(vault.listPackFiles());
    const gid = vault.index.groupId('g')!;
    const dump = indexDump(vault, gid);
    vault.close();
    // As if prune had died after its index transactions but before deleting any file.
    cpSync(saved, join(dir, 'packs'), { recursive: true, force: false, errorOnExist: false });
    const resurrected = readdirSync(saved).flatMap((d) => readdirSync(join(saved, d))).length - [...packsAfter].filter((n) => existsSync(join(saved, n.slice(0, 2), `${n}.pack`))).length;
    assert.ok(resurrected > 0);
    vault = Vault.open(dir, { env: ENV, write: true });
    try {
      assert.deepEqual(indexDump(vault, vault.index.groupId('g')!), dump, 'the old packs change nothing the index answers');
      const superseded = vault.index.db.prepare('SELECT count(*) AS n FROM commits c JOIN groups g ON g.id = c.group_id WHERE c.last_seq < g.compacted_through').get() as { n: number };
      assert.equal(superseded.n, 0, 'no superseded commit is recorded');
      rebuildIndex(vault);
      assert.deepEqual(indexDump(vault, vault.index.groupId('g')!), dump, 'rebuilt with the old packs present');
      const again = vault.index.db.prepare('SELECT count(*) AS n FROM commits c JOIN groups g ON g.id = c.group_id WHERE c.last_seq < g.compacted_through').get() as { n: number };
      assert.equal(again.n, 0, 'no superseded commit is recorded by a rebuild');
      const second = pruneVault(vault, { now, policyOf: () => policy });
      assert.equal(second.pointsDropped, 0);
      // A rebuild may point a blob at its old copy rather than the repacked one: then the old
      // pack is repacked and the new one deleted. Either way, nothing superseded survives.
      assert.ok(second.packsDeleted + second.packsRepacked >= resurrected, JSON.stringify(second));
      assert.deepEqual(indexDump(vault, vault.index.groupId('g')!), dump);
      assert.ok(verifyVault(vault, { readData: true }).ok);
    } finally {
      vault.close();
    }
  });
});

describe('prune interrupted at every step', () => {
  let tmp: string;
  before(() => { tmp = mkdtempSync(join(tmpdir(), 'tidemark-prune-steps-')); });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('leaves a consistent vault wherever it stops, and a later prune finishes the job', () => {
    const base = join(tmp, 'base');
    const src = join(tmp, 'src');
    mkdirSync(src);
    initVault(base, { env: ENV });
    const t0 = Date.parse('2026-11-01T00:00:00Z');
    const states = new Map<number, Map<string, string>>();
    let vault = Vault.open(base, { env: ENV, write: true });
    for (let i = 0; i < 24; i++) {
      // A big file that every capture replaces (dead once thinned) beside a small one that
      // stays (live): old packs become sparse, so prune both deletes and repacks.
      writeFileSync(join(src, 'big.bin'), Buffer.alloc(60_000, i + 1).fill(i * 7 + 3, 0, 100));
      if (i % 3 === 0) writeFileSync(join(src, `keep${i}`), `keep ${i}`.repeat(200));
      ingestOnce(vault, { source: src, group: 'g', now: () => t0 + i * 20 * 60_000 });
    }
    const gid = vault.index.groupId('g')!;
    for (const p of vault.index.pointsOf(gid)) states.set(p.seq, stateAt(vault, gid, p.seq));
    vault.close();
    const policy: RetentionPolicy = { keepWithinMs: 2 * HOUR, keepHourly: 2, keepDaily: 1, keepBookmarks: true };
    const now = t0 + 24 * 20 * 60_000;
    const run = (dir: string, stopAt: number, outer = false): string[] => {
      const steps: string[] = [];
      const v = Vault.open(dir, { env: ENV, write: true });
      try {
        if (outer) v.index.db.exec('BEGIN IMMEDIATE');
        pruneVault(v, { now, policyOf: () => policy, onProgress: (text) => { if (steps.length === stopAt) throw new Error(`stopped at ${text}`); steps.push(text); } });
      } catch (err) {
        if (!(err instanceof Error && err.message.startsWith('stopped at'))) throw err;
        // A crash loses the index transaction that was open: with `outer`, the compaction's.
        if (outer) v.index.db.exec('ROLLBACK');
      } finally {
        v.close();
      }
      return steps;
    };
    const full = join(tmp, 'full');
    cpSync(base, full, { recursive: true });
    const steps = run(full, Infinity);
    assert.ok(steps.some((x) => x.startsWith('deleting') && x.includes('unused')) && steps.some((x) => x.startsWith('recording')), steps.join(' | '));
    vault = Vault.open(full, { env: ENV, write: true });
    const finalPoints = vault.index.pointsOf(vault.index.groupId('g')!).map((p) => p.seq);
    const finalDump = indexDump(vault, vault.index.groupId('g')!);
    vault.close();
    const cases = [...steps.keys()].map((k) => ({ k, outer: false })).concat([{ k: 1, outer: true }]);
    for (const { k, outer } of cases) {
      const label = `stopped before "${outer ? 'committing the compaction' : steps[k]}"`;
      const dir = join(tmp, `stop-${k}-${outer}`);
      cpSync(base, dir, { recursive: true });
      run(dir, k, outer);
      vault = Vault.open(dir, { env: ENV, write: true });
      try {
        const g2 = vault.index.groupId('g')!;
        const v = verifyVault(vault, { readData: true });
        assert.ok(v.ok, `${label}: verify: ${JSON.stringify(v.problems.slice(0, 3))}`);
        const left = vault.index.pointsOf(g2).map((p) => p.seq);
        if (k >= 1) assert.deepEqual(left, finalPoints, `${label}: the compaction is in force (from the index or the orphan pack)`);
        for (const s of left) assert.deepEqual(stateAt(vault, g2, s), states.get(s), `${label}: state at seq:${s}`);
        pruneVault(vault, { now, policyOf: () => policy });
        assert.deepEqual(indexDump(vault, g2), finalDump, `${label}: finished by a second prune`);
        const again = pruneVault(vault, { now, policyOf: () => policy });
        assert.equal(again.packsDeleted + again.packsRepacked + again.pointsDropped, 0, `${label}: nothing left to do`);
        assert.equal(verifyVault(vault, { readData: true }).problems.length, 0);
      } finally {
        vault.close();
      }
    }
  });
});

describe('retainedVersions', () => {
  const k = (path: string, seq: number, kind: number = EntryKind.file) => ({ path: Buffer.from(path), seq, kind });
  it('keeps a version when some kept point sees it, and drops the rest', () => {
    // a: versions at 1, 3, 5; kept points 2 and 6 see 1 and 5; 3 is seen by no kept point.
    const keys = [k('a', 1), k('a', 3), k('a', 5)];
    assert.deepEqual([...retainedVersions(keys, [2, 6], 10)].sort(), ['1\0a', '5\0a']);
  });
  it('keeps versions after through whatever they are', () => {
    assert.deepEqual([...retainedVersions([k('a', 1), k('a', 3)], [4], 2)], []);
  });
  it('keeps a version seen only by a kept point after through', () => {
    assert.deepEqual([...retainedVersions([k('a', 1), k('a', 8)], [6, 9], 5)], ['1\0a']);
    assert.deepEqual([...retainedVersions([k('a', 1), k('a', 8)], [9], 5)], []);
  });
  it('drops a tombstone with no kept version before it', () => {
    const keys = [k('a', 1), k('a', 2, EntryKind.tombstone), k('a', 3), k('a', 4, EntryKind.tombstone)];
    // Kept points 2 and 4: version 1 is seen by none, so tombstone 2 follows nothing.
    assert.deepEqual([...retainedVersions(keys, [2, 4], 10)].sort(), []);
    assert.deepEqual([...retainedVersions(keys, [1, 2, 4], 10)].sort(), ['1\0a', '2\0a']);
    assert.deepEqual([...retainedVersions(keys, [1, 3, 4], 10)].sort(), ['1\0a', '3\0a', '4\0a']);
  });
});
