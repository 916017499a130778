/**
 * Prune while readers run, through the real CLI: a `cat` kept alive by a full stdout pipe
 * holds its point, so `prune` keeps that point (reason "in use by `cat`") and the bytes
 * the reader gets are the point's; while any reader is live, packs no longer used stay on
 * disk (`packsDeferred`) and a later prune, with no reader, deletes them.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { CLI_PATH, REPO_ROOT, makeVault, type TestVault } from '../helpers/cli.js';
import { childEnv } from '../helpers/child-env.js';

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const GROUP = 'held';
const iso = (t: number): string => new Date(t).toISOString();

interface PruneJson {
  pointsDropped: number;
  packsDeleted: number;
  packsDeferred: number;
  warnings: string[];
  groups: { group: string; dropped: number[]; keptBeyondWindow: { seq: number; reason: string }[] }[];
}

async function packFiles(vault: string): Promise<string[]> {
  const out: string[] = [];
  for (const sub of await fs.readdir(path.join(vault, 'packs'))) for (const f of await fs.readdir(path.join(vault, 'packs', sub))) out.push(f);
  return out.sort();
}

const children = new Set<ChildProcessWithoutNullStreams>();

/** `tidemark cat` whose stdout nobody reads yet: it blocks once the pipe is full, holding its point. */
async function blockedCat(tv: TestVault, seq: number, file: string): Promise<{ child: ChildProcessWithoutNullStreams; drain: () => Promise<Buffer> }> {
  const child = spawn(process.execPath, [CLI_PATH, 'cat', GROUP, file, '--at', `seq:${seq}`], { cwd: REPO_ROOT, env: childEnv(tv.env) });
  children.add(child);
  child.on('close', () => children.delete(child));
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  // The first bytes come after the hold is taken (vault-holds.ts): from then on prune sees it.
  await Promise.race([once(child.stdout, 'readable'), once(child, 'close').then(() => { throw new Error(`cat ended early: ${stderr}`); })]);
  const drain = async (): Promise<Buffer> => {
    const parts: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => parts.push(b));
    const [code] = await once(child, 'close') as [number];
    assert.equal(code, 0, `cat failed: ${stderr}`);
    return Buffer.concat(parts);
  };
  return { child, drain };
}

describe('prune with readers running', { timeout: 300_000 }, () => {
  let tv: TestVault;
  let src: string;
  const NOW = Date.parse('2026-06-30T12:00:00Z');
  const seqs: number[] = [];
  const x = randomBytes(3 * 1024 * 1024);
  const f1 = randomBytes(2 * 1024 * 1024);
  const f2 = randomBytes(2 * 1024 * 1024);

  before(async () => {
    tv = await makeVault();
    src = await tv.tempDir('src');
    // Three captures in one hour ten days ago (the hourly and daily rules keep only the
    // last), then one now: x.bin exists only in the first.
    const t0 = NOW - 10 * DAY;
    const steps: [number, () => Promise<void>][] = [
      [t0, async () => { await fs.writeFile(path.join(src, 'x.bin'), x); await fs.writeFile(path.join(src, 'f.bin'), f1); }],
      [t0 + MIN, () => fs.rm(path.join(src, 'x.bin'))],
      [t0 + 2 * MIN, () => fs.writeFile(path.join(src, 'f.bin'), f2)],
      [NOW - MIN, () => fs.writeFile(path.join(src, 'now.txt'), 'now')],
    ];
    for (const [time, change] of steps) {
      await change();
      const r = await tv.json<{ lastSeq: number }>(['protect', src, '--group', GROUP, '--once'], { env: { TIDEMARK_NOW: iso(time) } });
      seqs.push(r.lastSeq);
    }
  });
  after(async () => {
    // A failed assertion leaves a cat blocked on its pipe.
    for (const c of children) c.kill('SIGKILL');
    await tv?.cleanup();
  });

  it('keeps a point a reader holds, and the reader gets that point\'s bytes', async () => {
    const cat = await blockedCat(tv, seqs[0]!, 'x.bin');
    const r = await tv.json<PruneJson>(['prune'], { env: { TIDEMARK_NOW: iso(NOW) } });
    const g = r.groups.find((x) => x.group === GROUP)!;
    const kept = g.keptBeyondWindow.find((k) => k.seq === seqs[0]);
    assert.ok(kept, `seq:${seqs[0]} is held by cat and must be kept; prune said ${JSON.stringify(g)}`);
    assert.match(kept.reason, /in use by `cat` \(pid \d+\)/);
    assert.ok(g.dropped.includes(seqs[1]!), 'the unheld point in between is dropped as usual');
    assert.ok((await cat.drain()).equals(x), 'the reader got exactly the held point\'s bytes');
  });

  it('leaves unused packs in place while a reader is live, and a later prune deletes them', async () => {
    const cat = await blockedCat(tv, seqs[2]!, 'f.bin');
    const before = await packFiles(tv.vault);
    const r = await tv.json<PruneJson>(['prune'], { env: { TIDEMARK_NOW: iso(NOW) } });
    assert.ok(r.groups.find((x) => x.group === GROUP)!.dropped.includes(seqs[0]!), 'the first point is not held any more: dropped');
    assert.ok(r.packsDeferred >= 1, `x.bin's pack is unused now but cat is reading: deferred (${JSON.stringify(r)})`);
    assert.equal(r.packsDeleted, 0);
    assert.ok(r.warnings.some((w) => /left in place: `cat` \(pid \d+\) is reading the vault/.test(w)), r.warnings.join('\n'));
    const during = await packFiles(tv.vault);
    for (const p of before) assert.ok(during.includes(p), `pack ${p} was deleted while a reader was live`);
    assert.ok((await cat.drain()).equals(f2), 'the reader got exactly the held point\'s bytes');

    const again = await tv.json<PruneJson>(['prune'], { env: { TIDEMARK_NOW: iso(NOW) } });
    assert.ok(again.packsDeleted >= 1, `no reader: the packs left behind are deleted (${JSON.stringify(again)})`);
    assert.equal(again.packsDeferred, 0);
    const v = await tv.json<{ ok: boolean }>(['verify', '--read-data']);
    assert.equal(v.ok, true);
    const out = await tv.tempDir('restore');
    await tv.json(['restore', GROUP, '--at', `seq:${seqs[2]}`, '--to', out]);
    assert.ok((await fs.readFile(path.join(out, 'f.bin'))).equals(f2));
  });

  it('a reader does not wait for a capture\'s open index transaction', async () => {
    // What a long capture does: hold the index's write lock.
    const db = new Database(path.join(tv.vault, 'index.sqlite'));
    db.exec('BEGIN IMMEDIATE');
    try {
      // The lock is held until cat has ended: cat succeeds only if it never needs it.
      const r = await tv.run(['cat', GROUP, 'f.bin', '--at', `seq:${seqs[2]}`], { timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.equals(f2));
    } finally {
      db.exec('ROLLBACK');
      db.close();
    }
  });

  it('a reader whose point prune removed gets a clear error', async () => {
    const r = await tv.run(['cat', GROUP, 'x.bin', '--at', `seq:${seqs[0]}`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /seq:\d+|no recovery point|not retained|no longer/i);
  });
});
