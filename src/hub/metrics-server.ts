/**
 * The hub's observability endpoint (plain HTTP, meant for 127.0.0.1 or a scrape network):
 * `GET /metrics` in the Prometheus text format, `GET /status` as JSON (what
 * `tidemark hub status --json` prints). Both read Hub.status(); nothing here changes state.
 */
import http from 'node:http';
import type { HubStatus } from './hub.js';

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Render a status as Prometheus text exposition. */
export function prometheusText(s: HubStatus): string {
  const out: string[] = [];
  const metric = (name: string, help: string, rows: [Record<string, string>, number][]): void => {
    out.push(`# HELP tidemark_${name} ${help}`, `# TYPE tidemark_${name} gauge`);
    for (const [labels, v] of rows) {
      const l = Object.entries(labels).map(([k, x]) => `${k}="${esc(x)}"`).join(',');
      out.push(`tidemark_${name}${l ? `{${l}}` : ''} ${v}`);
    }
  };
  const per = (f: (t: HubStatus['groups'][number]['targets'][number]) => number): [Record<string, string>, number][] =>
    s.groups.flatMap((g) => g.targets.map((t): [Record<string, string>, number] => [{ group: g.group, target: t.target, mode: t.mode }, f(t)]));
  metric('spool_bytes', 'bytes held in the hub spool', [[{}, s.spoolBytes]]);
  metric('group_spooled_seq', 'last seq durable in the hub spool', s.groups.map((g) => [{ group: g.group }, g.spooledSeq]));
  metric('group_protected_seq', 'last seq every sync target holds durably', s.groups.map((g) => [{ group: g.group }, g.protectedSeq]));
  metric('group_captured_bytes', 'bytes captured by the tap (chunk raw sizes of received commits)', s.groups.map((g) => [{ group: g.group }, g.capturedBytes]));
  metric('target_acked_seq', 'last seq the target acknowledged as durable', per((t) => t.ackedSeq));
  metric('target_rpo_lag_seconds', 'age of the oldest change the target does not have yet', per((t) => t.rpoLagMs / 1000));
  metric('target_backlog_bytes', 'spooled bytes the target still needs', per((t) => t.backlogBytes));
  metric('target_sent_bytes', 'bytes sent to the target on the wire', per((t) => t.bytesSent));
  metric('target_captured_bytes', 'bytes the commits shipped to the target captured', per((t) => t.bytesCaptured));
  metric('target_throughput_bytes_per_second', 'wire throughput to the target over the last 10 s', per((t) => t.throughputBps));
  metric('target_connected', '1 when the target is connected', per((t) => (t.connected ? 1 : 0)));
  metric('target_degraded', '1 when a sync target is degraded to async by policy', per((t) => (t.degraded ? 1 : 0)));
  return out.join('\n') + '\n';
}

/** Serve /metrics and /status; resolves with the bound port. */
export async function serveMetrics(host: string, port: number, status: () => HubStatus): Promise<{ port: number; server: http.Server }> {
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(prometheusText(status()));
    } else if (req.method === 'GET' && req.url === '/status') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(status()));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /status\n');
    }
  });
  await new Promise<void>((res, rej) => { server.once('error', rej); server.listen(port, host, () => res()); });
  const addr = server.address();
  return { port: typeof addr === 'object' && addr ? addr.port : port, server };
}
