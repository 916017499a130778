/**
 * Acceptance, in real Chromium against the real `tidemark console`: log in (a wrong
 * password is refused), see the protected group, pick on the timeline a moment before a
 * file changed, download that file and compare its bytes, restore a subtree and compare
 * it, see it all in the audit log; a viewer is refused a restore. Every page is
 * screenshotted at 1280×800 (and the overview at phone width) into test-output/screenshots.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium, screenshotPath } from './browser.js';
import { ConsoleProcess, stopAllConsoles } from './console-process.js';
import { addUser, NOTES_V1, protectedFixture, type Fixture } from './web-helpers.js';
import { assertSameTree, snapshotTree } from '../helpers/tree.js';

const DESKTOP = { width: 1280, height: 800 };

let fx: Fixture;
let web: ConsoleProcess;
let browser: Browser;
let adminPassword: string;
let viewerPassword: string;

async function login(ctx: BrowserContext, user: string, password: string): Promise<Page> {
  const page = await ctx.newPage();
  await page.goto(web.url);
  await page.waitForSelector('#login-user');
  await page.fill('#login-user', user);
  await page.fill('#login-password', password);
  await page.click('form.login button[type=submit]');
  return page;
}

describe('web console in Chromium', { timeout: 240_000 }, () => {
  before(async () => {
    fx = await protectedFixture();
    web = await ConsoleProcess.start(fx.tv);
    assert.ok(web.initialPasswordFile);
    assert.match(web.stderr, /first start, an admin account was created/);
    adminPassword = readFileSync(web.initialPasswordFile, 'utf8').trim();
    viewerPassword = await addUser(fx.tv, 'viewer1', 'viewer');
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await stopAllConsoles();
    await fx?.tv.cleanup();
  });

  it('refuses a wrong password and stays on the login page', async () => {
    const ctx = await browser.newContext({ viewport: DESKTOP });
    const page = await login(ctx, 'admin', 'not the password');
    await page.waitForSelector('[data-testid=login-error]:has-text("Wrong user name or password")');
    assert.equal(new URL(page.url()).hash, '#/login');
    await page.screenshot({ path: screenshotPath('01-login-refused') });
    await ctx.close();
  });

  it('logs in, shows the group, goes back in time on the timeline, downloads and restores', async () => {
    // A zone far from UTC, to see that times are shown in the browser's zone.
    const ctx = await browser.newContext({ viewport: DESKTOP, acceptDownloads: true, timezoneId: 'Asia/Tokyo', locale: 'en-US' });
    const page = await login(ctx, 'admin', adminPassword);
    const row = page.locator('tr[data-group="g"]');
    await row.waitFor();
    assert.match(await row.innerText(), /not watched/);
    await page.waitForSelector('tr[data-group="g"] svg.lag-chart');
    await page.screenshot({ path: screenshotPath('02-overview') });

    await row.locator('a', { hasText: 'g' }).first().click();
    await page.waitForSelector('svg.timeline rect.bar');
    await page.waitForSelector(`[data-testid=chosen]:has-text("seq:${fx.seqAfter}")`);
    await page.screenshot({ path: screenshotPath('03-group-latest') });
    const shown = page.locator('[data-testid=chosen] time');
    const iso = (await shown.getAttribute('datetime'))!;
    assert.equal((await shown.innerText()).replace(/\s/g, ' '), new Date(iso).toLocaleString('en-US', { timeZone: 'Asia/Tokyo' }).replace(/\s/g, ' '), 'shown in the browser\'s zone');
    assert.equal(await shown.getAttribute('title'), `${iso.replace('T', ' ').replace('Z', '')} UTC`, 'UTC on hover');

    // Dragging across the timeline zooms into that span; "Whole journal" zooms out again.
    const box = (await page.locator('svg.timeline').boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    await page.waitForURL(/[?&]from=\d+&to=\d+/);
    await page.waitForSelector(`[data-testid=chosen]:has-text("seq:${fx.seqAfter}")`);
    await page.click('button:text-is("Whole journal")');
    await page.waitForURL((u) => !u.hash.includes('from='));
    await page.waitForSelector('svg.timeline rect.bar');

    // Keyboard: focus the timeline, step one bar back, choose it.
    await page.focus('svg.timeline');
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('Enter');
    await page.waitForSelector(`[data-testid=chosen]:has-text("seq:${fx.seqBefore}")`);
    // Typing a moment (to the second, in the browser's zone) chooses the last point at or before it.
    await page.click('button:text-is("Latest")');
    await page.waitForSelector(`[data-testid=chosen]:has-text("seq:${fx.seqAfter}")`);
    const before = await page.evaluate(async (seq) => (await (await fetch(`/api/groups/g/point?at=seq:${seq}`)).json() as { time: string }).time, fx.seqBefore);
    const typed = await page.evaluate((t) => {
      const d = new Date(Date.parse(t) - new Date(t).getTimezoneOffset() * 60_000);
      return d.toISOString().slice(0, 19);
    }, before);
    await page.fill('#moment', typed);
    await page.click('form[aria-label="Choose a moment"] button[type=submit]');
    await page.waitForSelector(`[data-testid=chosen]:has-text("seq:${fx.seqBefore}")`);
    await page.click('button:text-is("Latest")');
    await page.waitForSelector(`[data-testid=chosen]:has-text("seq:${fx.seqAfter}")`);
    // A moment before the first point: said so, and the latest point is shown.
    await page.fill('#moment', '2001-01-01T00:00:00');
    await page.click('form[aria-label="Choose a moment"] button[type=submit]');
    await page.waitForSelector('[data-testid=moment-error]:has-text("no point at or before")');
    await page.goto(`${web.url}#/group/g?at=2001-01-01T00:00:00Z`);
    await page.waitForSelector('[data-testid=moment-error]:has-text("showing the latest point instead")');
    await page.waitForSelector(`[data-testid=chosen]:has-text("seq:${fx.seqAfter}")`);

    // The bar holding the last point before notes.txt changed.
    await page.click(`svg.timeline rect.bar[data-last-seq="${fx.seqBefore}"]`);
    await page.waitForSelector(`[data-testid=chosen]:has-text("seq:${fx.seqBefore}")`);
    await page.click('table.tree a:text-is("docs/")');
    const dl = page.locator('tr[data-path="docs/notes.txt"] [data-testid=download]');
    await dl.waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), dl.click()]);
    const file = await download.path();
    assert.equal(readFileSync(file).toString('utf8'), NOTES_V1, 'the file as it was before the change');

    await page.click('nav.crumbs a:text-is("g")');
    await page.click('table.tree a:text-is("sub/")');
    await page.waitForSelector('tr[data-path="sub/a.txt"]');
    await page.click('[data-testid=restore-here]');
    const target = path.join(await fx.tv.tempDir('browser-restore'), 'sub-back');
    await page.fill('#restore-target', target);
    assert.equal(await page.locator('[data-testid=restore-command]').innerText(), `tidemark restore g --at seq:${fx.seqBefore} --path sub --to ${target}`);
    await page.click('form.restore button[type=submit]');
    await page.waitForSelector('[data-testid=restore-status][data-state=done]', { timeout: 60_000 });
    await page.screenshot({ path: screenshotPath('04-restore-done'), fullPage: false });
    assertSameTree(await snapshotTree(target), await snapshotTree(path.join(fx.src, 'sub')));

    await page.fill('#changes-from', `seq:${fx.seqBefore}`);
    await page.click('form[aria-label="Compare two moments"] button[type=submit]');
    await page.waitForSelector('[data-testid=changes] tr[data-change="changed"]:has-text("docs/notes.txt")');
    await page.locator('section[aria-label="What changed"]').scrollIntoViewIfNeeded();
    await page.screenshot({ path: screenshotPath('05-changes') });

    await page.goto(`${web.url}#/audit`);
    await page.waitForSelector('tr[data-action="restore.finish"]');
    assert.ok(await page.locator('tr[data-action="file.download"]').count() >= 1);
    await page.screenshot({ path: screenshotPath('06-audit') });
    await page.goto(`${web.url}#/users`);
    await page.waitForSelector('td:text-is("viewer1")');
    await page.screenshot({ path: screenshotPath('07-users') });

    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${web.url}#/`);
    await page.waitForSelector('tr[data-group="g"]');
    await page.screenshot({ path: screenshotPath('08-overview-phone'), fullPage: true });
    await page.goto(`${web.url}#/group/g`);
    await page.waitForSelector('table.tree');
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    assert.ok(overflow <= 0, `the group page fits a phone-width screen (${overflow} px too wide)`);
    await page.screenshot({ path: screenshotPath('08b-group-phone') });
    await ctx.close();
  });

  it('shows a viewer no restore controls and refuses the restore it tries anyway', async () => {
    const ctx = await browser.newContext({ viewport: DESKTOP });
    const page = await login(ctx, 'viewer1', viewerPassword);
    await page.waitForSelector('[data-testid=who]:has-text("viewer")');
    await page.goto(`${web.url}#/group/g`);
    await page.waitForSelector('table.tree');
    assert.equal(await page.locator('[data-testid=restore-here], [data-testid=restore-entry]').count(), 0);
    const target = path.join(fx.tv.root, 'viewer-target');
    const answer = await page.evaluate(async (to) => {
      const s = await (await fetch('/api/session')).json() as { csrfToken: string };
      const r = await fetch('/api/groups/g/restores', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrfToken }, body: JSON.stringify({ at: 'latest', target: to }) });
      return { status: r.status, body: await r.json() as { error: { code: string } } };
    }, target);
    assert.equal(answer.status, 403);
    assert.equal(answer.body.error.code, 'TM_FORBIDDEN');
    await assert.rejects(fs.access(target));
    await page.screenshot({ path: screenshotPath('09-group-viewer') });
    await ctx.close();
  });
});
