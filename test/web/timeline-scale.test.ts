/**
 * Acceptance: the timeline of a group with 1,000,000 recovery points opens in under 1 s
 * on loopback, because the server aggregates (SQL over the points_time index) and sends
 * a few hundred buckets. The points are inserted straight into the vault's index (a
 * cache, and the fastest way to a journal this long), spread over 30 days.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { startConsole, type RunningConsole } from '../../src/web/index.js';
import { Client, protectedFixture, type Fixture } from './web-helpers.js';
import { launchChromium, screenshotPath } from './browser.js';

const POINTS = 1_000_000;
const SPAN_MS = 30 * 24 * 3600_000;
const T0 = Date.parse('2026-10-01T00:00:00Z');

let fx: Fixture;
let web: RunningConsole;
let client: Client;

/** Add group "big" with POINTS points (and a root directory) to the vault's index. */
function addBigGroup(vaultDir: string): void {
  const db = new Database(path.join(vaultDir, 'index.sqlite'));
  try {
    db.transaction(() => {
      const gid = Number(db.prepare('INSERT INTO groups (name, last_seq) VALUES (?, ?)').run('big', POINTS).lastInsertRowid);
      const add = db.prepare('INSERT INTO points (group_id, seq, time) VALUES (?, ?, ?)');
      const step = SPAN_MS / POINTS;
      for (let seq = 1; seq <= POINTS; seq++) add.run(gid, seq, T0 + Math.floor((seq - 1) * step));
      for (const table of ['versions', 'head']) {
        db.prepare(`INSERT INTO ${table} (group_id, path, seq, parent, name, kind, mode, uid, gid, mtime_ns, ctime_ns, ino, size, extents, target, link)
          VALUES (?, x'', 1, NULL, x'', 2, ?, 0, 0, ?, ?, 0, 0, NULL, NULL, NULL)`).run(gid, 0o755, BigInt(T0) * 1_000_000n, BigInt(T0) * 1_000_000n);
      }
    })();
  } finally {
    db.close();
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await fn();
  return { ms: performance.now() - t, value };
}

describe('timeline of a group with 1,000,000 recovery points', { timeout: 240_000 }, () => {
  before(async () => {
    fx = await protectedFixture();
    const t = performance.now();
    addBigGroup(fx.tv.vault);
    console.log(`[timeline-scale] inserted ${POINTS} points in ${Math.round(performance.now() - t)} ms`);
    web = await startConsole({ vaultDir: fx.tv.vault, passphraseFile: fx.passphraseFile, listen: '127.0.0.1:0', log: () => undefined });
    client = new Client(web.url);
    assert.equal((await client.login('admin', readFileSync(web.initialPasswordFile!, 'utf8').trim())).status, 200);
  });
  after(async () => {
    await web?.close();
    await fx?.tv.cleanup();
  });

  it('answers the whole-journal timeline in under 1 s, every point counted', async () => {
    const { ms, value: r } = await timed(() => client.call('GET', '/api/groups/big/timeline?buckets=200'));
    console.log(`[timeline-scale] whole timeline, 200 buckets: ${ms.toFixed(0)} ms, ${r.bytes.length} bytes`);
    assert.equal(r.status, 200);
    assert.equal(r.json.points, POINTS);
    const buckets = r.json.buckets as { count: number; firstSeq: number; lastSeq: number }[];
    assert.equal(buckets.length, 200);
    assert.equal(buckets.reduce((a, b) => a + b.count, 0), POINTS);
    assert.equal(buckets[0]!.firstSeq, 1);
    assert.equal(buckets.at(-1)!.lastSeq, POINTS);
    assert.ok(ms < 1000, `the timeline took ${ms.toFixed(0)} ms`);
  });

  it('answers a zoomed range and the most detailed view in under 1 s each', async () => {
    const from = T0 + 10 * 24 * 3600_000;
    const zoom = await timed(() => client.call('GET', `/api/groups/big/timeline?from=${from}&to=${from + 3600_000}&buckets=60`));
    assert.equal(zoom.value.status, 200);
    const expected = Math.round(3600_000 / (SPAN_MS / POINTS));
    assert.ok(Math.abs(Number(zoom.value.json.points) - expected) <= 1, `one hour holds about ${expected} points, got ${zoom.value.json.points}`);
    const fine = await timed(() => client.call('GET', '/api/groups/big/timeline?buckets=2000'));
    assert.equal(fine.value.json.points, POINTS);
    console.log(`[timeline-scale] one hour zoomed: ${zoom.ms.toFixed(0)} ms; 2000 buckets: ${fine.ms.toFixed(0)} ms`);
    assert.ok(zoom.ms < 1000 && fine.ms < 1000, `zoomed ${zoom.ms.toFixed(0)} ms, 2000 buckets ${fine.ms.toFixed(0)} ms`);
  });

  it('opens the group page with its timeline in Chromium', async () => {
    const browser = await launchChromium();
    try {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      await ctx.addCookies([{ name: 'tm_session', value: client.cookie.split('=')[1]!, url: web.url }]);
      const page = await ctx.newPage();
      await page.goto(`${web.url}#/`);
      await page.waitForSelector('tr[data-group="big"]');
      const t = performance.now();
      await page.goto(`${web.url}#/group/big`);
      await page.waitForSelector('svg.timeline rect.bar >> nth=199');
      const ms = performance.now() - t;
      console.log(`[timeline-scale] group page with the timeline drawn in Chromium: ${ms.toFixed(0)} ms`);
      assert.equal(await page.locator('svg.timeline rect.bar').count(), 200);
      await page.screenshot({ path: screenshotPath('10-timeline-1M-points') });
    } finally {
      await browser.close();
    }
  });
});
