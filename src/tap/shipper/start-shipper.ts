/**
 * `tidemark protect DIR --hub URL`: the tap keeps writing its local vault as always (its
 * durable spool), and a shipper streams the group's commits from it to the hub over
 * mutual TLS, resuming after whatever the hub holds durably. The hub reports which seq
 * every sync target holds (`protected`); with --json each advance is printed as an
 * `{"event":"shipped"|"protected", …}` line, and VAULT/run/ship/GROUP.json holds the
 * shipper's status for `tidemark repl status`.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { connectMtls, loadIdentity } from '../../pki/tls-identity.js';
import { StreamSender } from '../../replication/stream-sender.js';
import { FramedConnection } from '../../wire/framed-connection.js';
import type { Vault } from '../../vault/vault.js';
import { VaultCommitSource } from './vault-commit-source.js';

/** The shipper's status file, as `repl status` reads it. */
export interface ShipperStatus {
  pid: number; group: string; hub: string; updated: string; connected: boolean; lastError: string | null;
  localSeq: number; shippedSeq: number; protectedSeq: number; rpoLagMs: number; bytesSent: number; bytesCaptured: number;
}

/** Where the TLS identity of this node is: $TIDEMARK_TLS_DIR, else ~/.config/tidemark/tls. */
export function tlsDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.TIDEMARK_TLS_DIR || join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'tidemark', 'tls');
}

export function shipStatusPath(vaultDir: string, group: string): string {
  return join(vaultDir, 'run', 'ship', `${group}.json`);
}

/** What `status` and the console show of a group's shipping (null: not shipped); connected only while its protect runs. */
export function replicationOf(s: ShipperStatus | undefined, live: boolean): ReplicationSummary | null {
  if (!s) return null;
  return {
    hub: s.hub, live, connected: live && s.connected, lastError: s.lastError, updated: s.updated,
    localSeq: s.localSeq, shippedSeq: s.shippedSeq, protectedSeq: s.protectedSeq, rpoLagMs: s.rpoLagMs,
    bytesSent: s.bytesSent, bytesCaptured: s.bytesCaptured,
  };
}

export interface ReplicationSummary {
  hub: string; live: boolean; connected: boolean; lastError: string | null; updated: string;
  localSeq: number; shippedSeq: number; protectedSeq: number; rpoLagMs: number; bytesSent: number; bytesCaptured: number;
}

/** The status files of this vault's shippers (one per group shipped by a live protect). */
export function readShipperStatuses(vaultDir: string): ShipperStatus[] {
  let files: string[];
  try { files = readdirSync(join(vaultDir, 'run', 'ship')).filter((f) => f.endsWith('.json')); } catch { return []; }
  const out: ShipperStatus[] = [];
  for (const f of files) {
    try { out.push(JSON.parse(readFileSync(join(vaultDir, 'run', 'ship', f), 'utf8')) as ShipperStatus); } catch { /* being replaced right now */ }
  }
  return out;
}

/**
 * Run `body` (the live protect loop) with a shipper beside it when `hub` is given. After
 * `body` returns (its final capture is durable), wait up to `flushMs` for the hub to take
 * the rest, then stop; what is left is shipped by the next run (the hub says where to resume).
 */
export async function withShipper<T>(hub: string | undefined, vault: Vault, o: { group: string; json: boolean; flushMs?: number }, body: () => Promise<T>): Promise<T> {
  if (!hub) return body();
  const id = loadIdentity(tlsDir());
  const source = new VaultCommitSource(vault);
  const log = (line: string): void => { process.stderr.write(`${new Date().toISOString()} shipper: ${line}\n`); };
  const emit = (event: string, extra: Record<string, unknown>): void => {
    if (o.json) process.stdout.write(JSON.stringify({ event, time: new Date().toISOString(), group: o.group, ...extra }) + '\n');
  };
  let protectedSeq = 0;
  let bytesCaptured = 0;
  const sender = new StreamSender({
    group: o.group, node: id.name, target: `hub ${hub}`, source, log, pollMs: 100,
    connect: async () => new FramedConnection(await connectMtls(id, hub)),
    onAck: (offer, wire) => { bytesCaptured += offer.rawBytes; emit('shipped', { seq: offer.lastSeq, wireBytes: wire }); },
    onProtected: (seq) => {
      if (seq <= protectedSeq) return;
      protectedSeq = seq;
      emit('protected', { seq });
    },
  });
  const path = shipStatusPath(vault.dir, o.group);
  const publish = (): void => {
    const localSeq = source.lastSeq(o.group);
    const next = protectedSeq < localSeq ? source.next(o.group, protectedSeq) : undefined;
    const s: ShipperStatus = {
      pid: process.pid, group: o.group, hub, updated: new Date().toISOString(), connected: sender.connected, lastError: sender.lastError,
      localSeq, shippedSeq: Math.max(0, sender.ackedSeq), protectedSeq, rpoLagMs: next ? Math.max(0, Date.now() - next.time) : 0,
      bytesSent: sender.bytesSent, bytesCaptured,
    };
    try {
      mkdirSync(join(vault.dir, 'run', 'ship'), { recursive: true });
      writeFileSync(`${path}.tmp`, JSON.stringify(s));
      renameSync(`${path}.tmp`, path);
    } catch { /* advisory, like the protect status file */ }
  };
  const timer = setInterval(publish, 1000);
  try {
    return await body();
  } finally {
    clearInterval(timer);
    const last = source.lastSeq(o.group);
    if (!(await sender.waitAcked(last, o.flushMs ?? 10_000))) log(`stopping with seq:${Math.max(0, sender.ackedSeq) + 1}..${last} not yet at the hub; the next run ships them`);
    await sender.stop();
    try { unlinkSync(path); } catch { /* never written */ }
  }
}
