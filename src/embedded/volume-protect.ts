/**
 * `tidemark protect-volume`: the volume tap served over NBD until SIGINT/SIGTERM. The
 * export is served before the baseline starts, so an existing volume stays usable while
 * it is recorded. On a signal: stop accepting, commit what is pending, exit 0.
 */
import { hostname } from 'node:os';
import type { Vault } from '../vault/vault.js';
import { VolumeTap } from '../tap/volume/volume-tap.js';
import { startNbdServer } from '../nbd/nbd-server.js';
import { nbdUri } from '../nbd/nbd-uri.js';
import { removeRunStatus, writeRunStatus, type RunStatus } from './run-status.js';

export interface VolumeProtectOptions {
  backing: string;
  group: string;
  listen: string;
  size?: number;
  sync: boolean;
  json: boolean;
  commitIntervalMs?: number;
  onProgress?: (done: number, total: number) => void;
}

function say(o: VolumeProtectOptions, event: string, fields: Record<string, unknown>, human: string): void {
  if (o.json) process.stdout.write(JSON.stringify({ event, time: new Date().toISOString(), ...fields }) + '\n');
  else process.stdout.write(`${new Date().toISOString()} ${human}\n`);
}

/** Serve and journal until a signal; resolves once everything acknowledged is durable. */
export async function runVolumeProtect(vault: Vault, o: VolumeProtectOptions): Promise<void> {
  const tap = VolumeTap.open({ vault, group: o.group, backing: o.backing, size: o.size, sync: o.sync, commitIntervalMs: o.commitIntervalMs });
  let failed: Error | null = null;
  let wake: () => void = () => {};
  const stopped = new Promise<void>((r) => { wake = r; });
  tap.onFailure = (err) => { failed = err; wake(); };
  const server = await startNbdServer({
    listen: o.listen, exports: [tap],
    log: (line) => process.stderr.write(`tidemark nbd: ${line}\n`),
  });
  const status: RunStatus = {
    pid: process.pid, host: hostname(), source: o.backing, group: o.group, started: new Date().toISOString(), updated: '',
    lastSeq: 0, lastCaptureTime: null, pendingChanges: 0, rpoLagMs: 0, captures: 0, filesCaptured: 0, bytesCaptured: 0, bytesNew: 0,
  };
  const publish = (): void => {
    const s = tap.status();
    status.updated = new Date().toISOString();
    status.lastSeq = s.durableSeq;
    status.pendingChanges = s.lastSeq - s.durableSeq;
    status.rpoLagMs = s.oldestPendingTime ? Math.max(0, Date.now() - s.oldestPendingTime) : 0;
    status.captures = s.commits;
    status.bytesCaptured = s.bytesWritten;
    status.writeLog = { durableSeq: s.durableSeq, foldedSeq: s.foldedSeq, unfoldedBytes: s.unfoldedBytes };
    try { writeRunStatus(vault.dir, status); } catch { /* advisory */ }
  };
  const heartbeat = setInterval(publish, 1000);
  const onSignal = (): void => wake();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const uri = nbdUri(server.address);
  say(o, 'listening', { group: o.group, backing: o.backing, size: tap.size, uri, address: server.address, sync: o.sync },
    `Serving ${o.backing} (${tap.size} bytes) as group "${o.group}" at ${uri}${o.sync ? ' (sync: writes acknowledged once journaled)' : ''}`);
  try {
    const b = await Promise.race([tap.baseline(o.onProgress), stopped.then(() => null)]);
    if (b) say(o, 'baseline', { group: o.group, ...b }, `Baseline of "${o.group}" done: seq:${b.startSeq}..seq:${b.endSeq}, ${b.bytesChanged} bytes recorded`);
    publish();
    await stopped;
  } finally {
    clearInterval(heartbeat);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await server.close();
    await tap.close().catch((err: unknown) => { failed ??= err as Error; });
    removeRunStatus(vault.dir, o.group);
  }
  if (failed) throw failed;
  const s = tap.status();
  say(o, 'stopped', { group: o.group, lastSeq: s.durableSeq, writes: s.writes, bytesWritten: s.bytesWritten, flushes: s.flushes },
    `Stopped; group "${o.group}" is durable up to seq:${s.durableSeq}`);
}
