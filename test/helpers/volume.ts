/**
 * Helpers for volume tests: start `protect-volume` / `image --listen` and wait until they
 * serve, and drive them with real NBD clients nobody here wrote (qemu-io, nbdcopy).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
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

/**
 * Wait until a live tap of `group` has folded every durable write into the journal (its
 * run status, rewritten every second, says so), so `timeline` and `image --at latest`
 * show the last flushed write. Returns at once when no tap of the group runs.
 */
export async function waitFolded(tv: TestVault, group: string, timeoutMs = 20_000): Promise<void> {
  const file = path.join(tv.vault, 'run', `${group}.json`);
  const since = Date.now();
  for (let waited = 0; waited <= timeoutMs; waited += 100) {
    let s: { pid: number; updated: string; writeLog?: { durableSeq: number; foldedSeq: number; unfoldedBytes: number } };
    try {
      s = JSON.parse(readFileSync(file, 'utf8')) as typeof s;
      process.kill(s.pid, 0);
    } catch {
      return; // no live tap: a stopped tap folded everything, a killed one is folded by the next reader
    }
    const w = s.writeLog;
    if (Date.parse(s.updated) > since && (!w || (w.foldedSeq >= w.durableSeq && w.unfoldedBytes === 0))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the tap of "${group}" did not fold its write log within ${timeoutMs} ms`);
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

/** A block device made of an NBD export (nbdfuse + losetup), mounted; `detach` undoes it all. */
export interface Attached { loop: string; mountDir: string; detach(): Promise<void> }

/**
 * Attach an NBD export as a loop device through nbdfuse (the nbd kernel module does not
 * exist on these machines) and, unless `mkfs` is set first, mount it at `dir/mnt`.
 */
export async function attachExport(uri: string, dir: string, opts: { mkfs?: boolean; readOnly?: boolean } = {}): Promise<Attached> {
  const fuseDir = path.join(dir, 'fuse');
  const mountDir = path.join(dir, 'mnt');
  await run('mkdir', ['-p', fuseDir, mountDir]);
  const fuse = spawn('nbdfuse', [...(opts.readOnly ? ['-r'] : []), fuseDir, uri], { stdio: ['ignore', 'ignore', 'pipe'] });
  let fuseErr = '';
  fuse.stderr.on('data', (b: Buffer) => { fuseErr += b.toString(); });
  const nbdFile = path.join(fuseDir, 'nbd');
  for (let i = 0; i < 200; i++) {
    if (existsSync(nbdFile)) break;
    if (fuse.exitCode !== null) throw new Error(`nbdfuse exited: ${fuseErr}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  if (!existsSync(nbdFile)) { fuse.kill('SIGKILL'); throw new Error(`nbdfuse did not expose ${nbdFile}: ${fuseErr}`); }
  const loop = (await run('losetup', ['-f', '--show', ...(opts.readOnly ? ['-r'] : []), nbdFile])).stdout.trim();
  let mounted = false;
  const detach = async (): Promise<void> => {
    if (mounted) await run('umount', [mountDir]).catch(() => run('umount', ['-l', mountDir]));
    mounted = false;
    await run('losetup', ['-d', loop]).catch(() => undefined);
    await run('fusermount3', ['-u', fuseDir]).catch(() => undefined);
    for (let i = 0; i < 100 && fuse.exitCode === null; i++) await new Promise((r) => setTimeout(r, 20));
    if (fuse.exitCode === null) fuse.kill('SIGKILL');
  };
  try {
    if (opts.mkfs) await run('mkfs.ext4', ['-q', '-F', loop]);
    await run('mount', [...(opts.readOnly ? ['-o', 'ro,noload'] : []), loop, mountDir]);
    mounted = true;
  } catch (err) {
    await detach();
    throw err;
  }
  return { loop, mountDir, detach };
}
