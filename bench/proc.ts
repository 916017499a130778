/**
 * Running external commands for the benchmark: plain runs (setup, du, sync, cp) and timed
 * runs under `/usr/bin/time -f '%e %M'` (wall seconds measured here with hrtime; peak RSS
 * from GNU time's %M, which is the largest max-RSS among the command and the children it
 * waited for). Every run is bounded by a timeout that kills the whole process group.
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const GNU_TIME = '/usr/bin/time';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Kill the command (and its process group) after this many milliseconds. */
  timeoutMs?: number;
  /** Pass the command's stderr through to ours (progress of long setup steps). */
  inheritStderr?: boolean;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

export interface TimedResult extends RunResult {
  /** Peak resident set size in KiB, from GNU time's %M. */
  peakRssKiB: number;
}

const KEEP = 1 << 20; // keep at most the last 1 MiB of each output stream

function appendTail(acc: string, chunk: Buffer): string {
  const s = acc + chunk.toString('utf8');
  return s.length > KEEP ? s.slice(s.length - KEEP) : s;
}

export function shellQuote(a: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

export function commandLine(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map(shellQuote).join(' ');
}

/** Run a command to completion; throws (with the tail of stderr) on failure or timeout. */
export async function run(cmd: string, args: readonly string[], o: RunOptions = {}): Promise<RunResult> {
  const started = process.hrtime.bigint();
  const child = spawn(cmd, args, {
    cwd: o.cwd,
    env: o.env ?? process.env,
    stdio: ['ignore', 'pipe', o.inheritStderr ? 'inherit' : 'pipe'],
    detached: true, // own process group, so a timeout can kill everything it started
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => { stdout = appendTail(stdout, c); });
  child.stderr?.on('data', (c: Buffer) => { stderr = appendTail(stderr, c); });
  let timedOut = false;
  const timer = o.timeoutMs === undefined ? undefined : setTimeout(() => {
    timedOut = true;
    try { if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
  }, o.timeoutMs);
  const code = await new Promise<number>((resolveCode, reject) => {
    child.on('error', reject);
    child.on('close', (c, signal) => resolveCode(c ?? (signal ? 128 : 1)));
  }).finally(() => { if (timer) clearTimeout(timer); });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (timedOut) {
    throw new Error(`timed out after ${((o.timeoutMs ?? 0) / 1000).toFixed(0)} s: ${commandLine(cmd, args)}`);
  }
  if (code !== 0) {
    throw new Error(`exit code ${code}: ${commandLine(cmd, args)}${o.cwd ? ` (in ${o.cwd})` : ''}\n${stderr.slice(-4000)}`);
  }
  return { code, stdout, stderr, seconds };
}

let timeFileCounter = 0;

/** Run a command under GNU time; wall seconds from hrtime, peak RSS from %M. */
export async function runTimed(cmd: string, args: readonly string[], o: RunOptions = {}): Promise<TimedResult> {
  const timeFile = join(tmpdir(), `tidemark-bench-time-${process.pid}-${timeFileCounter++}`);
  try {
    const r = await run(GNU_TIME, ['-f', '%e %M', '-o', timeFile, '--', cmd, ...args], o);
    const fields = (await fs.readFile(timeFile, 'utf8')).trim().split(/\s+/);
    const peakRssKiB = Number(fields[fields.length - 1]);
    if (!Number.isFinite(peakRssKiB)) throw new Error(`cannot parse GNU time output for ${cmd}: ${fields.join(' ')}`);
    return { ...r, peakRssKiB };
  } finally {
    await fs.rm(timeFile, { force: true });
  }
}

/** `du -sb DIR`: apparent size in bytes of everything below DIR. */
export async function duBytes(dir: string): Promise<number> {
  const r = await run('du', ['-sb', dir]);
  return Number(r.stdout.split(/\s+/)[0]);
}

/** Whether an executable is on $PATH. */
export async function onPath(name: string): Promise<boolean> {
  try {
    await run('sh', ['-c', `command -v ${shellQuote(name)}`]);
    return true;
  } catch {
    return false;
  }
}
