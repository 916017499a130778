/** `tidemark hub`: receive taps' change streams, replicate them to target vaults, serve metrics and the web console. */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { TidemarkError } from '../../common/errors.js';
import { Hub } from '../../hub/hub.js';
import { serveMetrics } from '../../hub/metrics-server.js';
import { parseTargetSpec } from '../../hub/target-spec.js';
import { loadIdentity } from '../../pki/tls-identity.js';
import { parseRate } from '../../replication/bandwidth-schedule.js';
import { HUB_CONSOLE_LISTEN, startHubConsoleBeside } from '../../web/hub-console.js';
import { listenAddress, logLine, untilSignal } from './serve-common.js';

interface HubOptions {
  listen: string; tls: string; state: string; target?: string[]; spoolMax: string; metrics?: string; caDir?: string; allowPeer?: string[]; json?: boolean;
  console: string | false; consoleTlsCert?: string; consoleTlsKey?: string;
}

export function registerHub(program: Command): void {
  program.command('hub').description('run a hub: receive taps\' streams (mutual TLS), spool them, replicate to vaults')
    .requiredOption('--listen <host:port>', 'address for taps (port 0: any free port)')
    .requiredOption('--tls <dir>', 'this node\'s TLS directory (ca.crt, node.key, node.crt)')
    .requiredOption('--state <dir>', 'the hub\'s state directory (spool, I/O profile)')
    .option('--target <spec...>', 'NAME=tls://HOST:PORT[,mode=sync|async][,outage=block|degrade][,timeout=5s][,rate=10MB@08:00-18:00;unlimited][,groups=G1|G2]')
    .option('--spool-max <bytes>', 'bound of the disk spool (e.g. 10GB)', '10GB')
    .option('--metrics <host:port>', 'serve /metrics (Prometheus) and /status (JSON) over HTTP here')
    .option('--ca-dir <dir>', 'redeem `tidemark pki token` enrolment tokens with this CA')
    .option('--allow-peer <name...>', 'accept streams only from these nodes (certificate names of taps); default: any node of the CA')
    .option('--console <addr>', 'serve the web console and REST API here (see docs/console.md)', HUB_CONSOLE_LISTEN)
    .option('--no-console', 'do not serve the web console')
    .option('--console-tls-cert <file>', 'serve the console over https with this PEM certificate (with --console-tls-key)')
    .option('--console-tls-key <file>', 'the PEM private key of --console-tls-cert')
    .option('--json', 'print events as JSON lines on stdout')
    .action(async (o: HubOptions) => {
      const spoolMax = parseRate(o.spoolMax);
      if (!(spoolMax > 0)) throw new TidemarkError('TM_USAGE', '--spool-max must be positive');
      if (!!o.consoleTlsCert !== !!o.consoleTlsKey) throw new TidemarkError('TM_USAGE', '--console-tls-cert and --console-tls-key go together');
      const targets = (o.target ?? []).map(parseTargetSpec);
      if (new Set(targets.map((t) => t.name)).size !== targets.length) throw new TidemarkError('TM_USAGE', 'two targets have the same name');
      const hub = new Hub({ stateDir: resolve(o.state), identity: loadIdentity(resolve(o.tls)), targets, spoolMax, caDir: o.caDir ? resolve(o.caDir) : undefined, allow: o.allowPeer, log: logLine('hub') });
      const { host, port } = listenAddress(o.listen);
      const bound = await hub.listen(host, port);
      let metricsPort: number | null = null;
      let closeMetrics = (): void => undefined;
      if (o.metrics) {
        const m = listenAddress(o.metrics);
        const srv = await serveMetrics(m.host, m.port, () => hub.status());
        metricsPort = srv.port;
        closeMetrics = () => srv.server.close();
      }
      const consoleTls = o.consoleTlsCert ? { certFile: resolve(o.consoleTlsCert), keyFile: resolve(o.consoleTlsKey!) } : undefined;
      const web = await startHubConsoleBeside(hub, o.console, resolve(o.state), consoleTls);
      const ready = {
        event: 'listening', role: 'hub', port: bound, metricsPort, consoleUrl: web?.url ?? null, initialPasswordFile: web?.initialPasswordFile ?? null,
        targets: targets.map((t) => ({ name: t.name, url: t.url, mode: t.mode, outage: t.outage, rate: t.rate })),
      };
      if (o.json) process.stdout.write(JSON.stringify(ready) + '\n');
      else process.stderr.write(`Hub listening on ${host}:${bound}${metricsPort ? `, metrics on ${o.metrics?.replace(/:\d+$/, '')}:${metricsPort}` : ''} (Ctrl-C to stop)\n`);
      await untilSignal();
      await web?.close();
      closeMetrics();
      await hub.close();
    });
}
