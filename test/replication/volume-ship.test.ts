/**
 * A volume tap shipping to a hub: `protect-volume --hub` → hub → a sync target vault, each
 * a separate process on loopback with mutual TLS. Writes made through NBD (qemu-io) become
 * points the tap reports protected; an image of that point read from the target vault is
 * byte for byte the backing store, and so is the same point read from the tap's vault.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import { killAllDaemons, type Daemon } from '../helpers/daemon.js';
import { makeDeployment, type Deployment } from '../helpers/deployment.js';
import { waitProtected } from '../helpers/replication-checks.js';
import { qemuIo } from '../helpers/volume.js';

const G = 'vol';

interface RunStatusJson { updated: string; writeLog?: { durableSeq: number; foldedSeq: number; unfoldedBytes: number } }

function sha(b: Buffer): string { return createHash('sha256').update(b).digest('hex'); }

describe('volume tap → hub → sync target vault', () => {
  let dep: Deployment;
  let va: string;
  let hub: { d: Daemon; port: number; metricsPort: number };
  after(async () => {
    await killAllDaemons();
    await dep?.cleanup();
  });
  before(async () => {
    dep = await makeDeployment();
    va = await dep.replica('a');
    const a = await dep.serveVault(va, 'va');
    hub = await dep.startHub([`a=tls://127.0.0.1:${a.port},mode=sync`]);
  });

  it('writes through NBD become protected points; the target vault images them byte for byte', async () => {
    const backing = path.join(dep.root, 'vol.img');
    const sock = path.join(dep.root, 'vol.sock');
    const tap = dep.protectVolume(backing, G, hub.port, sock, ['--size', '32M']);
    await tap.waitLine((l) => l.event === 'baseline', 30_000, 'baseline');
    const uri = `nbd+unix:///${G}?socket=${sock}`;
    const pattern = path.join(dep.root, 'pattern.bin');
    writeFileSync(pattern, randomBytes(2 * 1024 * 1024));
    await qemuIo(uri, ['write -P 0xab 0 4M', 'write -z 1M 64k', 'write -P 0x22 4100 1000', `write -s ${pattern} 8M 2M`, 'write -P 0x33 20M 3M', 'flush']);
    const flushed = Date.now();
    // The point to check: every acknowledged write folded into the tap's journal, as the
    // tap's run status (rewritten every second) says in a version written after the flush.
    let seq = 0;
    for (let i = 0; i < 100 && seq === 0; i++) {
      const st = JSON.parse(readFileSync(path.join(dep.tapVault, 'run', `${G}.json`), 'utf8')) as RunStatusJson;
      const w = st.writeLog;
      if (Date.parse(st.updated) > flushed && w && w.foldedSeq >= w.durableSeq && w.unfoldedBytes === 0) seq = w.foldedSeq;
      else await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(seq > 0, 'the tap folded its write log within 20 s');
    await waitProtected(tap, seq, 30_000);
    const expected = sha(readFileSync(backing));
    for (const [label, vault] of [['target vault a', va], ['tap vault', dep.tapVault]] as const) {
      const out = path.join(dep.root, `image-${label.replace(/ /g, '-')}.img`);
      const r = await runCli(['image', G, '--vault', vault, '--at', `seq:${seq}`, '--to', out, '--json'], { env: dep.env });
      assert.equal(r.code, 0, `${label}: ${r.stderr}`);
      assert.equal(sha(readFileSync(out)), expected, `${label}: image at seq:${seq} equals the backing store`);
    }
    await tap.kill('SIGINT');
    const stopped = await tap.waitLine((l) => l.event === 'stopped', 30_000, 'stopped');
    assert.ok((stopped.lastSeq as number) >= seq);
  });
});
