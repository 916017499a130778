/**
 * Helpers for the console tests: a vault with a small protected tree recorded at two
 * points (notes.txt changed between them), an HTTP client with a cookie jar and the
 * CSRF token, speaking to a console on 127.0.0.1, and the API contract checks every
 * console (vault or hub) must pass on each of its routes.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { makeVault, assertOk, type TestVault } from '../helpers/cli.js';

export const NOTES_V1 = 'notes, first version\n';
export const NOTES_V2 = 'notes, second version: longer than the first\n';

export interface Fixture {
  tv: TestVault;
  src: string;
  passphraseFile: string;
  /** last seq of the first protect run (notes.txt at V1) */
  seqBefore: number;
  /** last seq of the second run (notes.txt at V2, gone.txt deleted, added.txt added) */
  seqAfter: number;
}

/** A vault whose group "g" holds docs/notes.txt, sub/{a,b/c}.txt, gone.txt; then a change. */
export async function protectedFixture(): Promise<Fixture> {
  const tv = await makeVault();
  const src = await tv.tempDir('src');
  await fs.mkdir(path.join(src, 'docs'));
  await fs.mkdir(path.join(src, 'sub', 'b'), { recursive: true });
  await fs.writeFile(path.join(src, 'docs', 'notes.txt'), NOTES_V1);
  await fs.writeFile(path.join(src, 'sub', 'a.txt'), 'a'.repeat(3000));
  await fs.writeFile(path.join(src, 'sub', 'b', 'c.txt'), 'deep c\n');
  await fs.writeFile(path.join(src, 'gone.txt'), 'to be deleted\n');
  const first = await tv.json<{ lastSeq: number }>(['protect', src, '--once', '--group', 'g']);
  // The change lands in a later wall-clock second, so a moment typed to the second can fall between the two.
  await new Promise((res) => setTimeout(res, 1100));
  await fs.writeFile(path.join(src, 'docs', 'notes.txt'), NOTES_V2);
  await fs.rm(path.join(src, 'gone.txt'));
  await fs.writeFile(path.join(src, 'added.txt'), 'new\n');
  const second = await tv.json<{ lastSeq: number }>(['protect', src, '--once', '--group', 'g']);
  const passphraseFile = path.join(tv.root, 'passphrase');
  await fs.writeFile(passphraseFile, tv.passphrase + '\n', { mode: 0o600 });
  return { tv, src, passphraseFile, seqBefore: first.lastSeq, seqAfter: second.lastSeq };
}

export interface Answer {
  status: number;
  headers: Headers;
  // The API's JSON, read by each test in its own terms.
  json: Record<string, unknown> & { error?: { code: string; message: string } };
  bytes: Buffer;
}

/** A client with its own cookie jar (one session) and CSRF token. */
export class Client {
  cookie = '';
  csrf = '';

  constructor(readonly base: string) {}

  async call(method: string, url: string, body?: unknown, o: { csrf?: boolean; headers?: Record<string, string>; raw?: string } = {}): Promise<Answer> {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (this.cookie) headers.cookie = this.cookie;
    if (body !== undefined || o.raw !== undefined) headers['content-type'] ??= 'application/json';
    if (method !== 'GET' && o.csrf !== false && this.csrf) headers['x-csrf-token'] = this.csrf;
    const res = await fetch(new URL(url, this.base), { method, headers, body: o.raw ?? (body === undefined ? undefined : JSON.stringify(body)), redirect: 'manual' });
    const bytes = Buffer.from(await res.arrayBuffer());
    let json: Answer['json'] = {};
    if ((res.headers.get('content-type') ?? '').startsWith('application/json')) json = JSON.parse(bytes.toString('utf8')) as Answer['json'];
    const set = res.headers.get('set-cookie');
    if (set) this.cookie = set.split(';')[0]!;
    return { status: res.status, headers: res.headers, json, bytes };
  }

  async login(user: string, password: string): Promise<Answer> {
    const r = await this.call('POST', '/api/login', { user, password });
    if (r.status === 200) this.csrf = String(r.json.csrfToken);
    return r;
  }
}

