/**
 * tap → hub → two vaults, each a separate process on loopback with mutual TLS:
 * vault a is a sync target (outage policy degrade, 2 s), vault b async.
 *
 * 1. a point captured at the tap restores identically from each vault;
 * 2. vault b is killed (SIGKILL) while writes go on for OUTAGE_S seconds (default 5; the
 *    acceptance's 60 s: TIDEMARK_TEST_OUTAGE_S=60): protection goes on through a, the hub
 *    reports b's lag and backlog; b restarts on its port and catches up with nothing lost;
 * 3. vault a (sync) is killed: the hub raises an ALERT and degrades it to async, changes
 *    are reported protected again; once a is back and caught up it is synchronous again;
 * 4. /metrics, `repl status` and `analyze` report per group and target figures.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tidemarkJson } from '../helpers/cli.js';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { killAllDaemons, type Daemon } from '../helpers/daemon.js';
import { makeDeployment, type Deployment } from '../helpers/deployment.js';
import { assertReplicaOf, startWriter, tapLastSeq, target, waitCaptured, waitProtected, waitStatus } from '../helpers/replication-checks.js';

const OUTAGE_MS = Number(process.env.TIDEMARK_TEST_OUTAGE_S ?? 5) * 1000;
const G = 'g';

describe('tap → hub → sync and async vaults', () => {
  let dep: Deployment;
  let va: string, vb: string, src: string;
  let a: { d: Daemon; port: number }, b: { d: Daemon; port: number };
  let hub: { d: Daemon; port: number; metricsPort: number };
  let tap: Daemon;
  after(async () => {
    await killAllDaemons();
    await dep?.cleanup();
  });
  before(async () => {
    dep = await makeDeployment();
    [va, vb] = await Promise.all([dep.replica('a'), dep.replica('b')]);
    [a, b] = await Promise.all([dep.serveVault(va, 'va'), dep.serveVault(vb, 'vb')]);
    hub = await dep.startHub([`a=tls://127.0.0.1:${a.port},mode=sync,outage=degrade,timeout=2s`, `b=tls://127.0.0.1:${b.port},mode=async`]);
    src = path.join(dep.root, 'src');
    mkdirSync(path.join(src, 'docs'), { recursive: true });
    writeFileSync(path.join(src, 'docs', 'readme.txt'), 'hello\n');
    writeFileSync(path.join(src, 'big.bin'), randomBytes(3 * 1024 * 1024));
    tap = dep.protect(src, G, hub.port);
  });

  it('a point captured at the tap restores identically from each vault', async () => {
    await tap.waitLine((l) => l.event === 'baseline', 20_000, 'baseline');
    writeFileSync(path.join(src, 'docs', 'second.txt'), 'a second file\n');
    const seq = await waitCaptured(tap, tapLastSeq(tap), 10_000);
    await waitProtected(tap, seq, 10_000);
    // Protected means the sync target has it; the async one follows on its own.
    await waitStatus(hub.metricsPort, (s) => target(s, G, 'b').ackedSeq >= seq, 10_000, 'async b has the point');
    await assertReplicaOf(dep, va, G, seq, [1], 'sync vault a');
    await assertReplicaOf(dep, vb, G, seq, [1], 'async vault b');
  });

  it('the async vault survives an outage while writes go on, and catches up with nothing lost', async () => {
    const before = tapLastSeq(tap);
    await b.d.kill('SIGKILL');
    const w = startWriter(src);
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    const during = await waitStatus(hub.metricsPort, (s) => target(s, G, 'b').lagSeqs > 0, 5000, 'b lags');
    const tb = target(during, G, 'b');
    assert.equal(tb.connected, false);
    assert.ok(tb.backlogBytes > 0 && tb.rpoLagMs > 0, `b's backlog and RPO lag are reported: ${JSON.stringify(tb)}`);
    const seqDuring = tapLastSeq(tap);
    assert.ok(seqDuring > before, 'writes went on being captured');
    await waitProtected(tap, seqDuring, 10_000);
    b = await dep.serveVault(vb, 'vb', b.port);
    w.stop();
    const last = await waitCaptured(tap, seqDuring, 10_000).catch(() => seqDuring);
    await waitProtected(tap, tapLastSeq(tap), 10_000);
    const s = await waitStatus(hub.metricsPort, (x) => target(x, G, 'b').ackedSeq >= tapLastSeq(tap), 30_000, 'b caught up');
    assert.equal(target(s, G, 'b').lagSeqs, 0);
    await assertReplicaOf(dep, vb, G, tapLastSeq(tap), [before, Math.max(1, Math.floor((before + last) / 2))], 'async vault b after its outage');
  });

  it('a sync vault outage with policy degrade raises an alert, protection goes on, and it is synchronous again once caught up', async () => {
    const from = hub.d.stderr.length;
    await a.d.kill('SIGKILL');
    const w = startWriter(src);
    await hub.d.waitLog(/ALERT: sync target a unreachable for over 2000 ms: group "g" degraded to async/, 10_000, from);
    const seqDegraded = await waitCaptured(tap, tapLastSeq(tap), 5000);
    await waitProtected(tap, seqDegraded, 10_000);
    const s = await waitStatus(hub.metricsPort, (x) => target(x, G, 'a').degraded, 5000, 'a degraded');
    assert.equal(target(s, G, 'a').connected, false);
    a = await dep.serveVault(va, 'va', a.port);
    w.stop();
    await hub.d.waitLog(/sync target a caught up with group "g" at seq:\d+: synchronous again/, 30_000, from);
    await waitStatus(hub.metricsPort, (x) => !target(x, G, 'a').degraded && target(x, G, 'a').ackedSeq >= tapLastSeq(tap), 30_000, 'a synchronous and current');
    await waitProtected(tap, tapLastSeq(tap), 10_000);
    await assertReplicaOf(dep, va, G, tapLastSeq(tap), [seqDegraded], 'sync vault a after its outage');
  });

  it('exposes per group and target figures on /metrics', async () => {
    const text = await (await fetch(`http://127.0.0.1:${hub.metricsPort}/metrics`)).text();
    for (const m of ['target_acked_seq', 'target_rpo_lag_seconds', 'target_backlog_bytes', 'target_sent_bytes', 'target_captured_bytes', 'target_throughput_bytes_per_second']) {
      assert.match(text, new RegExp(`^tidemark_${m}\\{group="g",target="a",mode="sync"\\} [0-9.e+-]+$`, 'm'), m);
      assert.match(text, new RegExp(`^tidemark_${m}\\{group="g",target="b",mode="async"\\} [0-9.e+-]+$`, 'm'), m);
    }
    const sent = Number(/^tidemark_target_sent_bytes\{group="g",target="b",mode="async"\} (\d+)/m.exec(text)![1]);
    assert.ok(sent > 3 * 1024 * 1024, `bytes sent to b include the 3 MiB baseline (${sent})`);
    await tap.waitUntil(() => (existsSync(path.join(dep.tapVault, 'run', 'ship', `${G}.json`)) ? true : undefined), 5000, 'shipper status file');
    const rs = await tidemarkJson<{ taps: { group: string; connected: boolean; protectedSeq: number; localSeq: number }[]; hub: { groups: unknown[] } }>(
      ['repl', 'status', '--vault', dep.tapVault, '--hub-metrics', `http://127.0.0.1:${hub.metricsPort}`], { env: dep.env });
    assert.equal(rs.taps[0]?.group, G);
    assert.equal(rs.taps[0]?.connected, true);
    assert.ok(rs.taps[0]!.protectedSeq > 0 && rs.taps[0]!.protectedSeq <= rs.taps[0]!.localSeq);
    assert.equal(rs.hub.groups.length, 1);
    // The same figures in `tidemark status --json`, beside the group's capture state.
    const st = await tidemarkJson<{ groups: { group: string; replication: { hub: string; connected: boolean; protectedSeq: number } | null }[] }>(
      ['status', '--vault', dep.tapVault], { env: dep.env });
    const sg = st.groups.find((x) => x.group === G);
    assert.ok(sg?.replication, `status --json shows no replication for ${G}: ${JSON.stringify(st)}`);
    assert.equal(sg.replication.connected, true);
    assert.ok(sg.replication.protectedSeq > 0);
    await tap.kill();
    assert.equal(tap.exitCode, 0, tap.describe());
  });

  it('analyze reports write rates by hour and the bandwidth an RPO needs from the hub\'s profile', async () => {
    await hub.d.kill('SIGTERM');
    const r = await tidemarkJson<{ groups: { group: string; capturedBytes: number; bandwidthForRpo: number; byHour: { hour: number; p99: number }[] }[] }>(
      ['analyze', '--state', path.join(dep.root, 'hub-state'), '--rpo', '10s'], { env: dep.env });
    const g = r.groups.find((x) => x.group === G);
    assert.ok(g && g.capturedBytes > 3 * 1024 * 1024, `captured bytes profiled: ${JSON.stringify(r)}`);
    assert.ok(g.bandwidthForRpo > 0 && g.byHour.length >= 1 && g.byHour[0]!.p99 > 0);
  });
});
