/**
 * Drives a live `tidemark protect DIR --json` (no --once) as a child process: collects the
 * one-JSON-line-per-capture output as it comes, waits for given lines, stops the child with
 * a signal, and reads its CPU time and RSS from /proc.
 *
 * Every child started here is remembered until it exits, so a test's `after` hook can call
 * `killAllLive()` and leave nothing running, whatever failed.
 */
import { spawn, execFileSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { CLI_PATH, REPO_ROOT, type TestVault } from './cli.js';
import type { ProtectJson } from './contract.js';
import { childEnv } from './child-env.js';

/** One line printed by `protect --json` while live: the --once result plus the event. */
export interface LiveEvent extends ProtectJson {
  event: 'baseline' | 'capture' | 'final' | string;
  time: string;
  entries: number;
  warnings: string[];
  unstable: string[];
  /** Date.now() in the test process when the line was read (not printed by the CLI). */
  receivedAt: number;
}

export interface LiveExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const running = new Set<LiveProtect>();

/** SIGKILL every live protect still running (for `after` hooks). */
export async function killAllLive(): Promise<void> {
  await Promise.all([...running].map((p) => p.kill()));
}

export class LiveProtect {
  readonly events: LiveEvent[] = [];
  /** stdout lines that were not JSON (there should be none with --json). */
  readonly strayLines: string[] = [];
  stderr = '';
  exit: LiveExit | null = null;
  readonly exited: Promise<LiveExit>;
  private readonly waiters = new Set<() => void>();
  private partial = '';

  private constructor(readonly child: ChildProcessWithoutNullStreams, readonly args: string[]) {
    running.add(this);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (s: string) => {
      this.partial += s;
      let nl: number;
      while ((nl = this.partial.indexOf('\n')) >= 0) {
        const line = this.partial.slice(0, nl);
        this.partial = this.partial.slice(nl + 1);
        if (line.trim() === '') continue;
        try {
          this.events.push({ ...(JSON.parse(line) as Omit<LiveEvent, 'receivedAt'>), receivedAt: Date.now() });
        } catch {
          this.strayLines.push(line);
        }
      }
      this.wake();
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => { this.stderr += s; });
    this.exited = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        this.exit = { code, signal };
        running.delete(this);
        this.wake();
        resolve(this.exit);
      });
      child.on('error', (err) => {
        this.stderr += `\n[test harness] spawn error: ${err.message}`;
      });
    });
  }

  /** Start `tidemark protect SRC --group G --json` on the vault of `tv`. */
  static start(tv: Pick<TestVault, 'env'>, src: string, group: string, extraArgs: string[] = []): LiveProtect {
    return LiveProtect.spawn(tv, ['protect', src, '--group', group, '--json', ...extraArgs]);
  }

  /** Start any long-running `tidemark ARGS` (e.g. protect-volume, image --listen) that prints JSON lines. */
  static spawn(tv: Pick<TestVault, 'env'>, args: string[]): LiveProtect {
    const child = spawn(process.execPath, [CLI_PATH, ...args], {
      cwd: REPO_ROOT, env: childEnv(tv.env), stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.on('error', () => { /* ignore */ });
    child.stdin.end();
    return new LiveProtect(child, args);
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error('protect did not start');
    return this.child.pid;
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  describe(): string {
    return `tidemark ${this.args.join(' ')} (pid ${this.child.pid})` +
      `${this.exit ? `, exited with ${this.exit.code ?? this.exit.signal}` : ''}\n` +
      `stderr:\n${this.stderr.slice(-4000)}\nlast lines:\n` +
      this.events.slice(-5).map((e) => JSON.stringify(e)).join('\n');
  }

  /** Wait until an event line satisfies `pred` (searching from index `from`); fails on exit or timeout. */
  waitFor(pred: (e: LiveEvent) => boolean, timeoutMs: number, what: string, from = 0): Promise<LiveEvent> {
    return new Promise((resolve, reject) => {
      let done = false;
      const check = (): void => {
        if (done) return;
        const hit = this.events.slice(from).find(pred);
        if (hit) { finish(); resolve(hit); return; }
        if (this.exit) { finish(); reject(new Error(`protect exited before ${what}: ${this.describe()}`)); }
      };
      const timer = setTimeout(() => {
        if (done) return;
        finish();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${this.describe()}`));
      }, timeoutMs);
      const finish = (): void => { done = true; clearTimeout(timer); this.waiters.delete(check); };
      this.waiters.add(check);
      check();
    });
  }

  waitForBaseline(timeoutMs = 60_000): Promise<LiveEvent> {
    return this.waitFor((e) => e.event === 'baseline', timeoutMs, 'the baseline line');
  }

  /** Send a signal and wait for the exit (SIGKILL after `timeoutMs`). */
  async stop(signal: NodeJS.Signals = 'SIGINT', timeoutMs = 30_000): Promise<LiveExit> {
    if (this.exit) return this.exit;
    this.child.kill(signal);
    const timer = setTimeout(() => { this.child.kill('SIGKILL'); }, timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL and wait for the exit. */
  async kill(): Promise<LiveExit> {
    if (this.exit) return this.exit;
    this.child.kill('SIGKILL');
    return this.exited;
  }
}

let clkTck: number | undefined;

/** Clock ticks per second (getconf CLK_TCK; 100 when that fails). */
export function clockTicks(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** utime + stime of a process, in seconds, from /proc/PID/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces), which ends at the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime is field 14, stime field 15.
  const utime = Number(rest[14 - 3]);
  const stime = Number(rest[15 - 3]);
  return (utime + stime) / clockTicks();
}

/** VmRSS of a process in bytes (0 when gone). */
export function rssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
