import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { liveLagMs, overviewOf, rpoState } from './overview-query.js';
import { Vault, initVault } from '../../vault/vault.js';
import { ingestOnce } from '../../tap/file/snapshot-ingest.js';
import type { RunStatus } from '../../embedded/run-status.js';

describe('rpoState', () => {
  it('is green within the target, amber up to twice it, red beyond, red when nothing watches', () => {
    assert.equal(rpoState(0, 60_000).state, 'green');
    assert.equal(rpoState(60_000, 60_000).state, 'green');
    assert.equal(rpoState(60_001, 60_000).state, 'amber');
    assert.equal(rpoState(120_000, 60_000).state, 'amber');
    assert.equal(rpoState(120_001, 60_000).state, 'red');
    const unwatched = rpoState(null, 60_000);
    assert.equal(unwatched.state, 'red');
    assert.match(unwatched.reason, /not being captured/);
  });
});

describe('liveLagMs', () => {
  const run = (o: Partial<RunStatus>): RunStatus => ({
    pid: 1, host: 'h', source: '/s', group: 'g', started: '', updated: '2026-11-23T10:00:00.000Z', lastSeq: 1, lastCaptureTime: null,
    pendingChanges: 0, rpoLagMs: 0, captures: 0, filesCaptured: 0, bytesCaptured: 0, bytesNew: 0, ...o,
  });
  it('adds the time since the status was written while changes are pending', () => {
    const now = Date.parse('2026-11-23T10:00:02.000Z');
    assert.equal(liveLagMs(run({ pendingChanges: 3, rpoLagMs: 500 }), now), 2500);
    assert.equal(liveLagMs(run({ pendingChanges: 0, rpoLagMs: 0 }), now), 0, 'nothing pending: no lag, however old the status');
  });
});

describe('overviewOf', () => {
  it('reports a group shipped to a hub with what its shipper last said, and kind files or volume', () => {
    const root = mkdtempSync(join(tmpdir(), 'tidemark-overview-'));
    try {
      const env = { TIDEMARK_PASSPHRASE: 'unit' };
      initVault(join(root, 'v'), { env });
      const src = join(root, 'src');
      mkdirSync(src);
      writeFileSync(join(src, 'f'), 'x');
      const vault = Vault.open(join(root, 'v'), { env, write: true });
      try {
        ingestOnce(vault, { source: src, group: 'g' });
        ingestOnce(vault, { source: src, group: 'h' });
        mkdirSync(join(root, 'v', 'run', 'ship'), { recursive: true });
        const updated = new Date().toISOString();
        writeFileSync(join(root, 'v', 'run', 'ship', 'g.json'), JSON.stringify({
          pid: 1, group: 'g', hub: 'tls://hub1:7400', updated, connected: true, lastError: null,
          localSeq: 9, shippedSeq: 8, protectedSeq: 7, rpoLagMs: 1200, bytesSent: 10, bytesCaptured: 20,
        }));
        const rows = overviewOf(vault, () => 60_000);
        const g = rows.find((r) => r.name === 'g')!;
        assert.equal(g.kind, 'files');
        // No live protect runs here: the shipper's report is shown, but not as connected.
        assert.deepEqual(g.replication, {
          hub: 'tls://hub1:7400', live: false, connected: false, lastError: null, updated,
          localSeq: 9, shippedSeq: 8, protectedSeq: 7, rpoLagMs: 1200, bytesSent: 10, bytesCaptured: 20,
        });
        assert.equal(rows.find((r) => r.name === 'h')!.replication, null);
      } finally {
        vault.close();
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
