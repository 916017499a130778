/**
 * A replication deployment on loopback for multi-process tests: a CA, node identities,
 * the tap's vault and replica vaults (sharing its key), and starters for `vault serve`,
 * `hub` and `protect --hub` as separate processes. Restores are compared between the tap's
 * vault and each remote vault at the same seq.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { runCli, tidemarkJson } from './cli.js';
import { Daemon } from './daemon.js';
import { snapshotTree, assertSameTree } from './tree.js';

export interface Deployment {
  root: string;
  ca: string;
  env: Record<string, string>;
  tapVault: string;
  /** node directory of `name` (issued on first use) */
  identity(name: string): Promise<string>;
  /** a replica vault sharing the tap vault's key */
  replica(name: string): Promise<string>;
  serveVault(vault: string, tlsName: string, port?: number): Promise<{ d: Daemon; port: number }>;
  /** a hub on loopback; its web console only with `console` (an address, e.g. 127.0.0.1:0) */
  startHub(targets: string[], opts?: { port?: number; extra?: string[]; console?: string }): Promise<{ d: Daemon; port: number; metricsPort: number }>;
  protect(src: string, group: string, hubPort: number): Daemon;
  /** `protect-volume BACKING` shipping to the hub, served on the unix socket `sock` */
  protectVolume(backing: string, group: string, hubPort: number, sock: string, extra?: string[]): Daemon;
  /** restore `group` at `seq` from `vault` into a fresh directory */
  restore(vault: string, group: string, seq: number): Promise<string>;
  /** the remote vault restores seq exactly as the tap's vault does */
  assertSameAt(remote: string, group: string, seq: number, label: string): Promise<void>;
  cleanup(): Promise<void>;
}

/** A TCP port free right now on 127.0.0.1 (for a process that must come back on the same port). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

export async function makeDeployment(): Promise<Deployment> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'tidemark-repl-'));
  const env = { TIDEMARK_PASSPHRASE: `pw-${randomBytes(6).toString('hex')}` };
  const ca = path.join(root, 'ca');
  await tidemarkJson(['pki', 'init', '--dir', ca], { env });
  const tapVault = path.join(root, 'tap-vault');
  await tidemarkJson(['init', '--vault', tapVault], { env });
  const ids = new Map<string, string>();
  let restores = 0;
  const d: Deployment = {
    root, ca, env, tapVault,
    async identity(name) {
      let dir = ids.get(name);
      if (!dir) {
        dir = path.join(root, `tls-${name}`);
        await tidemarkJson(['pki', 'issue', '--dir', ca, '--name', name, '--out', dir], { env });
        ids.set(name, dir);
      }
      return dir;
    },
    async replica(name) {
      const dir = path.join(root, `vault-${name}`);
      await tidemarkJson(['vault', 'init-replica', '--vault', dir, '--from', tapVault], { env });
      return dir;
    },
    async serveVault(vault, tlsName, port = 0) {
      const daemon = Daemon.start(['vault', 'serve', '--vault', vault, '--listen', `127.0.0.1:${port}`, '--tls', await d.identity(tlsName), '--json'], env);
      return { d: daemon, port: await daemon.port() };
    },
    async startHub(targets, opts = {}) {
      const args = ['hub', '--listen', `127.0.0.1:${opts.port ?? 0}`, '--tls', await d.identity('hub'), '--state', path.join(root, 'hub-state'),
        '--metrics', '127.0.0.1:0', '--json', ...targets.flatMap((t) => ['--target', t]), ...(opts.console ? ['--console', opts.console] : ['--no-console']), ...(opts.extra ?? [])];
      const daemon = Daemon.start(args, env);
      const port = await daemon.port();
      return { d: daemon, port, metricsPort: daemon.lines.find((l) => l.event === 'listening')!.metricsPort as number };
    },
    protect(src, group, hubPort) {
      return Daemon.start(['protect', src, '--vault', tapVault, '--group', group, '--hub', `tls://127.0.0.1:${hubPort}`, '--json'],
        { ...env, TIDEMARK_TLS_DIR: ids.get('tap') ?? path.join(root, 'tls-tap') });
    },
    protectVolume(backing, group, hubPort, sock, extra = []) {
      return Daemon.start(['protect-volume', backing, '--vault', tapVault, '--group', group, '--listen', `unix:${sock}`, '--hub', `tls://127.0.0.1:${hubPort}`, '--json', ...extra],
        { ...env, TIDEMARK_TLS_DIR: ids.get('tap') ?? path.join(root, 'tls-tap') });
    },
    async restore(vault, group, seq) {
      const to = path.join(root, `restore-${++restores}`);
      const r = await runCli(['restore', group, '--vault', vault, '--at', `seq:${seq}`, '--to', to, '--json'], { env });
      if (r.code !== 0) throw new Error(`restore seq:${seq} from ${vault} failed: ${r.stderr}`);
      return to;
    },
    async assertSameAt(remote, group, seq, label) {
      const [a, b] = await Promise.all([d.restore(tapVault, group, seq), d.restore(remote, group, seq)]);
      assertSameTree(await snapshotTree(b), await snapshotTree(a), { label });
    },
    cleanup: () => fs.rm(root, { recursive: true, force: true }),
  };
  await d.identity('tap');
  return d;
}