/** Add a console user through the CLI; returns its password. */
export async function addUser(tv: TestVault, name: string, role: string): Promise<string> {
  const file = path.join(tv.root, `${name}.password`);
  const password = `pw-${name}-0123456789`;
  await fs.writeFile(file, password + '\n', { mode: 0o600 });
  assertOk(await tv.run(['console', 'user', 'add', name, '--role', role, '--password-file', file]), ['console', 'user', 'add', name]);
  return password;
}

/** What the contract checks need of a route: from the app's route table, or from /api/openapi.json (apiRoutes). */
export interface ApiRoute { method: string; path: string; role: string; body?: unknown }

/** The routes an /api/openapi.json document describes. */
export function apiRoutes(doc: { paths: Record<string, Record<string, unknown>> }): ApiRoute[] {
  return Object.entries(doc.paths).flatMap(([p, ops]) => Object.entries(ops).map(([m, op]) => {
    const o = op as { 'x-role': string; requestBody?: unknown };
    return { method: m.toUpperCase(), path: p, role: o['x-role'], body: o.requestBody };
  }));
}

/** Every route but the public ones answers 401 TM_AUTH_REQUIRED without a session; returns how many were checked. */
export async function assertAuthRequired(base: string, routes: readonly ApiRoute[], concrete: (path: string) => string): Promise<number> {
  const anon = new Client(base);
  let checked = 0;
  for (const r of routes) {
    if (r.role === 'public') continue;
    const a = await anon.call(r.method, concrete(r.path), r.method === 'GET' ? undefined : {});
    assert.equal(a.status, 401, `${r.method} ${r.path} without a session`);
    assert.equal(a.json.error?.code, 'TM_AUTH_REQUIRED');
    checked++;
  }
  return checked;
}

/** Every route refuses (4xx, naming the problem) an unknown query parameter, an unknown body key, a broken body and a form body. */
export async function assertRejectsMalformed(admin: Client, routes: readonly ApiRoute[], concrete: (path: string) => string): Promise<void> {
  for (const r of routes) {
    const url = concrete(r.path) + '?bogus=1';
    const a = await admin.call(r.method, url, r.method === 'GET' ? undefined : {});
    assert.equal(a.status, 400, `${r.method} ${url}: ${JSON.stringify(a.json)}`);
    assert.match(a.json.error!.message, /bogus/, `${r.method} ${url} names the bad parameter`);
    if (r.body) {
      const b = await admin.call(r.method, concrete(r.path), { unexpected: true });
      assert.equal(b.status, 400, `${r.method} ${r.path} with an unknown body key`);
      assert.match(b.json.error!.message, /unexpected/);
      const c = await admin.call(r.method, concrete(r.path), undefined, { raw: '{not json' });
      assert.equal(c.status, 400, `${r.method} ${r.path} with a broken body`);
      const d = await admin.call(r.method, concrete(r.path), undefined, { raw: 'user=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      assert.equal(d.status, 415, `${r.method} ${r.path} with a form body`);
    }
  }
}

/** Each (method, url, body) is refused with a 4xx JSON error whose message matches. */
export async function assertBadInputs(c: Client, cases: readonly [string, string, unknown, RegExp][]): Promise<void> {
  for (const [method, url, body, re] of cases) {
    const a = await c.call(method, url, body);
    assert.ok(a.status >= 400 && a.status < 500, `${method} ${url}: status ${a.status}`);
    assert.equal(typeof a.json.error?.code, 'string', `${method} ${url}: error code`);
    assert.match(a.json.error!.message, re, `${method} ${url}`);
  }
}

/** /api/openapi.json (no session) documents every route, and refuses a query; returns the document. */
export async function assertDocumented(base: string, routes: readonly ApiRoute[]): Promise<{ info: { title: string }; paths: Record<string, Record<string, unknown>> }> {
  const doc = await new Client(base).call('GET', '/api/openapi.json');
  assert.equal(doc.status, 200);
  const paths = doc.json.paths as Record<string, Record<string, unknown>>;
  for (const r of routes) assert.ok(paths[r.path]?.[r.method.toLowerCase()], `${r.method} ${r.path} documented`);
  const bad = await new Client(base).call('GET', '/api/openapi.json?bogus=1');
  assert.equal(bad.status, 400);
  return doc.json as unknown as { info: { title: string }; paths: Record<string, Record<string, unknown>> };
}
