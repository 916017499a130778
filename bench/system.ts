/**
 * The machine and the tools the benchmark compares against: installing missing Debian
 * packages (restic, borgbackup, time) and describing the machine for the report.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import { GNU_TIME, commandLine, onPath, run } from './proc.js';

export interface Machine {
  nproc: number;
  memoryBytes: number;
  cpuModel: string;
  kernel: string;
  node: string;
}

export async function describeMachine(): Promise<Machine> {
  let cpuModel = 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(await fs.readFile('/proc/cpuinfo', 'utf8'));
    if (m) cpuModel = m[1].trim();
  } catch { /* not Linux */ }
  return {
    nproc: os.availableParallelism(),
    memoryBytes: os.totalmem(),
    cpuModel,
    kernel: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
  };
}

/** Filesystem type of a directory (e.g. ext4, tmpfs, overlayfs). */
export async function filesystemType(dir: string): Promise<string> {
  try { return (await run('findmnt', ['-n', '-o', 'FSTYPE', '--target', dir])).stdout.trim(); } catch { /* util-linux missing */ }
  try { return (await run('stat', ['-f', '-c', '%T', dir])).stdout.trim(); } catch { return 'unknown'; }
}

async function exists(p: string): Promise<boolean> {
  try { await fs.access(p); return true; } catch { return false; }
}

/**
 * Make sure GNU time and the compared tools are installed; installs the missing Debian
 * packages with apt-get (as root, or through `sudo -n`), saying what it runs.
 */
export async function ensureTools(wanted: { restic: boolean; borg: boolean }): Promise<void> {
  const missing: string[] = [];
  if (!(await exists(GNU_TIME))) missing.push('time');
  if (wanted.restic && !(await onPath('restic'))) missing.push('restic');
  if (wanted.borg && !(await onPath('borg'))) missing.push('borgbackup');
  if (missing.length === 0) return;
  const isRoot = process.getuid?.() === 0;
  if (!isRoot && !(await onPath('sudo'))) {
    throw new Error(`missing Debian package(s) ${missing.join(' ')}; install them (apt-get install ${missing.join(' ')}) and rerun`);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const steps: string[][] = [
    ['apt-get', '-o', 'DPkg::Lock::Timeout=120', 'update'],
    ['apt-get', '-o', 'DPkg::Lock::Timeout=120', 'install', '-y', ...missing],
  ];
  for (const step of steps) {
    const [cmd, ...args] = isRoot ? step : ['sudo', '-n', ...step];
    process.stderr.write(`bench: missing ${missing.join(', ')}; running: ${commandLine(cmd, args)}\n`);
    await run(cmd, args, { env, timeoutMs: 15 * 60_000, inheritStderr: true });
  }
}

/** First line of `cmd args` (a version string), or "unknown". */
export async function versionOf(cmd: string, args: string[]): Promise<string> {
  try { return (await run(cmd, args, { timeoutMs: 60_000 })).stdout.trim().split('\n')[0]; } catch { return 'unknown'; }
}

/** restic's version as [major, minor], from `restic version`. */
export function parseResticVersion(v: string): [number, number] | undefined {
  const m = /restic (\d+)\.(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}
