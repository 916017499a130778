/**
 * The moving parts of the volume bench: NBD servers (`nbdkit file`, `tidemark
 * protect-volume`, `tidemark image --listen`), block devices made of an export (nbdfuse +
 * losetup + ext4 mount), and a stack of cleanup steps so that mounts, loop devices, nbdfuse
 * and servers are undone in reverse order whatever fails.
 */
import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { run, startService, type Service } from './proc.js';

/** Cleanup steps, undone last-in first-out; each step runs at most once. */
export class Cleanups {
  private readonly steps: { what: string; fn: () => Promise<unknown> }[] = [];

  /** Register a step; the returned function runs it now (and forgets it). */
  add(what: string, fn: () => Promise<unknown>): () => Promise<void> {
    const step = { what, fn };
    this.steps.push(step);
    return async () => {
      const i = this.steps.indexOf(step);
      if (i < 0) return;
      this.steps.splice(i, 1);
      await fn();
    };
  }

  /** Run every remaining step, newest first; failures are reported, not thrown, so the rest still runs. */
  async runAll(log: (msg: string) => void): Promise<void> {
    while (this.steps.length > 0) {
      const s = this.steps.pop()!;
      try { await s.fn(); } catch (e) { log(`cleanup: ${s.what}: ${(e as Error).message}`); }
    }
  }
}

/** A running NBD server and how to reach and stop it. */
export interface Server {
  uri: string;
  service: Service;
  /** Stop it (SIGINT) and wait for it; throws if it did not exit cleanly. */
  stop(): Promise<void>;
  /** a tap's run status file (VAULT/run/GROUP.json), which says how far its write log is folded */
  runStatus?: string;
}

/** What starting tidemark needs: its CLI and the environment naming the vault. */
export interface TidemarkEnv { cli: string; env: NodeJS.ProcessEnv }

const sockUri = (sock: string): string => `nbd+unix:///?socket=${sock}`;

/** Poll with `nbdinfo --size` until the server answers (nbdkit prints nothing when ready). */
async function waitConnectable(uri: string, s: Service, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try { await run('nbdinfo', ['--size', uri], { timeoutMs: 5000 }); return; } catch (e) {
      if (s.exited() || Date.now() > deadline) throw new Error(`${s.line} is not serving: ${(e as Error).message}\n${s.stderr().slice(-2000)}`, { cause: e });
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function stopper(s: Service, cleanups: Cleanups): () => Promise<void> {
  return cleanups.add(`stop ${s.line}`, async () => {
    const code = await s.stop('SIGINT', 60_000);
    if (code !== 0) throw new Error(`exit code ${code}: ${s.line}\n${s.stderr().slice(-2000)}`);
  });
}

/** `nbdkit file BACKING` on a unix socket (foreground, dies with the bench). */
export async function startNbdkit(backing: string, sock: string, cleanups: Cleanups): Promise<Server> {
  const service = startService('nbdkit', ['--foreground', '--exit-with-parent', '-U', sock, 'file', backing]);
  const stop = stopper(service, cleanups);
  const uri = sockUri(sock);
  try { await waitConnectable(uri, service, 30_000); } catch (e) { await stop().catch(() => undefined); throw e; }
  return { uri, service, stop };
}

const parseEvent = (line: string): { event?: string; uri?: string } => {
  try { return JSON.parse(line) as { event?: string; uri?: string }; } catch { return {}; }
};

/** `tidemark protect-volume BACKING --group G --listen unix:SOCK --json [extra]`; resolves after the baseline. */
export async function startTap(t: TidemarkEnv, backing: string, group: string, sock: string, extra: string[], cleanups: Cleanups): Promise<Server> {
  const service = startService(process.execPath, [t.cli, 'protect-volume', backing, '--group', group, '--listen', `unix:${sock}`, '--json', ...extra], { env: t.env });
  const stop = stopper(service, cleanups);
  try {
    const listening = parseEvent(await service.waitLine((l) => parseEvent(l).event === 'listening', 60_000));
    await service.waitLine((l) => parseEvent(l).event === 'baseline', 10 * 60_000);
    const vault = t.env.TIDEMARK_VAULT;
    return { uri: listening.uri ?? sockUri(sock), service, stop, runStatus: vault ? join(vault, 'run', `${group}.json`) : undefined };
  } catch (e) {
    await stop().catch(() => undefined);
    throw e;
  }
}

/** `tidemark image G --at AT --listen unix:SOCK --json`; resolves on its ready line. */
export async function startImage(t: TidemarkEnv, group: string, at: string, sock: string, cleanups: Cleanups): Promise<Server> {
  const service = startService(process.execPath, [t.cli, 'image', group, '--at', at, '--listen', `unix:${sock}`, '--json'], { env: t.env });
  const stop = stopper(service, cleanups);
  try {
    const ready = parseEvent(await service.waitLine((l) => parseEvent(l).event === 'ready', 60_000));
    return { uri: ready.uri ?? sockUri(sock), service, stop };
  } catch (e) {
    await stop().catch(() => undefined);
    throw e;
  }
}

/** An export attached as a loop device and mounted; `detach` undoes it (also registered in the cleanups). */
export interface Attached { loop: string; mountDir: string; detach(): Promise<void> }

/**
 * Attach an NBD export through nbdfuse + losetup (no nbd kernel module on these machines),
 * make an ext4 file system on it and mount it at DIR/mnt — the same stack as
 * test/helpers/volume.ts, with every step bounded and undone on failure.
 */
export async function attachExt4(uri: string, dir: string, cleanups: Cleanups): Promise<Attached> {
  const fuseDir = join(dir, 'fuse');
  const mountDir = join(dir, 'mnt');
  await fs.mkdir(fuseDir, { recursive: true });
  await fs.mkdir(mountDir, { recursive: true });
  const fuse = startService('nbdfuse', [fuseDir, uri]);
  const steps: (() => Promise<void>)[] = [];
  const detach = async (): Promise<void> => { while (steps.length > 0) await steps.pop()!(); };
  steps.push(cleanups.add(`nbdfuse ${fuseDir}`, async () => {
    await run('fusermount3', ['-u', fuseDir], { timeoutMs: 30_000 }).catch(() => undefined);
    await fuse.stop('SIGTERM', 10_000);
  }));
  try {
    const nbdFile = join(fuseDir, 'nbd');
    for (let i = 0; i < 400 && !existsSync(nbdFile); i++) {
      if (fuse.exited()) throw new Error(`nbdfuse exited: ${fuse.stderr()}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    if (!existsSync(nbdFile)) throw new Error(`nbdfuse did not expose ${nbdFile}: ${fuse.stderr()}`);
    const loop = (await run('losetup', ['-f', '--show', nbdFile], { timeoutMs: 30_000 })).stdout.trim();
    steps.push(cleanups.add(`losetup -d ${loop}`, () => run('losetup', ['-d', loop], { timeoutMs: 30_000 })));
    await run('mkfs.ext4', ['-q', '-F', loop], { timeoutMs: 5 * 60_000 });
    await run('mount', [loop, mountDir], { timeoutMs: 60_000 });
    steps.push(cleanups.add(`umount ${mountDir}`, () => run('umount', [mountDir], { timeoutMs: 120_000 })
      .catch(() => run('umount', ['-l', mountDir], { timeoutMs: 30_000 }))));
    return { loop, mountDir, detach };
  } catch (e) {
    await detach().catch(() => undefined);
    throw e;
  }
}
