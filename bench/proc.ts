/**
 * Running external commands for the benchmark: plain runs (setup, du, sync, cp) and timed
 * runs under `/usr/bin/time -f '%e %U %S %M'` (wall seconds measured here with hrtime; peak RSS
 * from GNU time's %M (CPU time from %U + %S), which is the largest max-RSS among the command and the children it
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
  /** User + system CPU seconds of the command and its waited-for children (%U + %S). */
  cpuSeconds: number;
  /**
   * CPU seconds the whole machine was busy (or stolen by the hypervisor) during the run,
   * from /proc/stat; minus cpuSeconds, that is what other processes used meanwhile.
   */
  machineBusySeconds: number;
}

const USER_HZ = 100; // /proc/stat unit on Linux (sysconf(_SC_CLK_TCK))

/** Busy (user, nice, system, irq, softirq, steal) CPU seconds of the machine since boot. */
export async function machineBusy(): Promise<number> {
  try {
    const line = (await fs.readFile('/proc/stat', 'utf8')).split('\n')[0];
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    return (user + nice + system + irq + softirq + (steal || 0)) / USER_HZ;
  } catch {
    return NaN;
  }
}

const running = new Set<number>();
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
  const pid = child.pid;
  if (pid !== undefined) running.add(pid);
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
  }).finally(() => {
    if (timer) clearTimeout(timer);
    if (pid !== undefined) running.delete(pid);
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (timedOut) {
    throw new Error(`timed out after ${((o.timeoutMs ?? 0) / 1000).toFixed(0)} s: ${commandLine(cmd, args)}`);
  }
  if (code !== 0) {
    throw new Error(`exit code ${code}: ${commandLine(cmd, args)}${o.cwd ? ` (in ${o.cwd})` : ''}\n${stderr.slice(-4000)}`);
  }
  return { code, stdout, stderr, seconds };
}

/** Kill the process groups of all commands still running (on SIGINT/SIGTERM of the bench). */
export function killRunning(): void {
  for (const pid of running) {
    try { process.kill(-pid, 'SIGKILL'); } catch { /* already gone */ }
  }
}

/** Cores' worth of CPU the machine uses over `ms` milliseconds (while we only sleep). */
export async function sampleLoad(ms: number): Promise<number> {
  const before = await machineBusy();
  await new Promise((r) => setTimeout(r, ms));
  return ((await machineBusy()) - before) / (ms / 1000);
}

/**
 * Wait (at most maxMs) until the rest of the machine uses less than `threshold` cores over a
 * 2-second window; returns the last sample and how long it waited.
 */
export async function waitQuiet(threshold: number, maxMs: number): Promise<{ load: number; waitedMs: number }> {
  const start = Date.now();
  for (;;) {
    const load = await sampleLoad(2000);
    const waitedMs = Date.now() - start;
    if (!(load >= threshold) || waitedMs >= maxMs) return { load, waitedMs };
  }
}

let timeFileCounter = 0;

/** Run a command under GNU time; wall seconds from hrtime, peak RSS from %M. */
export async function runTimed(cmd: string, args: readonly string[], o: RunOptions = {}): Promise<TimedResult> {
  const timeFile = join(tmpdir(), `tidemark-bench-time-${process.pid}-${timeFileCounter++}`);
  try {
    const busyBefore = await machineBusy();
    const r = await run(GNU_TIME, ['-f', '%e %U %S %M', '-o', timeFile, '--', cmd, ...args], o);
    // the last line is ours (earlier ones may be GNU time's "Command exited with ..." notes)
    const fields = (await fs.readFile(timeFile, 'utf8')).trim().split('\n').pop()?.trim().split(/\s+/).map(Number) ?? [];
    const [, user, sys, peakRssKiB] = fields;
    if (fields.length !== 4 || !fields.every(Number.isFinite)) throw new Error(`cannot parse GNU time output for ${cmd}: ${fields.join(' ')}`);
    return { ...r, peakRssKiB, cpuSeconds: user + sys, machineBusySeconds: (await machineBusy()) - busyBefore };
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

/**
 * A long-running child (an NBD server, nbdfuse) started by the bench: its stdout lines are
 * kept for `waitLine`, and it is registered like `run`'s children so `killRunning` (on a
 * signal of the bench) kills its process group too.
 */
export interface Service {
  readonly pid: number;
  /** The command line, for error messages. */
  readonly line: string;
  /** Whether the child has exited (code or signal). */
  exited(): boolean;
  /** The tail of its stderr. */
  stderr(): string;
  /** Resolve with the first stdout line (past or future) for which `pred` holds; throws after timeoutMs or when the child exits first. */
  waitLine(pred: (line: string) => boolean, timeoutMs: number): Promise<string>;
  /** Send `signal`, wait at most timeoutMs for the exit (then SIGKILL the group); resolves with the exit code (128 when killed). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number>;
}

/** Start a long-running command in its own process group (see Service). */
export function startService(cmd: string, args: readonly string[], o: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Service {
  const child = spawn(cmd, args, { cwd: o.cwd, env: o.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`cannot start ${commandLine(cmd, args)}`);
  running.add(pid);
  const lines: string[] = [];
  let partial = '';
  let stderr = '';
  let code: number | null = null;
  const wakers = new Set<() => void>();
  const wake = (): void => { for (const w of [...wakers]) w(); };
  child.stdout.on('data', (c: Buffer) => {
    partial += c.toString('utf8');
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
    wake();
  });
  child.stderr.on('data', (c: Buffer) => { stderr = appendTail(stderr, c); });
  const closed = new Promise<number>((resolveCode) => {
    child.on('error', (err) => { stderr += `\n${err.message}`; });
    child.on('close', (c, signal) => {
      code = c ?? (signal ? 128 : 1);
      running.delete(pid);
      wake();
      resolveCode(code);
    });
  });
  const line = commandLine(cmd, args);
  const killGroup = (): void => { try { process.kill(-pid, 'SIGKILL'); } catch { /* already gone */ } };
  return {
    pid, line,
    exited: () => code !== null,
    stderr: () => stderr,
    waitLine: (pred, timeoutMs) => new Promise<string>((resolveLine, reject) => {
      let seen = 0;
      const timer = setTimeout(() => { wakers.delete(check); reject(new Error(`no expected output within ${timeoutMs} ms from ${line}\n${stderr.slice(-2000)}`)); }, timeoutMs);
      function check(): void {
        for (; seen < lines.length; seen++) {
          if (pred(lines[seen])) { clearTimeout(timer); wakers.delete(check); resolveLine(lines[seen]); return; }
        }
        if (code !== null) { clearTimeout(timer); wakers.delete(check); reject(new Error(`exited with code ${code} before the expected output: ${line}\nstdout: ${lines.slice(-5).join('\n')}\n${stderr.slice(-2000)}`)); }
      }
      wakers.add(check);
      check();
    }),
    stop: async (signal = 'SIGINT', timeoutMs = 30_000) => {
      if (code !== null) return code;
      try { process.kill(pid, signal); } catch { /* already gone */ }
      const timer = setTimeout(killGroup, timeoutMs);
      try { return await closed; } finally { clearTimeout(timer); }
    },
  };
}
