/**
 * Helpers for the console tests: a vault with a small protected tree recorded at two
 * points (notes.txt changed between them), and an HTTP client with a cookie jar and the
 * CSRF token, speaking to a console on 127.0.0.1.
 */
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
