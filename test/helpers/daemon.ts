/**
 * Drives a long-running `tidemark` command (hub, vault serve, protect --hub) as a child
 * process: collects its JSON lines on stdout and its log on stderr, waits for a line or a
 * log pattern (bounded by a timeout), and stops it with a signal. Every daemon started is
 * remembered until it exits, so `killAllDaemons()` in an `after` hook leaves nothing running.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CLI_PATH, REPO_ROOT } from './cli.js';
import { childEnv } from './child-env.js';

const running = new Set<Daemon>();

/** SIGKILL every daemon still running. */
export async function killAllDaemons(): Promise<void> {
  await Promise.all([...running].map((d) => d.kill('SIGKILL')));
}

export class Daemon {
  readonly lines: Record<string, unknown>[] = [];
  stderr = '';
  exitCode: number | null = null;
  readonly exited: Promise<void>;
  private readonly waiters = new Set<() => void>();

  private constructor(readonly child: ChildProcessWithoutNullStreams, readonly args: string[]) {
    running.add(this);
    createInterface({ input: child.stdout }).on('line', (line) => {
      try { this.lines.push(JSON.parse(line) as Record<string, unknown>); } catch { /* human text: ignored */ }
      this.wake();
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => { this.stderr += s; this.wake(); });
    this.exited = new Promise((res) => child.on('close', (code) => { this.exitCode = code ?? 128; running.delete(this); this.wake(); res(); }));
  }

  /** Start `tidemark ...args` with exactly `env` over the test's environment (TIDEMARK_* dropped). */
  static start(args: string[], env: Record<string, string>): Daemon {
    const child = spawn(process.execPath, [CLI_PATH, ...args], { cwd: REPO_ROOT, env: childEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end();
    return new Daemon(child, args);
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  describe(): string {
    return `tidemark ${this.args.join(' ')} (pid ${this.child.pid})${this.exitCode !== null ? `, exited ${this.exitCode}` : ''}\nstderr:\n${this.stderr.slice(-3000)}`;
  }

  /** Wait until `check` returns a value (re-checked on every output); fails after `timeoutMs`. */
  waitUntil<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const tick = (): void => {
        let v: T | undefined;
        try { v = check(); } catch (err) { finish(); reject(err as Error); return; }
        if (v !== undefined) { finish(); resolve(v); return; }
        if (this.exitCode !== null) { finish(); reject(new Error(`${what}: the process exited first\n${this.describe()}`)); }
      };
      const timer = setTimeout(() => { finish(); reject(new Error(`${what}: not within ${timeoutMs} ms\n${this.describe()}`)); }, timeoutMs);
      const poll = setInterval(tick, 200);
      const finish = (): void => { clearTimeout(timer); clearInterval(poll); this.waiters.delete(tick); };
      this.waiters.add(tick);
      tick();
    });
  }

  /** The first stdout JSON line satisfying `pred`. */
  waitLine(pred: (l: Record<string, unknown>) => boolean, timeoutMs: number, what: string): Promise<Record<string, unknown>> {
    return this.waitUntil(() => this.lines.find(pred), timeoutMs, what);
  }

  /** Wait for a log line matching `re` on stderr, from character `from` on. */
  waitLog(re: RegExp, timeoutMs: number, from = 0): Promise<string> {
    return this.waitUntil(() => re.exec(this.stderr.slice(from))?.[0], timeoutMs, `log ${re}`);
  }

  /** The port of the `{"event":"listening"}` line. */
  async port(): Promise<number> {
    const l = await this.waitLine((x) => x.event === 'listening', 20_000, 'listening');
    return l.port as number;
  }

  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.exitCode !== null) return;
    this.child.kill(signal);
    await this.exited;
  }
}
