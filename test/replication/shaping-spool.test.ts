/**
 * WAN behaviour of the hub, with real processes on loopback:
 *
 * 1. bandwidth shaping: a target shaped to 2 MB/s receives a 12 MB incompressible file
 *    at 2 MB/s within 10 % (measured from the hub's live wire counter);
 * 2. dedup on the wire: the same content again under another name sends (almost) no bytes,
 *    and a 20 kB edit inside a 12 MB file crosses as a delta of about 20 kB;
 * 3. group routing: a target restricted to other groups receives nothing of this one;
 * 4. spool bound: with a 3 MB spool and the async target down, 6 MB of changes overflow
 *    the spool; the hub says it dropped them and will resynchronise; when the target is back
 *    the tap resends and the target ends with every point, nothing lost.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, copyFileSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import { killAllDaemons, type Daemon } from '../helpers/daemon.js';
import { makeDeployment, type Deployment } from '../helpers/deployment.js';
import { assertReplicaOf, hubStatus, tapLastSeq, target, waitCaptured, waitProtected, waitStatus } from '../helpers/replication-checks.js';

const MB = 1_000_000;

describe('hub WAN behaviour', () => {
  let dep: Deployment;
  after(async () => {
    await killAllDaemons();
    await dep?.cleanup();
  });
  before(async () => {
    dep = await makeDeployment();
  });

  describe('shaping and dedup', () => {
    let v: { d: Daemon; port: number };
    let hub: { d: Daemon; port: number; metricsPort: number };
    let tap: Daemon;
    let src: string;
    let shapedVault: string;
    after(async () => { await tap?.kill(); await hub?.d.kill(); await v?.d.kill(); });
    before(async () => {
      shapedVault = await dep.replica('shaped');
      v = await dep.serveVault(shapedVault, 'vs');
      hub = await dep.startHub([`s=tls://127.0.0.1:${v.port},mode=async,rate=2MB`]);
      src = path.join(dep.root, 'src-shaped');
      mkdirSync(src);
      writeFileSync(path.join(src, 'small.txt'), 'small\n');
      tap = dep.protect(src, 'shaped', hub.port);
      await tap.waitLine((l) => l.event === 'baseline', 20_000, 'baseline');
      await waitStatus(hub.metricsPort, (s) => target(s, 'shaped', 's').ackedSeq >= tapLastSeq(tap), 20_000, 'baseline replicated');
    });

    it('a target shaped to 2 MB/s receives at 2 MB/s within 10 %', async () => {
      const start = target(await hubStatus(hub.metricsPort), 'shaped', 's').bytesSent;
      writeFileSync(path.join(src, 'big.bin'), randomBytes(12 * MB));
      const samples: [number, number][] = [];
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const t = target(await hubStatus(hub.metricsPort), 'shaped', 's');
        samples.push([Date.now(), t.bytesSent - start]);
        if (t.bytesSent - start >= 12 * MB) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      // From the first counted frame to the last sample before the transfer ended.
      const moving = samples.filter(([, b]) => b > 0 && b < 12 * MB);
      assert.ok(moving.length > 10, `enough samples while sending: ${moving.length}`);
      const [t0, b0] = moving[0]!;
      const [t1, b1] = moving[moving.length - 1]!;
      const rate = ((b1 - b0) / (t1 - t0)) * 1000;
      console.log(`shaped rate: ${(rate / MB).toFixed(3)} MB/s over ${((t1 - t0) / 1000).toFixed(1)} s (target 2 MB/s)`);
      assert.ok(Math.abs(rate - 2 * MB) <= 0.1 * 2 * MB, `measured ${rate.toFixed(0)} B/s, wanted 2 MB/s ± 10 %`);
    });

    it('content the target already holds is not sent again', async () => {
      await waitStatus(hub.metricsPort, (s) => target(s, 'shaped', 's').ackedSeq >= tapLastSeq(tap), 30_000, 'big.bin replicated');
      const before = target(await hubStatus(hub.metricsPort), 'shaped', 's');
      copyFileSync(path.join(src, 'big.bin'), path.join(src, 'copy.bin'));
      const seq = await waitCaptured(tap, tapLastSeq(tap), 10_000);
      const after = await waitStatus(hub.metricsPort, (s) => target(s, 'shaped', 's').ackedSeq >= seq, 20_000, 'copy replicated');
      const t = target(after, 'shaped', 's');
      const sent = t.bytesSent - before.bytesSent;
      const captured = t.bytesCaptured - before.bytesCaptured;
      console.log(`copy of 12 MB: ${sent} bytes on the wire for ${captured} bytes captured`);
      assert.ok(captured >= 12 * MB, `the copy's 12 MB were captured (${captured})`);
      assert.ok(sent < 100_000, `only ids and metadata crossed the wire: ${sent} bytes`);
    });

    it('an edit inside a large file crosses as a delta of about its size, and restores exactly', async () => {
      const before = target(await hubStatus(hub.metricsPort), 'shaped', 's');
      const fd = openSync(path.join(src, 'big.bin'), 'r+');
      try { writeSync(fd, randomBytes(20_000), 0, 20_000, 5 * MB + 12_345); } finally { closeSync(fd); }
      const seq = await waitCaptured(tap, tapLastSeq(tap), 10_000);
      const after = await waitStatus(hub.metricsPort, (s) => target(s, 'shaped', 's').ackedSeq >= seq, 20_000, 'edit replicated');
      const sent = target(after, 'shaped', 's').bytesSent - before.bytesSent;
      console.log(`20 kB edit inside a 12 MB file: ${sent} bytes on the wire`);
      assert.ok(sent > 20_000 && sent < 60_000, `about the edit's size crossed the wire: ${sent} bytes`);
      await assertReplicaOf(dep, shapedVault, 'shaped', seq, [seq - 1], 'the vault after a delta');
    });
  });

  describe('group routing', () => {
    it('a target restricted to other groups receives nothing of this one', async () => {
      const [vx, vy] = await Promise.all([dep.replica('x'), dep.replica('y')]);
      const [x, y] = await Promise.all([dep.serveVault(vx, 'vx'), dep.serveVault(vy, 'vy')]);
      const hub = await dep.startHub([`x=tls://127.0.0.1:${x.port},groups=routed|other`, `y=tls://127.0.0.1:${y.port},groups=other`], { extra: ['--state', path.join(dep.root, 'hub-state-3')] });
      const src = path.join(dep.root, 'src-routed');
      mkdirSync(src);
      writeFileSync(path.join(src, 'r.txt'), 'routed\n');
      const tap = dep.protect(src, 'routed', hub.port);
      await tap.waitLine((l) => l.event === 'baseline', 20_000, 'baseline');
      const s = await waitStatus(hub.metricsPort, (st) => target(st, 'routed', 'x').ackedSeq >= tapLastSeq(tap), 20_000, 'x has the group');
      assert.deepEqual(s.groups.find((g) => g.group === 'routed')!.targets.map((t) => t.target), ['x']);
      await assertReplicaOf(dep, vx, 'routed', tapLastSeq(tap), [], 'target x');
      const r = await runCli(['timeline', 'routed', '--vault', vy, '--json'], { env: dep.env });
      assert.equal(r.code, 7, `vault y has no group "routed": ${r.stderr}`);
      await tap.kill();
      await hub.d.kill();
    });
  });

  describe('spool bound', () => {
    it('an overflowing spool drops what a down async target needs, then resynchronises it from the tap', async () => {
      const vdir = await dep.replica('late');
      const v = await dep.serveVault(vdir, 'vl');
      const hub = await dep.startHub([`late=tls://127.0.0.1:${v.port},mode=async`], { extra: ['--spool-max', '3MB', '--state', path.join(dep.root, 'hub-state-2')] });
      const src = path.join(dep.root, 'src-late');
      mkdirSync(src);
      writeFileSync(path.join(src, 'a.txt'), 'a\n');
      const tap = dep.protect(src, 'late', hub.port);
      await tap.waitLine((l) => l.event === 'baseline', 20_000, 'baseline');
      await waitStatus(hub.metricsPort, (s) => target(s, 'late', 'late').ackedSeq >= 1, 20_000, 'baseline replicated');
      await v.d.kill('SIGKILL');
      for (let i = 0; i < 3; i++) {
        writeFileSync(path.join(src, `f${i}.bin`), randomBytes(2 * MB));
        await waitProtected(tap, await waitCaptured(tap, tapLastSeq(tap), 10_000), 20_000);
      }
      await hub.d.waitLog(/ALERT: spool over 3000000 bytes: dropped group "late" commits through seq:\d+ from the spool; target late \(at seq:\d+\) will be resynchronised from the tap/, 10_000);
      assert.ok((await hubStatus(hub.metricsPort)).spoolBytes <= 3 * MB, 'the spool stays within its bound');
      await dep.serveVault(vdir, 'vl', v.port);
      await hub.d.waitLog(/target late needs group "late" from seq:\d+, which left the spool: asking the tap to resend from there/, 20_000);
      await waitStatus(hub.metricsPort, (s) => target(s, 'late', 'late').ackedSeq >= tapLastSeq(tap), 30_000, 'late target caught up');
      await assertReplicaOf(dep, vdir, 'late', tapLastSeq(tap), [1], 'the resynchronised target');
      await tap.kill();
    });
  });
});
