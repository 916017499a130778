/**
 * `tidemark console user …` (add, passwd, list, remove, with their refusals) and
 * `tidemark console` over TLS, where the session cookie is also `Secure`.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { makeVault, runCli, type TestVault } from '../helpers/cli.js';
import { ConsoleProcess, stopAllConsoles } from './console-process.js';

let tv: TestVault;

describe('tidemark console (CLI)', { timeout: 120_000 }, () => {
  before(async () => { tv = await makeVault(); });
  after(async () => {
    await stopAllConsoles();
    await tv?.cleanup();
  });

  it('adds, lists, changes and removes users, and refuses what would lock admins out', async () => {
    const added = await tv.json<{ name: string; role: string; password: string }>(['console', 'user', 'add', 'ops', '--role', 'operator']);
    assert.equal(added.role, 'operator');
    assert.ok(added.password.length >= 20, 'a generated password is printed');
    const promoted = await tv.json<{ role: string }>(['console', 'user', 'passwd', 'ops', '--role', 'admin']);
    assert.equal(promoted.role, 'admin');
    const users = await tv.json<{ name: string; role: string }[]>(['console', 'user', 'list']);
    assert.deepEqual(users.map((u) => [u.name, u.role]), [['ops', 'admin']]);
    const last = await tv.run(['console', 'user', 'remove', 'ops']);
    assert.equal(last.code, 2, 'the last admin cannot be removed');
    assert.match(last.stderr, /last admin/);
    const badRole = await tv.run(['console', 'user', 'add', 'x', '--role', 'root']);
    assert.equal(badRole.code, 2);
    assert.match(badRole.stderr, /--role must be one of viewer, operator, admin/);
    const dup = await tv.run(['console', 'user', 'add', 'ops', '--role', 'viewer']);
    assert.equal(dup.code, 2);
    const noVault = await runCli(['console', 'user', 'list'], { env: { TIDEMARK_VAULT: path.join(tv.root, 'nowhere') } });
    assert.equal(noVault.code, 3);
    await tv.json(['console', 'user', 'add', 'v', '--role', 'viewer']);
    assert.equal((await tv.run(['console', 'user', 'remove', 'v'])).code, 0);
    const audit = readFileSync(path.join(tv.vault, 'console', 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { action: string; user: string });
    assert.deepEqual(audit.map((e) => e.action), ['user.add', 'user.change', 'user.add', 'user.remove']);
    assert.match(audit[0]!.user, /^cli:/);
  });

  it('serves https with --tls-cert/--tls-key and then marks the session cookie Secure', async () => {
    const cert = path.join(tv.root, 'cert.pem');
    const key = path.join(tv.root, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
      '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const web = await ConsoleProcess.start(tv, ['--tls-cert', cert, '--tls-key', key]);
    assert.match(web.url, /^https:\/\/127\.0\.0\.1:\d+\/$/);
    // The users above left "ops" as the only admin, so no admin was generated.
    assert.equal(web.initialPasswordFile, null);
    const password = (await tv.json<{ password: string }>(['console', 'user', 'passwd', 'ops'])).password;
    const body = JSON.stringify({ user: 'ops', password });
    const answer = await new Promise<{ status: number; cookie: string }>((resolve, reject) => {
      const req = https.request(new URL('/api/login', web.url), { method: 'POST', ca: readFileSync(cert), headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, cookie: String(res.headers['set-cookie'] ?? '') }));
      });
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(answer.status, 200);
    assert.match(answer.cookie, /; Secure/);
    assert.match(answer.cookie, /HttpOnly; SameSite=Strict/);
    await web.stop();
  });
});
