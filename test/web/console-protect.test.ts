/**
 * The console inside a live `tidemark protect`: served on the address given by --console,
 * showing the group as protected with its source and RPO lag, refusing a restore over the
 * source it protects; with the port taken, protection goes on (a warning on stderr); with
 * --no-console nothing listens.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { makeVault, type TestVault } from '../helpers/cli.js';
import { LiveProtect, killAllLive } from '../helpers/live.js';
import { Client } from './web-helpers.js';

let tv: TestVault;

function consoleUrl(p: LiveProtect): string | null {
  return /Tidemark console at (\S+)/.exec(p.stderr)?.[1] ?? null;
}

async function waitForCapture(p: LiveProtect, file: string, from: number): Promise<void> {
  await p.waitFor((e) => e.event === 'capture' && e.records > 0, 30_000, `a capture of ${file}`, from);
}

describe('console served by a live protect', { timeout: 180_000 }, () => {
  before(async () => { tv = await makeVault(); });
  after(async () => {
    await killAllLive();
    await tv?.cleanup();
  });

  it('serves the console on --console ADDR, shows the group protecting, refuses a restore over its source', async () => {
    const src = await tv.tempDir('src');
    await fs.writeFile(path.join(src, 'a.txt'), 'one\n');
    const p = LiveProtect.start(tv, src, 'live', ['--console', '127.0.0.1:0']);
    await p.waitForBaseline();
    const url = consoleUrl(p);
    assert.ok(url, `the console URL is printed: ${p.stderr}`);
    assert.match(p.stderr, /first start, an admin account was created/);
    const c = new Client(url);
    assert.equal((await c.login('admin', readFileSync(path.join(tv.vault, 'console', 'initial-admin-password'), 'utf8').trim())).status, 200);
    const events = p.events.length;
    await fs.writeFile(path.join(src, 'b.txt'), 'two\n');
    await waitForCapture(p, 'b.txt', events);
    const o = await c.call('GET', '/api/overview');
    const g = (o.json.groups as { name: string; health: string; source: string; rpoState: string; rpoLagMs: number; lastPoint: { seq: number } }[]).find((x) => x.name === 'live')!;
    assert.equal(g.health, 'protecting');
    assert.equal(g.source, src);
    assert.equal(g.rpoState, 'green', JSON.stringify(g));
    const tree = await c.call('GET', '/api/groups/live/tree');
    assert.deepEqual((tree.json.entries as { name: string }[]).map((e) => e.name), ['a.txt', 'b.txt'], 'the console sees points captured after it started');
    const r = await c.call('POST', '/api/groups/live/restores', { at: 'latest', target: src, overwrite: true });
    assert.equal(r.status, 409);
    assert.equal(r.json.error?.code, 'TM_PRODUCTION_TARGET');
    const bm = await c.call('POST', '/api/groups/live/bookmarks', { name: 'while-live' });
    assert.equal(bm.status, 201, 'a bookmark can be taken while protect runs');
    const exit = await p.stop();
    assert.equal(exit.code, 0, p.describe());
    await assert.rejects(fetch(url), 'the console stops with protect');
  });

  it('keeps protecting when the console port is taken, with a warning', async () => {
    const blocker = net.createServer();
    await new Promise<void>((res) => blocker.listen(0, '127.0.0.1', res));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const src = await tv.tempDir('busy');
      await fs.writeFile(path.join(src, 'a.txt'), 'one\n');
      const p = LiveProtect.start(tv, src, 'busy', ['--console', `127.0.0.1:${port}`]);
      await p.waitForBaseline();
      assert.match(p.stderr, /warning: the web console did not start \(.*EADDRINUSE.*\); protection goes on/);
      const events = p.events.length;
      await fs.writeFile(path.join(src, 'b.txt'), 'two\n');
      await waitForCapture(p, 'b.txt', events);
      assert.equal((await p.stop()).code, 0, p.describe());
    } finally {
      blocker.close();
    }
  });

  it('serves nothing with --no-console', async () => {
    const src = await tv.tempDir('quiet');
    await fs.writeFile(path.join(src, 'a.txt'), 'one\n');
    const p = LiveProtect.start(tv, src, 'quiet', ['--no-console']);
    await p.waitForBaseline();
    // A capture after the baseline: by then protect handles SIGINT (it is installed after the baseline line).
    const events = p.events.length;
    await fs.writeFile(path.join(src, 'b.txt'), 'two\n');
    await waitForCapture(p, 'b.txt', events);
    assert.equal(consoleUrl(p), null);
    assert.doesNotMatch(p.stderr, /console/);
    assert.equal((await p.stop()).code, 0, p.describe());
  });
});
