/** `tidemark status`: per group, whether it is being watched, its last point, lag and ratios. */
import type { Command } from 'commander';
import { VolumeIndex } from '../../vault/index/volume-index.js';
import { readShipperStatuses, type ShipperStatus } from '../../tap/shipper/start-shipper.js';
import { readRunStatuses } from '../../embedded/run-status.js';
import { formatBytes, openVault, output, withGlobals, type GlobalOptions } from '../cli-context.js';

export function registerStatus(program: Command): void {
  withGlobals(program.command('status').description('show each group: watching, last recovery point, RPO lag, sizes and ratios'))
    .action((o: GlobalOptions) => {
      const vault = openVault(o, false, 'status');
      try {
        const runs = readRunStatuses(vault.dir);
        const shippers = readShipperStatuses(vault.dir);
        const db = vault.index.db;
        const volumes = new VolumeIndex(vault.index);
        const stored = db.prepare('SELECT coalesce(sum(length), 0) AS stored, coalesce(sum(raw_length), 0) AS raw, count(*) AS n FROM blobs WHERE type = 0').get() as { stored: number; raw: number; n: number };
        const groups = vault.index.groups().map((g) => {
          const last = vault.index.lastPoint(g.id);
          const volume = last ? volumes.baselineAt(g.id, last.seq) : undefined;
          const head = volume
            ? { files: 0, bytes: volume.size }
            : db.prepare('SELECT count(*) AS files, coalesce(sum(size), 0) AS bytes FROM head WHERE group_id = ? AND kind = 1').get(g.id) as { files: number; bytes: number };
          const run = runs.find((r) => r.group === g.name && r.alive);
          return {
            group: g.name,
            kind: volume ? 'volume' : 'files',
            watching: run !== undefined,
            source: run?.source ?? null,
            pid: run?.pid ?? null,
            lastPoint: last ? { seq: last.seq, time: new Date(last.time).toISOString() } : null,
            points: vault.index.pointCount(g.id),
            pendingChanges: run?.pendingChanges ?? 0,
            rpoLagMs: run ? run.rpoLagMs + Math.max(0, Date.now() - Date.parse(run.updated)) * (run.pendingChanges > 0 ? 1 : 0) : null,
            files: head.files,
            protectedBytes: head.bytes,
            bytesCaptured: run?.bytesCaptured ?? null,
            replication: replicationOf(shippers.find((x) => x.group === g.name), run !== undefined),
            filesCaptured: run?.filesCaptured ?? null,
          };
        });
        const logical = groups.reduce((a, g) => a + g.protectedBytes, 0);
        const vaultInfo = {
          vault: vault.dir, chunks: stored.n, storedBytes: stored.stored, uniqueBytes: stored.raw,
          dedupRatio: stored.raw > 0 ? logical / stored.raw : null,
          compressionRatio: stored.stored > 0 ? stored.raw / stored.stored : null,
        };
        output(o, { ...vaultInfo, groups }, () => [
          `Vault ${vault.dir}: ${stored.n} chunks, ${formatBytes(stored.stored)} stored` +
            (vaultInfo.dedupRatio ? `, dedup ${vaultInfo.dedupRatio.toFixed(2)}x, compression ${vaultInfo.compressionRatio!.toFixed(2)}x` : ''),
          ...groups.map((g) => `  ${g.group}: ${g.watching ? `watching ${g.source} (pid ${g.pid}), RPO lag ${g.rpoLagMs} ms, ${g.pendingChanges} pending` : 'not watched'}; ` +
            `last point ${g.lastPoint ? `seq:${g.lastPoint.seq} at ${g.lastPoint.time}` : 'none'}; ` +
            (g.kind === 'volume' ? `volume of ${formatBytes(g.protectedBytes)}` : `${g.files} files, ${formatBytes(g.protectedBytes)}`) +
            (g.replication ? `; shipping to ${String(g.replication.hub)}: at hub seq:${String(g.replication.shippedSeq)}, protected seq:${String(g.replication.protectedSeq)}, lag ${String(g.replication.rpoLagMs)} ms` : '')),
        ].join('\n'));
      } finally {
        vault.close();
      }
    });
}

/** A group's shipping to a hub, as its live protect last reported it (null: not shipped). */
function replicationOf(s: ShipperStatus | undefined, live: boolean): Record<string, unknown> | null {
  if (!s) return null;
  return {
    hub: s.hub, live, connected: live && s.connected, lastError: s.lastError, updated: s.updated,
    localSeq: s.localSeq, shippedSeq: s.shippedSeq, protectedSeq: s.protectedSeq, rpoLagMs: s.rpoLagMs,
    bytesSent: s.bytesSent, bytesCaptured: s.bytesCaptured,
  };
}
