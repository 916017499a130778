/**
 * Helpers for volume tests: start `protect-volume` / `image --listen` and wait until they
 * serve, and drive them with real NBD clients nobody here wrote (qemu-io, nbdcopy).
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import path from 'node:path';
import { LiveProtect, type LiveEvent } from './live.js';
import type { TestVault } from './cli.js';

const run = promisify(execFile);

export interface Served { proc: LiveProtect; uri: string; ready: LiveEvent }

/** `tidemark protect-volume BACKING --group G --listen unix:SOCK --json ...`; resolves once it listens. */
export async function startVolume(tv: TestVault, backing: string, group: string, extra: string[] = []): Promise<Served> {
  const sock = path.join(tv.root, `${group}-${randomBytes(3).toString('hex')}.sock`);
  const proc = LiveProtect.spawn(tv, ['protect-volume', backing, '--group', group, '--listen', `unix:${sock}`, '--json', ...extra]);
  const ready = await proc.waitFor((e) => e.event === 'listening', 30_000, 'the listening line');
  return { proc, uri: (ready as unknown as { uri: string }).uri, ready };
}

/** `tidemark image GROUP --at P --listen unix:SOCK --json ...`; resolves once it serves. */
export async function startImage(tv: TestVault, group: string, at: string, extra: string[] = []): Promise<Served> {
  const sock = path.join(tv.root, `img-${randomBytes(3).toString('hex')}.sock`);
  const proc = LiveProtect.spawn(tv, ['image', group, '--at', at, '--listen', `unix:${sock}`, '--json', ...extra]);
  const ready = await proc.waitFor((e) => e.event === 'ready', 30_000, 'the ready line');
  return { proc, uri: (ready as unknown as { uri: string }).uri, ready };
}

/** Run qemu-io commands (e.g. `write -P 0xab 0 64k`, `flush`) against an NBD URI. */
export async function qemuIo(uri: string, cmds: string[]): Promise<string> {
  const args = ['-f', 'raw'];
  for (const c of cmds) args.push('-c', c);
  args.push(uri);
  const { stdout } = await run('qemu-io', args, { maxBuffer: 64 * 1024 * 1024, timeout: 120_000 });
  return stdout;
}

/** The whole export's bytes, read with nbdcopy. */
export async function readExport(uri: string): Promise<Buffer> {
  const { stdout } = await run('nbdcopy', [uri, '-'], { encoding: 'buffer', maxBuffer: 2 * 1024 * 1024 * 1024, timeout: 120_000 });
  return stdout;
}

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

export { run as execFileAsync };
