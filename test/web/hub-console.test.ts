/**
 * The console served by a real `tidemark hub` process, with a real `protect --hub` tap
 * shipping to it and a real vault as its fan-out target (all on loopback, mutual TLS):
 *
 * 1. the hub prints its console URL and creates an admin on first start, in HUBSTATE/console;
 * 2. the API contract: 401 without a session and 4xx on malformed input on every endpoint,
 *    every endpoint in /api/openapi.json;
 * 3. the replication view (tap connected, seqs, lag against the RPO target, bytes, spool,
 *    the target's state) and the I/O profile (write rate per minute, bandwidth for the RPO);
 * 4. in Chromium: log in, see the group with its lag and the profile chart (screenshots);
 * 5. the replica vault serves browse and download read-only beside `vault serve`
 *    (`tidemark console --vault REPLICA`: the hub itself keeps no vault, only its spool);
 * 6. a target outage shows as disconnected and lagging, red against a 1 s target set by an
 *    admin (audited; a viewer is refused);
 * 7. a busy console port only warns (the hub goes on), --no-console serves nothing, and
 *    --console-tls-cert/--console-tls-key serve https with a Secure cookie.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { assertOk, runCli } from '../helpers/cli.js';
import { Daemon, killAllDaemons } from '../helpers/daemon.js';
import { makeDeployment, type Deployment } from '../helpers/deployment.js';
import { startWriter, tapLastSeq, waitProtected } from '../helpers/replication-checks.js';
import { launchChromium, screenshotPath } from './browser.js';
import { apiRoutes, assertAuthRequired, assertBadInputs, assertDocumented, assertRejectsMalformed, Client, type ApiRoute } from './web-helpers.js';

const G = 'g';
const DESKTOP = { width: 1280, height: 800 };

interface HubTarget { target: string; state: string; ackedSeq: number; rpoLagMs: number; rpoState: string; backlogBytes: number }
interface HubGroup {
  group: string; connected: boolean; taps: { peer: string }[]; spooledSeq: number; protectedSeq: number; lastReceivedAt: string | null;
  capturedBytes: number; spoolBytes: number; spoolCommits: number; rpoLagMs: number | null; rpoTargetMs: number; rpoState: string; targets: HubTarget[];
}

const concrete = (p: string): string => p.replace('{group}', G).replace('{name}', 'someone');

async function hubGroup(c: Client): Promise<HubGroup> {
  const r = await c.call('GET', '/api/hub');
  assert.equal(r.status, 200, JSON.stringify(r.json));
  const g = (r.json.groups as HubGroup[]).find((x) => x.group === G);
  assert.ok(g, `group ${G} in ${JSON.stringify(r.json)}`);
  return g;
}

/** Poll GET /api/hub until `pred` holds for the group. */
async function waitGroup(c: Client, pred: (g: HubGroup) => boolean, ms: number, what: string): Promise<HubGroup> {
  const deadline = Date.now() + ms;
  let last: HubGroup | null = null;
  while (Date.now() < deadline) {
    last = await hubGroup(c).catch(() => null);
    if (last && pred(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`${what}: not within ${ms} ms; last ${JSON.stringify(last)}`);
}

describe('the console of tidemark hub', { timeout: 240_000 }, () => {
  let dep: Deployment;
  let vault: { d: Daemon; port: number };
  let hub: { d: Daemon; port: number };
  let tap: Daemon;
  let url: string;
  let admin: Client;
  let adminPassword: string;
  let src: string;
  let browser: Browser | undefined;

  before(async () => {
    dep = await makeDeployment();
    vault = await dep.serveVault(await dep.replica('a'), 'va');
    hub = await dep.startHub([`a=tls://127.0.0.1:${vault.port},mode=async`], { console: '127.0.0.1:0' });
    const ready = hub.d.lines.find((l) => l.event === 'listening')!;
    url = ready.consoleUrl as string;
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/, `the listening line names the console: ${JSON.stringify(ready)}`);
    assert.equal(ready.initialPasswordFile, path.join(dep.root, 'hub-state', 'console', 'initial-admin-password'));
    adminPassword = readFileSync(ready.initialPasswordFile as string, 'utf8').trim();
    src = path.join(dep.root, 'src');
    mkdirSync(src, { recursive: true });
    writeFileSync(path.join(src, 'big.bin'), randomBytes(2 * 1024 * 1024));
    tap = dep.protect(src, G, hub.port);
    await tap.waitLine((l) => l.event === 'baseline', 30_000, 'baseline');
    await waitProtected(tap, tapLastSeq(tap), 20_000);
    admin = new Client(url);
    assert.equal((await admin.login('admin', adminPassword)).status, 200);
  });
  after(async () => {
    await browser?.close();
    await killAllDaemons();
    await dep?.cleanup();
  });

  it('says on first start where the admin password is', () => {
    assert.match(hub.d.stderr, /first start, an admin account was created/);
    assert.match(hub.d.stderr, /tidemark console user add --state-dir \S+hub-state\/console NAME/);
    assert.match(hub.d.stderr, new RegExp(`Tidemark console at ${url.replace(/[.]/g, '\\.')}`));
  });

  it('answers 401 without a session and 4xx on malformed input on every endpoint, all documented in /api/openapi.json', async () => {
    const doc = await new Client(url).call('GET', '/api/openapi.json');
    assert.equal(doc.status, 200);
    assert.equal((doc.json.info as { title: string }).title, 'Tidemark hub console API');
    const routes = apiRoutes(doc.json as unknown as { paths: Record<string, Record<string, unknown>> });
    const expected: ApiRoute[] = [
      { method: 'POST', path: '/api/login', role: 'public' }, { method: 'GET', path: '/api/session', role: 'viewer' },
      { method: 'GET', path: '/api/hub', role: 'viewer' }, { method: 'GET', path: '/api/hub/groups/{group}/profile', role: 'viewer' },
      { method: 'PUT', path: '/api/hub/groups/{group}/rpo-target', role: 'admin' }, { method: 'GET', path: '/api/hub/groups/{group}/rpo-history', role: 'viewer' }, { method: 'GET', path: '/api/audit', role: 'viewer' },
      { method: 'GET', path: '/api/users', role: 'admin' }, { method: 'POST', path: '/api/users', role: 'admin' },
    ];
    await assertDocumented(url, expected);
    assert.ok(!routes.some((r) => r.path.startsWith('/api/groups/')), 'a hub serves no vault routes');
    assert.ok(await assertAuthRequired(url, routes, concrete) >= 10, 'every non-public route checked');
    await assertRejectsMalformed(admin, routes, concrete);
    await assertBadInputs(admin, [
      ['GET', '/api/hub/groups/bad%20name!/profile', undefined, /group/],
      ['GET', '/api/hub/groups/g/profile?rpoMs=5', undefined, /rpoMs/],
      ['GET', '/api/hub/groups/g/profile?minutes=abc', undefined, /minutes/],
      ['GET', '/api/hub/groups/nosuch/profile', undefined, /No group "nosuch"/],
      ['GET', '/api/hub/groups/nosuch/rpo-history', undefined, /No group "nosuch"/],
      ['PUT', '/api/hub/groups/g/rpo-target', { rpoTargetMs: -1 }, /rpoTargetMs/],
      ['PUT', '/api/hub/groups/g/rpo-target', {}, /rpoTargetMs/],
      ['GET', '/api/groups/g/timeline', undefined, /no API endpoint/],
    ]);
    assert.equal((await admin.call('GET', '/api/hub/groups/nosuch/profile')).status, 404);
    assert.equal((await admin.call('PUT', '/api/hub/groups/g/rpo-target', { rpoTargetMs: 60_000 }, { csrf: false })).status, 403, 'a change needs the CSRF token');
  });

  it('shows the shipping group: tap connected, seqs, lag within the target, bytes, spool, and the target caught up', async () => {
    const seq = tapLastSeq(tap);
    const g = await waitGroup(admin, (x) => x.targets[0]?.ackedSeq === x.spooledSeq && x.spooledSeq >= seq, 30_000, 'target a caught up');
    assert.equal(g.connected, true);
    assert.match(g.taps[0]!.peer, /^tap@/);
    assert.ok(g.protectedSeq >= seq, `protected seq:${g.protectedSeq} >= captured seq:${seq}`);
    assert.ok(g.lastReceivedAt && Date.now() - Date.parse(g.lastReceivedAt) < 120_000, `last received ${g.lastReceivedAt}`);
    assert.ok(g.capturedBytes >= 2 * 1024 * 1024, `received bytes include the 2 MiB file: ${g.capturedBytes}`);
    assert.equal(g.rpoTargetMs, 60_000);
    assert.equal(g.rpoLagMs, 0, 'nothing is missing at the target');
    assert.equal(g.rpoState, 'green');
    const t = g.targets[0]!;
    assert.deepEqual([t.target, t.state, t.rpoState, t.backlogBytes], ['a', 'connected', 'green', 0]);
    const hist = await admin.call('GET', '/api/hub/groups/g/rpo-history');
    assert.equal(hist.status, 200);
    assert.equal(hist.json.rpoTargetMs, 60_000);
    assert.ok(Array.isArray(hist.json.samples));
  });

  it('shows the I/O profile: write rate per minute, the bandwidth that holds the RPO, journal growth per day', async () => {
    const r = await admin.call('GET', '/api/hub/groups/g/profile?rpoMs=10000');
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const p = r.json as unknown as { rpoMs: number; capturedBytes: number; bandwidthForRpo: number; bytesPerDay: number; series: { bytes: number }[]; byHour: unknown[] };
    assert.equal(p.rpoMs, 10_000);
    assert.ok(p.capturedBytes >= 2 * 1024 * 1024, `profiled bytes: ${p.capturedBytes}`);
    assert.ok(p.series.length >= 1 && p.series.reduce((a, s) => a + s.bytes, 0) === p.capturedBytes, `series sums to the profile: ${JSON.stringify(p.series)}`);
    assert.ok(p.bandwidthForRpo > 0 && p.bytesPerDay >= p.capturedBytes && p.byHour.length >= 1, JSON.stringify(p));
    const slower = (await admin.call('GET', '/api/hub/groups/g/profile?rpoMs=600000')).json as unknown as { bandwidthForRpo: number };
    assert.ok(slower.bandwidthForRpo < p.bandwidthForRpo, 'a looser RPO needs less bandwidth');
  });

  it('in Chromium: logs in, shows the group with its lag and the I/O profile chart', async () => {
    browser = await launchChromium();
    const ctx = await browser.newContext({ viewport: DESKTOP, locale: 'en-US' });
    const page = await ctx.newPage();
    await page.goto(url);
    await page.waitForSelector('#login-user');
    await page.fill('#login-user', 'admin');
    await page.fill('#login-password', adminPassword);
    await page.click('form.login button[type=submit]');
    const row = page.locator('tr.group-row[data-group="g"]');
    await row.waitFor();
    assert.match(await row.innerText(), /connected/);
    assert.match(await row.locator('[data-testid=rpo]').innerText(), /^0 ms$/);
    assert.equal(await row.locator('[data-testid=rpo]').getAttribute('class'), 'badge green');
    assert.match(await page.locator('tr.target-row[data-target="g/a"]').innerText(), /connected/);
    await page.waitForSelector('tr.group-row[data-group="g"] svg.lag-chart');
    await page.waitForSelector('[data-profile="g"] svg.rate-chart rect.bar');
    assert.ok(await page.locator('[data-profile="g"] svg.rate-chart rect.bar').count() >= 1);
    assert.match(await page.locator('[data-profile="g"] [data-testid=sizing]').innerText(), /RPO target of 60\.0 s needs \d+(\.\d)? (B|KiB|MiB)\/s/);
    assert.equal(await page.title(), 'Tidemark hub console');
    await page.screenshot({ path: screenshotPath('hub-01-replication') });
    await page.click('nav a[href="#/audit"]');
    await page.waitForSelector('tr[data-action="login"]');
    await page.screenshot({ path: screenshotPath('hub-02-audit') });
    await ctx.close();
  });

  it('serves the replica vault at the recovery site read-only with `tidemark console`, beside `vault serve`', async () => {
    const replica = path.join(dep.root, 'vault-a');
    const c = Daemon.start(['console', '--vault', replica, '--listen', '127.0.0.1:0', '--json'], dep.env);
    const line = await c.waitLine((l) => l.event === 'listening', 20_000, 'listening');
    const client = new Client(line.url as string);
    assert.equal((await client.login('admin', readFileSync(line.initialPasswordFile as string, 'utf8').trim())).status, 200);
    const tree = await client.call('GET', '/api/groups/g/tree');
    assert.equal(tree.status, 200, JSON.stringify(tree.json));
    assert.deepEqual((tree.json.entries as { name: string }[]).map((e) => e.name), ['big.bin']);
    const file = await client.call('GET', '/api/groups/g/file?path=big.bin');
    assert.ok(file.bytes.equals(readFileSync(path.join(src, 'big.bin'))), 'the file downloads from the replica as written at the source');
    await c.kill();
  });

  it('shows a target outage as disconnected and lagging, red against a 1 s target an admin set (audited); a viewer may not set it', async () => {
    const pw = path.join(dep.root, 'viewer.password');
    writeFileSync(pw, 'viewer-password-0123\n', { mode: 0o600 });
    assertOk(await runCli(['console', 'user', 'add', 'v1', '--role', 'viewer', '--state-dir', path.join(dep.root, 'hub-state', 'console'), '--password-file', pw]), ['console', 'user', 'add']);
    const viewer = new Client(url);
    assert.equal((await viewer.login('v1', 'viewer-password-0123')).status, 200);
    assert.equal((await viewer.call('PUT', '/api/hub/groups/g/rpo-target', { rpoTargetMs: 1000 })).status, 403);
    const set = await admin.call('PUT', '/api/hub/groups/g/rpo-target', { rpoTargetMs: 1000 });
    assert.equal(set.status, 200, JSON.stringify(set.json));

    await vault.d.kill('SIGKILL');
    const w = startWriter(src);
    try {
      const g = await waitGroup(viewer, (x) => x.targets[0]?.state === 'disconnected' && (x.targets[0]?.rpoLagMs ?? 0) > 2000, 30_000, 'target a lags');
      assert.equal(g.rpoTargetMs, 1000);
      assert.equal(g.rpoState, 'red', `lag ${g.rpoLagMs} ms against a 1 s target`);
      assert.ok(g.targets[0]!.backlogBytes > 0 && g.spoolBytes >= g.targets[0]!.backlogBytes, JSON.stringify(g));
      assert.equal(g.targets[0]!.rpoState, 'red');
    } finally {
      w.stop();
    }
    const audit = await viewer.call('GET', '/api/audit?limit=50');
    const change = (audit.json.entries as { action: string; user: string; target: string; details: { after: { rpoTargetMs: number } } }[]).find((e) => e.action === 'policy.change');
    assert.ok(change && change.user === 'admin' && change.target === G && change.details.after.rpoTargetMs === 1000, JSON.stringify(audit.json));
  });

  it('goes on without its console when the port is taken, serves none with --no-console, and https with --console-tls-cert', async () => {
    const port = new URL(url).port;
    const args = (stateName: string, extra: string[]): string[] =>
      ['hub', '--listen', '127.0.0.1:0', '--tls', path.join(dep.root, 'tls-hub'), '--state', path.join(dep.root, stateName), '--json', ...extra];
    const busy = Daemon.start(args('busy-state', ['--console', `127.0.0.1:${port}`]), dep.env);
    const line = await busy.waitLine((l) => l.event === 'listening', 20_000, 'listening');
    assert.equal(line.consoleUrl, null);
    assert.match(busy.stderr, /warning: the web console did not start \(Cannot listen on 127\.0\.0\.1:\d+: the address is already in use.*the hub goes on without it/);
    const none = Daemon.start(args('none-state', ['--no-console']), dep.env);
    const l2 = await none.waitLine((l) => l.event === 'listening', 20_000, 'listening');
    assert.equal(l2.consoleUrl, null);
    assert.doesNotMatch(none.stderr, /console/);
    const cert = path.join(dep.root, 'console-cert.pem');
    const key = path.join(dep.root, 'console-key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
      '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const tls = Daemon.start(args('tls-state', ['--console', '127.0.0.1:0', '--console-tls-cert', cert, '--console-tls-key', key]), dep.env);
    const l3 = await tls.waitLine((l) => l.event === 'listening', 20_000, 'listening');
    assert.match(String(l3.consoleUrl), /^https:\/\/127\.0\.0\.1:\d+\/$/);
    const body = JSON.stringify({ user: 'admin', password: readFileSync(String(l3.initialPasswordFile), 'utf8').trim() });
    const cookie = await new Promise<string>((resolve, reject) => {
      const req = https.request(new URL('/api/login', String(l3.consoleUrl)), { method: 'POST', ca: readFileSync(cert), headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => { res.resume(); resolve(res.statusCode === 200 ? String(res.headers['set-cookie']?.[0]) : `status ${res.statusCode}`); });
      req.on('error', reject);
      req.end(body);
    });
    assert.match(cookie, /; Secure/, `the session cookie over https: ${cookie}`);
    await Promise.all([busy.kill(), none.kill(), tls.kill()]);
    assert.equal(busy.exitCode, 0, busy.describe());
  });
});
