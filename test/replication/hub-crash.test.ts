/**
 * tap → hub → one sync vault (outage policy block), separate processes on loopback:
 *
 * 1. the hub is killed with SIGKILL mid-stream while writes go on, and restarted on the
 *    same port and state: it resumes after at least every seq it had acknowledged (nothing
 *    acknowledged is lost) and the vault ends with every point 1..N exactly once, each
 *    restoring as the tap's vault does;
 * 2. the sync vault is killed: the hub raises an ALERT (policy block) and no newer change is
 *    reported protected while it is away; once it is back, protection catches up;
 * 3. the vault is replaced by an empty replica: the hub has the tap resend from seq:1.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tidemarkJson } from '../helpers/cli.js';
import path from 'node:path';
import { killAllDaemons, type Daemon } from '../helpers/daemon.js';
import { freePort, makeDeployment, type Deployment } from '../helpers/deployment.js';
import { assertReplicaOf, startWriter, tapLastSeq, target, waitCaptured, waitProtected, waitStatus } from '../helpers/replication-checks.js';

const G = 'crash';
const maxSeq = (tap: Daemon, event: string): number => Math.max(0, ...tap.lines.filter((l) => l.event === event).map((l) => l.seq as number));

describe('hub crash and the block policy', () => {
  let dep: Deployment;
  let vc: string, src: string, hubPort: number;
  let c: { d: Daemon; port: number };
  let hub: { d: Daemon; port: number; metricsPort: number };
  let tap: Daemon;
  let targetSpec: string;
  after(async () => {
    await killAllDaemons();
    await dep?.cleanup();
  });
  before(async () => {
    dep = await makeDeployment();
    vc = await dep.replica('c');
    c = await dep.serveVault(vc, 'vc');
    hubPort = await freePort();
    targetSpec = `c=tls://127.0.0.1:${c.port},mode=sync,outage=block,timeout=1s`;
    hub = await dep.startHub([targetSpec], { port: hubPort });
    src = path.join(dep.root, 'src');
    mkdirSync(src);
    writeFileSync(path.join(src, 'start.txt'), 'start\n');
    tap = dep.protect(src, G, hub.port);
    await tap.waitLine((l) => l.event === 'baseline', 20_000, 'baseline');
  });

  it('kill -9 of the hub mid-stream loses nothing acknowledged; the stream resumes without duplicate or missing records', async () => {
    const w = startWriter(src, 50);
    await tap.waitUntil(() => (tap.lines.filter((l) => l.event === 'shipped').length >= 8 ? true : undefined), 20_000, '8 commits shipped');
    await hub.d.kill('SIGKILL');
    const ackedBefore = maxSeq(tap, 'shipped');
    await new Promise((r) => setTimeout(r, 1000));
    hub = await dep.startHub([targetSpec], { port: hubPort });
    const resumed = await hub.d.waitLog(/peer tap@\S+ streams group "crash", resuming after seq:\d+/, 15_000);
    const resumedAt = Number(/seq:(\d+)/.exec(resumed)![1]);
    assert.ok(resumedAt >= ackedBefore, `the restarted hub resumes after seq:${resumedAt}, having acknowledged seq:${ackedBefore} before the kill`);
    await new Promise((r) => setTimeout(r, 1500));
    w.stop();
    const last = await waitCaptured(tap, tapLastSeq(tap) - 1, 5000);
    await waitProtected(tap, Math.max(last, tapLastSeq(tap)), 20_000);
    await assertReplicaOf(dep, vc, G, tapLastSeq(tap), [ackedBefore, resumedAt], 'vault c after the hub crash');
  });

  it('a sync vault outage with policy block raises an alert and holds protection back until it is back', async () => {
    const from = hub.d.stderr.length;
    await waitProtected(tap, tapLastSeq(tap), 10_000);
    const protectedBefore = maxSeq(tap, 'protected');
    await c.d.kill('SIGKILL');
    const w = startWriter(src);
    await hub.d.waitLog(/ALERT: sync target c unreachable for over 1000 ms: group "crash" changes after seq:\d+ are not protected until it is back \(policy block\)/, 10_000, from);
    const captured = await waitCaptured(tap, protectedBefore, 5000);
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(maxSeq(tap, 'protected'), protectedBefore, `nothing after seq:${protectedBefore} is reported protected while c is away (captured up to seq:${captured})`);
    c = await dep.serveVault(vc, 'vc', c.port);
    w.stop();
    await hub.d.waitLog(/sync target c is back for group "crash"/, 20_000, from);
    await waitProtected(tap, tapLastSeq(tap), 20_000);
    await assertReplicaOf(dep, vc, G, tapLastSeq(tap), [captured], 'vault c after its outage');
  });

  it('a target vault replaced by an empty one is resynchronised from the tap, chunks included', async () => {
    const from = hub.d.stderr.length;
    await c.d.kill('SIGTERM');
    await rm(vc, { recursive: true });
    await tidemarkJson(['vault', 'init-replica', '--vault', vc, '--from', dep.tapVault], { env: dep.env });
    c = await dep.serveVault(vc, 'vc', c.port);
    await hub.d.waitLog(/target c needs group "crash" from seq:1, which left the spool: asking the tap to resend from there/, 20_000, from);
    await waitStatus(hub.metricsPort, (x) => target(x, G, 'c').ackedSeq >= tapLastSeq(tap), 60_000, 'the replaced vault caught up');
    await assertReplicaOf(dep, vc, G, tapLastSeq(tap), [1], 'the replaced vault c');
    await tap.kill();
  });
});
