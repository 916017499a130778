/** `tidemark status`: per group, whether it is being watched, its last point, lag and ratios. */
import type { Command } from 'commander';
import { groupContents } from '../../vault/index/group-contents.js';
import { readShipperStatuses, replicationOf } from '../../tap/shipper/start-shipper.js';
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
        const stored = db.prepare('SELECT coalesce(sum(length), 0) AS stored, coalesce(sum(raw_length), 0) AS raw, count(*) AS n FROM blobs WHERE type = 0').get() as { stored: number; raw: number; n: number };
        const groups = vault.index.groups().map((g) => {
          const last = vault.index.lastPoint(g.id);
          const contents = groupContents(vault.index, g.id);
          const run = runs.find((r) => r.group === g.name && r.alive);
          return {
            group: g.name,
            kind: contents.kind,
            watching: run !== undefined,
            source: run?.source ?? null,
            pid: run?.pid ?? null,
            lastPoint: last ? { seq: last.seq, time: new Date(last.time).toISOString() } : null,
            points: vault.index.pointCount(g.id),
            pendingChanges: run?.pendingChanges ?? 0,
            rpoLagMs: run ? run.rpoLagMs + Math.max(0, Date.now() - Date.parse(run.updated)) * (run.pendingChanges > 0 ? 1 : 0) : null,
            files: contents.files,
            protectedBytes: contents.bytes,
            bytesCaptured: run?.bytesCaptured ?? null,
            replication: replicationOf(shippers.find((x) => x.group === g.name), run !== undefined),
            filesCaptured: run?.filesCaptured ?? null,
            writeLog: run?.writeLog ?? null,
            // Files read while they were being written: captures kept in the journal, and
            // files whose latest capture is torn (reads give their last clean version).
            torn: { captures: vault.index.tornCount(g.id), files: last ? vault.index.tornAt(g.id, last.seq).length : 0, capturesThisRun: run?.tornCaptures ?? null },
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
            (g.torn.captures ? `${g.torn.captures} torn capture(s), ${g.torn.files} file(s) torn at the last point; ` : '') +
            (g.kind === 'volume' ? `volume of ${formatBytes(g.protectedBytes)}` : `${g.files} files, ${formatBytes(g.protectedBytes)}`) +
            (g.replication ? `; shipping to ${String(g.replication.hub)}: at hub seq:${String(g.replication.shippedSeq)}, protected seq:${String(g.replication.protectedSeq)}, lag ${String(g.replication.rpoLagMs)} ms` : '')),
        ].join('\n'));
      } finally {
        vault.close();
      }
    });
}

