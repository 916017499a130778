/**
 * The console's REST API over real HTTP on 127.0.0.1 (a random port), against a vault
 * recorded by the real CLI: authentication and roles, CSRF, the login rate limit, input
 * validation on every endpoint, and what the endpoints answer (timeline, tree, download,
 * changes, bookmarks, restores with their safety checks, policy, users, audit log).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { startConsole, type RunningConsole } from '../../src/web/index.js';
import { addUser, assertAuthRequired, assertBadInputs, assertDocumented, assertRejectsMalformed, Client, NOTES_V1, NOTES_V2, protectedFixture, type Fixture } from './web-helpers.js';

let fx: Fixture;
let web: RunningConsole;
let admin: Client;
let viewer: Client;
let operator: Client;

/** Fill a route's path parameters with well-formed values. */
function concrete(p: string): string {
  return p.replace('{group}', 'g').replace('{name}', 'someone').replace('{id}', 'nojob');
}

async function waitJob(c: Client, id: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 600; i++) {
    const r = await c.call('GET', `/api/jobs/${id}`);
    assert.equal(r.status, 200);
    if (r.json.state !== 'running') return r.json;
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.fail(`restore job ${id} did not finish in 30 s`);
}

describe('console REST API', { timeout: 180_000 }, () => {
  before(async () => {
    fx = await protectedFixture();
    web = await startConsole({ vaultDir: fx.tv.vault, passphraseFile: fx.passphraseFile, listen: '127.0.0.1:0', sources: { g: fx.src }, log: () => undefined });
    assert.ok(web.initialPasswordFile, 'the first start creates an admin');
    admin = new Client(web.url);
    assert.equal((await admin.login('admin', readFileSync(web.initialPasswordFile, 'utf8').trim())).status, 200);
    viewer = new Client(web.url);
    assert.equal((await viewer.login('viewer1', await addUser(fx.tv, 'viewer1', 'viewer'))).status, 200);
    operator = new Client(web.url);
    assert.equal((await operator.login('op1', await addUser(fx.tv, 'op1', 'operator'))).status, 200);
  });
  after(async () => {
    await web?.close();
    await fx?.tv.cleanup();
  });

  it('answers 401 with a JSON error on every endpoint but login when there is no session', async () => {
    const checked = await assertAuthRequired(web.url, web.app.routes, concrete);
    assert.ok(checked >= 15, `only ${checked} routes checked`);
    const anon = new Client(web.url);
    const bogus = await anon.call('GET', '/api/overview', undefined, { headers: { cookie: 'tm_session=forged' } });
    assert.equal(bogus.status, 401);
  });

  it('rejects malformed input on every endpoint with a 4xx and a message naming the problem', async () => {
    await assertRejectsMalformed(admin, web.app.routes, concrete);
    const cases: [string, string, unknown, RegExp][] = [
      ['GET', '/api/groups/bad%20name!/timeline', undefined, /group/],
      ['GET', '/api/groups/g/timeline?buckets=0', undefined, /buckets/],
      ['GET', '/api/groups/g/timeline?buckets=abc', undefined, /buckets/],
      ['GET', '/api/groups/g/timeline?from=yesterday', undefined, /from/],
      ['GET', '/api/groups/g/timeline?from=2000&to=1000', undefined, /after/],
      ['GET', '/api/groups/g/tree?at=soon', undefined, /at/],
      ['GET', '/api/groups/g/tree?path=../etc', undefined, /path/],
      ['GET', '/api/groups/g/tree?at=seq:999999', undefined, /no point seq:999999/],
      ['GET', '/api/groups/g/file', undefined, /path/],
      ['GET', '/api/groups/g/file?path=docs', undefined, /not a file/],
      ['GET', '/api/groups/g/changes', undefined, /from/],
      ['GET', '/api/groups/g/point?at=seq:1&at=seq:2', undefined, /twice/],
      ['POST', '/api/groups/g/bookmarks', { name: 'has space' }, /name/],
      ['POST', '/api/groups/g/bookmarks', { name: 'ok', consistency: 'maybe' }, /consistency/],
      ['POST', '/api/groups/g/restores', { at: 'latest' }, /target/],
      ['POST', '/api/groups/g/restores', { at: 'latest', target: 'relative/dir' }, /absolute/],
      ['POST', '/api/groups/g/restores', { at: 'latest', target: '/tmp/x', overwrite: 'yes' }, /overwrite/],
      ['PUT', '/api/groups/g/policy', { keepWithin: 'forever' }, /keepWithin/],
      ['PUT', '/api/groups/g/policy', { rpoTargetMs: -5 }, /rpoTargetMs/],
      ['POST', '/api/users', { name: 'x', role: 'root', password: 'long enough password' }, /role/],
      ['POST', '/api/users', { name: 'x', role: 'viewer', password: 'short' }, /password/],
      ['PATCH', '/api/users/nobody', { role: 'viewer' }, /no console user/],
      ['GET', '/api/audit?limit=-1', undefined, /limit/],
    ];
    await assertBadInputs(admin, cases);
    const unknownGroup = await admin.call('GET', '/api/groups/nosuch/timeline');
    assert.equal(unknownGroup.status, 404);
    assert.equal((await admin.call('GET', '/api/nothing')).status, 404);
    assert.equal((await admin.call('DELETE', '/api/overview')).status, 405);
  });

  it('documents every endpoint in /api/openapi.json', async () => {
    const doc = await assertDocumented(web.url, web.app.routes);
    assert.equal(doc.info.title, 'Tidemark console API');
  });

  it('sets an HttpOnly SameSite=Strict cookie, without Secure on plain http', async () => {
    const c = new Client(web.url);
    const r = await c.call('POST', '/api/login', { user: 'viewer1', password: 'pw-viewer1-0123456789' });
    const set = r.headers.get('set-cookie')!;
    assert.match(set, /HttpOnly/);
    assert.match(set, /SameSite=Strict/);
    assert.doesNotMatch(set, /Secure/);
    assert.doesNotMatch(JSON.stringify(r.json), new RegExp(c.cookie.split('=')[1]!), 'the session token is only in the cookie');
  });

  it('refuses a change without the CSRF token or from another origin', async () => {
    const noToken = await operator.call('POST', '/api/groups/g/bookmarks', { name: 'csrf-test' }, { csrf: false });
    assert.equal(noToken.status, 403);
    assert.equal(noToken.json.error?.code, 'TM_CSRF');
    const wrong = await operator.call('POST', '/api/groups/g/bookmarks', { name: 'csrf-test' }, { csrf: false, headers: { 'x-csrf-token': 'guess' } });
    assert.equal(wrong.status, 403);
    const cross = await operator.call('POST', '/api/groups/g/bookmarks', { name: 'csrf-test' }, { headers: { origin: 'http://evil.example' } });
    assert.equal(cross.status, 403);
    const list = await operator.call('GET', '/api/groups/g/bookmarks');
    assert.deepEqual(list.json.bookmarks, [], 'nothing was created');
  });

  it('limits failed logins per address and user: the sixth try within a minute gets 429, even with the right password', async () => {
    const c = new Client(web.url);
    for (let i = 0; i < 5; i++) {
      const r = await c.login('op1', `wrong password ${i}`);
      assert.equal(r.status, 401);
      assert.equal(r.json.error?.code, 'TM_BAD_LOGIN');
    }
    const limited = await c.login('op1', 'pw-op1-0123456789');
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    const unknown = await c.login('nobody', 'whatever-password');
    assert.equal(unknown.status, 401, 'another user name from the same address still gets an answer');
    const audit = await admin.call('GET', '/api/audit?limit=20');
    const entries = audit.json.entries as { action: string; result: string; target: string }[];
    assert.ok(entries.some((e) => e.action === 'login' && e.result === 'refused' && e.target === 'op1'));
  });

  it('enforces roles: a viewer cannot restore or bookmark, an operator cannot change policies or users', async () => {
    const target = path.join(await fx.tv.tempDir('viewer-restore'), 'out');
    const r = await viewer.call('POST', '/api/groups/g/restores', { at: 'latest', target });
    assert.equal(r.status, 403);
    assert.equal(r.json.error?.code, 'TM_FORBIDDEN');
    await assert.rejects(fs.access(target), 'nothing was written');
    assert.equal((await viewer.call('POST', '/api/groups/g/bookmarks', { name: 'v' })).status, 403);
    assert.equal((await operator.call('PUT', '/api/groups/g/policy', { rpoTargetMs: 5000 })).status, 403);
    assert.equal((await operator.call('POST', '/api/users', { name: 'x', role: 'admin', password: 'long enough password' })).status, 403);
    assert.equal((await operator.call('GET', '/api/users')).status, 403);
  });

  it('shows the timeline, the tree at a point, and downloads a file as it was', async () => {
    const tl = await viewer.call('GET', '/api/groups/g/timeline?buckets=50');
    assert.equal(tl.status, 200);
    const buckets = tl.json.buckets as { count: number; lastSeq: number }[];
    assert.equal(buckets.reduce((a, b) => a + b.count, 0), tl.json.points);
    assert.equal(tl.json.points, fx.seqAfter);
    assert.equal(buckets.at(-1)!.lastSeq, fx.seqAfter);
    const tree = await viewer.call('GET', `/api/groups/g/tree?at=seq:${fx.seqBefore}&path=/`);
    assert.deepEqual((tree.json.entries as { name: string }[]).map((e) => e.name), ['docs', 'gone.txt', 'sub']);
    const before = await viewer.call('GET', `/api/groups/g/file?at=seq:${fx.seqBefore}&path=docs/notes.txt`);
    assert.equal(before.status, 200);
    assert.equal(before.bytes.toString(), NOTES_V1);
    assert.match(before.headers.get('content-disposition')!, /attachment; filename="notes.txt"/);
    const now = await viewer.call('GET', '/api/groups/g/file?path=docs/notes.txt');
    assert.equal(now.bytes.toString(), NOTES_V2);
  });

  it('lists what changed between two moments with sizes', async () => {
    const r = await viewer.call('GET', `/api/groups/g/changes?from=seq:${fx.seqBefore}&to=latest`);
    assert.equal(r.status, 200);
    const byPath = new Map((r.json.changes as { path: string; change: string; sizeBefore: number | null; sizeAfter: number | null }[]).map((c) => [c.path, c]));
    assert.deepEqual(byPath.get('docs/notes.txt'), { path: 'docs/notes.txt', change: 'changed', type: 'file', sizeBefore: NOTES_V1.length, sizeAfter: NOTES_V2.length });
    assert.equal(byPath.get('gone.txt')?.change, 'deleted');
    assert.equal(byPath.get('added.txt')?.change, 'added');
    assert.equal(byPath.has('sub/a.txt'), false, 'an untouched file is not listed');
    const swapped = await viewer.call('GET', `/api/groups/g/changes?from=latest&to=seq:${fx.seqBefore}`);
    assert.deepEqual(swapped.json.changes, r.json.changes, 'the two moments may be given in either order');
  });

  it('creates and lists bookmarks, and audits their creation', async () => {
    const r = await operator.call('POST', '/api/groups/g/bookmarks', { name: 'before-edit', at: `seq:${fx.seqBefore}`, tags: ['pre-patch'] });
    assert.equal(r.status, 201);
    assert.equal(r.json.seq, fx.seqBefore);
    const dup = await operator.call('POST', '/api/groups/g/bookmarks', { name: 'before-edit' });
    assert.equal(dup.status, 400);
    const list = await viewer.call('GET', '/api/groups/g/bookmarks');
    assert.deepEqual((list.json.bookmarks as { name: string }[]).map((b) => b.name), ['before-edit']);
    const p = await viewer.call('GET', '/api/groups/g/point?at=bookmark:before-edit');
    assert.equal(p.json.seq, fx.seqBefore);
    const audit = await viewer.call('GET', '/api/audit');
    assert.ok((audit.json.entries as { action: string; user: string }[]).some((e) => e.action === 'bookmark.create' && e.user === 'op1'));
  });

  it('restores a subtree with progress, and refuses production, the vault and non-empty targets', async () => {
    const base = await fx.tv.tempDir('restores');
    for (const [target, code] of [[fx.src, 'TM_PRODUCTION_TARGET'], [path.join(fx.src, 'sub'), 'TM_PRODUCTION_TARGET'], [path.join(fx.tv.vault, 'x'), 'TM_USAGE']] as const) {
      const r = await operator.call('POST', '/api/groups/g/restores', { at: 'latest', path: 'sub', target, overwrite: true });
      assert.equal(r.json.error?.code, code, `restore into ${target}`);
      assert.ok(r.status === 409 || r.status === 400);
    }
    await fs.writeFile(path.join(base, 'occupied'), 'x');
    const busy = await operator.call('POST', '/api/groups/g/restores', { at: 'latest', target: base });
    assert.equal(busy.status, 409);
    assert.equal(busy.json.error?.code, 'TM_CONFLICT');
    assert.equal(readFileSync(path.join(fx.src, 'docs', 'notes.txt'), 'utf8'), NOTES_V2, 'production untouched');

    const target = path.join(base, 'sub-back');
    const started = await operator.call('POST', '/api/groups/g/restores', { at: `seq:${fx.seqBefore}`, path: 'sub', target });
    assert.equal(started.status, 202, JSON.stringify(started.json));
    const job = await waitJob(operator, String(started.json.id));
    assert.equal(job.state, 'done', JSON.stringify(job));
    assert.equal(job.files, 2);
    assert.equal(readFileSync(path.join(target, 'a.txt'), 'utf8'), 'a'.repeat(3000));
    assert.equal(readFileSync(path.join(target, 'b', 'c.txt'), 'utf8'), 'deep c\n');
    const audit = await admin.call('GET', '/api/audit?limit=50');
    const actions = (audit.json.entries as { action: string; result: string }[]).map((e) => `${e.action}:${e.result}`);
    assert.ok(actions.includes('restore.finish:ok') && actions.includes('restore.start:ok') && actions.includes('restore.start:refused'), actions.join(' '));
  });

  it('lets an admin change the RPO target (audited) and shows it in the overview', async () => {
    const r = await admin.call('PUT', '/api/groups/g/policy', { rpoTargetMs: 5000, keepHourly: 12 });
    assert.equal(r.status, 200);
    assert.equal(r.json.keepHourly, 12);
    const o = await viewer.call('GET', '/api/overview');
    const g = (o.json.groups as { name: string; rpoTargetMs: number; rpoState: string; health: string; files: number }[]).find((x) => x.name === 'g')!;
    assert.equal(g.rpoTargetMs, 5000);
    assert.equal(g.health, 'not-watched');
    assert.equal(g.rpoState, 'red', 'nothing watches the group: its lag is unknown');
    assert.equal(g.files, 4);
    const audit = await admin.call('GET', '/api/audit?limit=5');
    assert.equal((audit.json.entries as { action: string }[])[0]!.action, 'policy.change');
    const hist = await viewer.call('GET', '/api/groups/g/rpo-history');
    assert.ok((hist.json.samples as unknown[]).length >= 1);
  });

  it('ends the sessions of a user whose password an admin changed', async () => {
    const c = new Client(web.url);
    assert.equal((await admin.call('POST', '/api/users', { name: 'temp1', role: 'viewer', password: 'first password!' })).status, 201);
    assert.equal((await c.login('temp1', 'first password!')).status, 200);
    assert.equal((await c.call('GET', '/api/session')).status, 200);
    await new Promise((res) => setTimeout(res, 5));
    assert.equal((await admin.call('PATCH', '/api/users/temp1', { password: 'second password!' })).status, 200);
    assert.equal((await c.call('GET', '/api/session')).status, 401);
    assert.equal((await c.login('temp1', 'first password!')).status, 401);
    assert.equal((await c.login('temp1', 'second password!')).status, 200);
  });
});
