/** `tidemark repl status`: the tap's shippers (from the vault's run directory) and, with --hub-metrics, the hub's view. */
import type { Command } from 'commander';
import { TidemarkError } from '../../common/errors.js';
import { readShipperStatuses } from '../../tap/shipper/start-shipper.js';
import type { HubStatus } from '../../hub/hub.js';
import { formatBytes, output, vaultDir, withGlobals, type GlobalOptions } from '../cli-context.js';

export function registerReplStatus(program: Command): void {
  const repl = program.command('repl').description('replication status');
  withGlobals(repl.command('status').description('per group: shipped and protected seq, RPO lag; per hub target: lag, backlog, bytes sent vs captured'))
    .option('--hub-metrics <url>', 'the hub\'s metrics address (http://HOST:PORT), to include its per-target figures')
    .action(async (o: GlobalOptions & { hubMetrics?: string }) => {
      const taps = readShipperStatuses(vaultDir(o));
      let hub: HubStatus | null = null;
      if (o.hubMetrics) {
        try {
          hub = (await (await fetch(`${o.hubMetrics.replace(/\/$/, '')}/status`)).json()) as HubStatus;
        } catch (err) {
          throw new TidemarkError('TM_UNREACHABLE', `Cannot read ${o.hubMetrics}/status: ${(err as Error).message}`, { cause: err, retryable: true });
        }
      }
      output(o, { taps, hub }, () => [
        ...taps.map((t) => `tap ${t.group} → ${t.hub}: ${t.connected ? 'connected' : `disconnected (${t.lastError ?? '?'})`}; local seq:${t.localSeq}, at hub seq:${t.shippedSeq}, protected seq:${t.protectedSeq}, RPO lag ${t.rpoLagMs} ms`),
        ...(hub?.groups ?? []).flatMap((g) => g.targets.map((t) => `hub ${g.group} → ${t.target} (${t.mode}${t.degraded ? ', DEGRADED' : ''}): ${t.connected ? 'connected' : 'disconnected'}; ` +
          `acked seq:${t.ackedSeq}, RPO lag ${t.rpoLagMs} ms, backlog ${formatBytes(t.backlogBytes)}, sent ${formatBytes(t.bytesSent)} for ${formatBytes(t.bytesCaptured)} captured, ${formatBytes(t.throughputBps)}/s`)),
      ].join('\n') || 'No shipper running for this vault');
    });
}
