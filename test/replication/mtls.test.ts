/**
 * Mutual TLS between nodes, against a real `tidemark vault serve` and `tidemark hub`:
 * a peer with a certificate of this deployment's CA is served; one with a certificate from
 * another CA, or with none, is refused with a log line saying why; a hub refuses a target
 * vault whose certificate is from another CA; `--allow-peer` narrows who is served to named
 * nodes; enrolment with a one-time token gives a node
 * a working identity, and the same token is refused the second time.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import { runCli, tidemarkJson } from '../helpers/cli.js';
import { Daemon, killAllDaemons } from '../helpers/daemon.js';
import { makeDeployment, type Deployment } from '../helpers/deployment.js';

/** Connect, send a hello frame, and return the first frame type the server answers (null: closed without one). */
async function helloAnswer(port: number, dir: string | null, caFile: string): Promise<number | null> {
  const opts: tls.ConnectionOptions = { host: '127.0.0.1', port, ca: readFileSync(caFile, 'utf8'), rejectUnauthorized: true };
  if (dir) { opts.key = readFileSync(path.join(dir, 'node.key')); opts.cert = readFileSync(path.join(dir, 'node.crt')); }
  return new Promise((resolve, reject) => {
    const s = tls.connect(opts, () => {
      const body = Buffer.from(JSON.stringify({ proto: 1, group: 'g', node: 'probe' }));
      const head = Buffer.alloc(6);
      head.writeUInt32LE(body.length + 2, 0);
      head[4] = 1;
      s.write(Buffer.concat([head, body]));
    });
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => { s.destroy(); reject(new Error('no answer within 10 s')); }, 10_000);
    s.on('data', (b: Buffer) => {
      got = Buffer.concat([got, b]);
      if (got.length >= 6) { clearTimeout(timer); s.destroy(); resolve(got[4]!); }
    });
    s.on('error', () => { /* a refused peer sees a reset */ });
    s.on('close', () => { clearTimeout(timer); resolve(got.length >= 6 ? got[4]! : null); });
  });
}

describe('mutual TLS between nodes', () => {
  let dep: Deployment;
  let other: string;
  after(async () => {
    await killAllDaemons();
    await dep?.cleanup();
  });
  before(async () => {
    dep = await makeDeployment();
    other = path.join(dep.root, 'other-ca');
    await tidemarkJson(['pki', 'init', '--dir', other], { env: dep.env });
    await tidemarkJson(['pki', 'issue', '--dir', other, '--name', 'rogue', '--out', path.join(dep.root, 'tls-rogue')], { env: dep.env });
  });

  it('a vault serves a peer of its CA and refuses one from another CA or without a certificate, saying why', async () => {
    const v = await dep.serveVault(await dep.replica('a'), 'va');
    const ca = path.join(dep.ca, 'ca.crt');
    assert.equal(await helloAnswer(v.port, await dep.identity('hub'), ca), 2, 'an enrolled peer gets a state frame');
    assert.equal(await helloAnswer(v.port, path.join(dep.root, 'tls-rogue'), ca), null, 'a peer of another CA gets nothing');
    await v.d.waitLog(/refused unauthenticated peer 127\.0\.0\.1:\d+: certificate not signed by this deployment's CA/, 5000);
    assert.equal(await helloAnswer(v.port, null, ca), null, 'a peer without a certificate gets nothing');
    await v.d.waitLog(/refused unauthenticated peer 127\.0\.0\.1:\d+: no client certificate/, 5000);
  });

  it('a vault started with --allow-peer serves only the named nodes of the CA', async () => {
    const d = Daemon.start(['vault', 'serve', '--vault', await dep.replica('allow'), '--listen', '127.0.0.1:0', '--tls', await dep.identity('va'), '--allow-peer', 'hub', '--json'], dep.env);
    const port = await d.port();
    const ca = path.join(dep.ca, 'ca.crt');
    assert.equal(await helloAnswer(port, await dep.identity('hub'), ca), 2, 'the hub is served');
    assert.equal(await helloAnswer(port, await dep.identity('tap'), ca), null, 'a tap of the same CA is refused');
    await d.waitLog(/refused peer 127\.0\.0\.1:\d+ \("tap"\): not among the allowed peers \(hub\)/, 5000);
    await d.kill();
  });

  it('a hub refuses a target vault whose certificate is from another CA', async () => {
    const rogue = Daemon.start(['vault', 'serve', '--vault', await dep.replica('rogue'), '--listen', '127.0.0.1:0', '--tls', path.join(dep.root, 'tls-rogue'), '--json'], dep.env);
    const port = await rogue.port();
    const hub = await dep.startHub([`r=tls://127.0.0.1:${port},mode=async`]);
    const src = path.join(dep.root, 'src-rogue');
    await mkdir(src);
    const tap = dep.protect(src, 'g', hub.port);
    await hub.d.waitLog(/Refused tls:\/\/127\.0\.0\.1:\d+: its certificate is not from this deployment's CA/, 15_000);
    await tap.kill();
    await hub.d.kill();
    await rogue.kill();
  });

  it('a one-time token enrols a node whose certificate then works, and is refused the second time', async () => {
    const hub = await dep.startHub([], { extra: ['--ca-dir', dep.ca] });
    const tok = await tidemarkJson<{ token: string; name: string }>(['pki', 'token', '--dir', dep.ca, '--name', 'newnode', '--ttl', '5'], { env: dep.env });
    const out = path.join(dep.root, 'tls-newnode');
    const r = await tidemarkJson<{ name: string }>(['pki', 'enroll', '--hub', `tls://127.0.0.1:${hub.port}`, '--token', tok.token, '--out', out], { env: dep.env });
    assert.equal(r.name, 'newnode');
    await hub.d.waitLog(/enrolled node "newnode"/, 5000);
    assert.equal(await helloAnswer(hub.port, out, path.join(out, 'ca.crt')), 2, 'the enrolled identity is served');
    const again = await runCli(['pki', 'enroll', '--hub', `tls://127.0.0.1:${hub.port}`, '--token', tok.token, '--out', path.join(dep.root, 'tls-x'), '--json'], { env: dep.env });
    assert.equal(again.code, 11, `a reused token fails with TM_AUTH: ${again.stderr}`);
    assert.match(again.stderr, /TM_AUTH/);
    await hub.d.waitLog(/refused enrolment from 127\.0\.0\.1:\d+: unknown or already used enrolment token/, 5000);
    await hub.d.kill();
  });
});
