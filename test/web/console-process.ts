/**
 * Runs the real `tidemark console --listen 127.0.0.1:0 --json` as a child process and
 * waits for the line announcing its URL. Every child is killed by `stop()` (and by
 * `stopAllConsoles()` in an `after` hook, whatever failed).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { CLI_PATH, REPO_ROOT, type TestVault } from '../helpers/cli.js';
import { childEnv } from '../helpers/child-env.js';

const running = new Set<ConsoleProcess>();

export class ConsoleProcess {
  stderr = '';
  private constructor(readonly child: ChildProcessWithoutNullStreams, readonly url: string, readonly initialPasswordFile: string | null) {
    running.add(this);
  }

  /** Start a console on a free loopback port for the vault of `tv`. */
  static start(tv: TestVault, extra: string[] = [], timeoutMs = 30_000): Promise<ConsoleProcess> {
    const child = spawn(process.execPath, [CLI_PATH, 'console', '--listen', '127.0.0.1:0', '--json', ...extra], { cwd: REPO_ROOT, env: childEnv(tv.env) });
    return new Promise((resolve, reject) => {
      let out = '';
      let err = '';
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`console did not start in ${timeoutMs} ms; stderr:\n${err}`)); }, timeoutMs);
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (s: string) => { err += s; });
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (s: string) => {
        out += s;
        const nl = out.indexOf('\n');
        if (nl < 0) return;
        clearTimeout(timer);
        const line = JSON.parse(out.slice(0, nl)) as { url: string; initialPasswordFile: string | null };
        const c = new ConsoleProcess(child, line.url, line.initialPasswordFile);
        child.stderr.on('data', (x: string) => { c.stderr += x; });
        c.stderr = err;
        resolve(c);
      });
      child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`console exited with ${code} before listening; stderr:\n${err}`)); });
    });
  }

  /** SIGTERM, then SIGKILL after 5 s; resolves with the exit code. */
  stop(): Promise<number | null> {
    running.delete(this);
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve(this.child.exitCode);
    return new Promise((resolve) => {
      const kill = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      this.child.once('exit', (code) => { clearTimeout(kill); resolve(code); });
      this.child.kill('SIGTERM');
    });
  }
}

export async function stopAllConsoles(): Promise<void> {
  await Promise.all([...running].map((c) => c.stop()));
}
