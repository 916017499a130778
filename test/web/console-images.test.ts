/**
 * Volume images from the console: an operator starts an image of a volume group at a
 * point (read-only or read/write), gets the commands to attach it, real NBD clients read
 * and write it, a viewer is refused, and every start and stop lands in the audit log.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { startConsole, type RunningConsole } from '../../src/web/index.js';
import { makeVault, type TestVault } from '../helpers/cli.js';
import { killAllLive } from '../helpers/live.js';
import { qemuIo, readExport, sha256, startVolume } from '../helpers/volume.js';
import { addUser, Client } from './web-helpers.js';
import { launchChromium, screenshotPath } from './browser.js';

let tv: TestVault;
let web: RunningConsole;
let admin: Client;
let viewer: Client;
const SIZE = 4 * 1024 * 1024;
const expected = Buffer.alloc(SIZE);

describe('console: volume images', { timeout: 180_000 }, () => {
  before(async () => {
    tv = await makeVault();
    const { proc, uri } = await startVolume(tv, path.join(tv.root, 'vol.img'), 'vol', ['--size', String(SIZE)]);
    await proc.waitFor((e) => e.event === 'baseline', 30_000, 'the baseline line');
    await qemuIo(uri, ['write -P 0x5a 65536 131072', 'flush']);
    expected.fill(0x5a, 65536, 65536 + 131072);
    assert.equal((await proc.stop('SIGINT')).code, 0);
    const src = await tv.tempDir('src');
    await fs.writeFile(path.join(src, 'f'), 'x');
    await tv.json(['protect', src, '--once', '--group', 'files']);
    const passphraseFile = path.join(tv.root, 'passphrase');
    await fs.writeFile(passphraseFile, tv.passphrase + '\n', { mode: 0o600 });
    web = await startConsole({ vaultDir: tv.vault, passphraseFile, listen: '127.0.0.1:0', log: () => undefined });
    admin = new Client(web.url);
    assert.equal((await admin.login('admin', readFileSync(web.initialPasswordFile!, 'utf8').trim())).status, 200);
    viewer = new Client(web.url);
    assert.equal((await viewer.login('viewer1', await addUser(tv, 'viewer1', 'viewer'))).status, 200);
  });
  after(async () => {
    await web?.close();
    await killAllLive();
    await tv?.cleanup();
  });

  it('the point API says which groups are volumes', async () => {
    assert.equal((await admin.call('GET', '/api/groups/vol/point?at=latest')).json.kind, 'volume');
    assert.equal((await admin.call('GET', '/api/groups/files/point?at=latest')).json.kind, 'files');
  });

  it('an operator starts read-only and read/write images that real clients use; stopping ends them', async () => {
    const ro = await admin.call('POST', '/api/groups/vol/images', { at: 'latest' });
    assert.equal(ro.status, 201, JSON.stringify(ro.json));
    const roUri = String(ro.json.uri);
    assert.ok((ro.json.attach as string[]).some((c) => c.includes(roUri) && c.includes('nbdfuse ')), 'no nbdfuse command to attach the image');
    assert.equal(sha256(await readExport(roUri)), sha256(expected), 'the image differs from the volume at that point');
    await assert.rejects(qemuIo(roUri, ['write -P 1 0 4096']), 'a read-only image accepted a write');

    const rw = await admin.call('POST', '/api/groups/vol/images', { at: 'latest', rw: true });
    assert.equal(rw.status, 201);
    await qemuIo(String(rw.json.uri), ['write -P 0x11 0 4096', 'flush']);
    const changed = Buffer.from(expected).fill(0x11, 0, 4096);
    assert.equal(sha256(await readExport(String(rw.json.uri))), sha256(changed));

    const list = await viewer.call('GET', '/api/images');
    assert.deepEqual((list.json.images as { id: string }[]).map((i) => i.id).sort(), [ro.json.id, rw.json.id].sort());
    for (const id of [ro.json.id, rw.json.id]) assert.equal((await admin.call('DELETE', `/api/images/${String(id)}`)).status, 200);
    assert.deepEqual((await admin.call('GET', '/api/images')).json.images, []);
    await assert.rejects(readExport(roUri), 'a stopped image is still served');
    // The journal was never touched by the read/write image.
    const again = await admin.call('POST', '/api/groups/vol/images', { at: 'latest' });
    assert.equal(sha256(await readExport(String(again.json.uri))), sha256(expected));
    assert.equal((await admin.call('DELETE', `/api/images/${String(again.json.id)}`)).status, 200);
    const audit = (await admin.call('GET', '/api/audit')).json.entries as { action: string; result: string }[];
    assert.ok(audit.filter((a) => a.action === 'image.start' && a.result === 'ok').length >= 3, 'image starts are not audited');
    assert.ok(audit.some((a) => a.action === 'image.stop'), 'image stops are not audited');
  });

  it('in Chromium: the volume group page starts an image and shows the commands to attach it', async () => {
    const browser = await launchChromium();
    try {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
      const page = await ctx.newPage();
      await page.goto(web.url);
      await page.waitForSelector('#login-user');
      await page.fill('#login-user', 'admin');
      await page.fill('#login-password', readFileSync(web.initialPasswordFile!, 'utf8').trim());
      await page.click('form.login button[type=submit]');
      await page.waitForSelector('tr[data-group="vol"]');
      await page.goto(`${web.url}#/group/vol?at=latest`);
      await page.waitForSelector('[data-testid=start-image]');
      assert.equal(await page.locator('section[aria-label="Browse and restore"]').count(), 0, 'a volume group offers a file browser');
      await page.click('[data-testid=start-image]');
      const attach = page.locator('[data-testid=image] [data-testid=attach]').first();
      await attach.waitFor();
      const text = await attach.innerText();
      const uri = /nbd\+unix:\/\/\/\?socket=[^' ]+/.exec(text)?.[0];
      assert.ok(uri, `no NBD URI in the attach commands: ${text}`);
      assert.equal(sha256(await readExport(uri)), sha256(expected), 'the image started from the page differs from the volume');
      await page.screenshot({ path: screenshotPath('10-volume-image') });
      await page.click('[data-testid=image] button:has-text("Stop image")');
      await page.waitForSelector('[data-testid=images]:has-text("No image of this volume is running")');
    } finally {
      await browser.close();
    }
  });

  it('refuses a viewer, a file group and malformed input', async () => {
    assert.equal((await viewer.call('POST', '/api/groups/vol/images', { at: 'latest' })).status, 403);
    const files = await admin.call('POST', '/api/groups/files/images', { at: 'latest' });
    assert.equal(files.status, 400);
    assert.match(files.json.error!.message, /not a volume/);
    assert.equal((await admin.call('POST', '/api/groups/vol/images', { at: 'latest', rw: 'yes' })).status, 400);
    assert.equal((await admin.call('DELETE', '/api/images/z.z')).status, 400);
    assert.equal((await admin.call('DELETE', '/api/images/0123456789ab')).status, 404);
    assert.equal((await new Client(web.url).call('GET', '/api/images')).status, 401);
  });
});
