/**
 * Retention on the tap while the hub is away: commits captured while the hub was down are
 * compacted by `tidemark prune` on the tap's vault before they were shipped; the next
 * `protect --hub` ships the compacted commit, and the replica mirrors the tap's journal
 * (same points) and restores the same tree.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tidemarkJson } from '../helpers/cli.js';
import type { TimelineJson } from '../helpers/contract.js';
import { killAllDaemons } from '../helpers/daemon.js';
import { freePort, makeDeployment, type Deployment } from '../helpers/deployment.js';
import { tapLastSeq, target, waitCaptured, waitStatus } from '../helpers/replication-checks.js';

describe('retention on the tap before shipping', () => {
  let dep: Deployment;
  after(async () => {
    await killAllDaemons();
    await dep?.cleanup();
  });

  it('a compacted commit made while the hub was away is shipped, and the replica mirrors the tap', async () => {
    dep = await makeDeployment();
    const vr = await dep.replica('r');
    const v = await dep.serveVault(vr, 'vr');
    const hubPort = await freePort();
    const spec = `r=tls://127.0.0.1:${v.port}`;
    let hub = await dep.startHub([spec], { port: hubPort });
    const src = path.join(dep.root, 'src');
    mkdirSync(src);
    writeFileSync(path.join(src, 'a.txt'), 'one\n');
    let tap = dep.protect(src, 'p', hubPort);
    await tap.waitLine((l) => l.event === 'baseline', 20_000, 'baseline');
    await waitStatus(hub.metricsPort, (s) => target(s, 'p', 'r').ackedSeq >= tapLastSeq(tap), 20_000, 'baseline replicated');
    await hub.d.kill('SIGKILL');
    for (let i = 0; i < 4; i++) {
      appendFileSync(path.join(src, 'a.txt'), `change ${i}\n`);
      await waitCaptured(tap, tapLastSeq(tap), 10_000);
    }
    await tap.kill();
    await tidemarkJson(['retention', 'p', '--vault', dep.tapVault, '--keep-within', '30m', '--keep-hourly', '0', '--keep-daily', '0'], { env: dep.env });
    const pr = await tidemarkJson<{ groups: { pointsDropped: number }[] }>(['prune', '--vault', dep.tapVault], { env: { ...dep.env, TIDEMARK_NOW: new Date(Date.now() + 3_600_000).toISOString() } });
    assert.ok(pr.groups[0]!.pointsDropped > 0, 'prune compacted the journal');
    const tl = await tidemarkJson<TimelineJson>(['timeline', 'p', '--vault', dep.tapVault], { env: dep.env });
    hub = await dep.startHub([spec], { port: hubPort });
    tap = dep.protect(src, 'p', hubPort);
    await waitStatus(hub.metricsPort, (s) => target(s, 'p', 'r').ackedSeq >= tl.last.seq, 20_000, 'the compacted journal replicated');
    const rtl = await tidemarkJson<TimelineJson>(['timeline', 'p', '--vault', vr], { env: dep.env });
    assert.deepEqual({ first: rtl.first, last: rtl.last, points: rtl.points }, { first: tl.first, last: tl.last, points: tl.points }, 'the replica has the tap\'s points');
    await dep.assertSameAt(vr, 'p', tl.last.seq, 'the replica after the compacted commit');
    await tap.kill();
  });
});
