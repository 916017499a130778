/**
 * Helpers to drive the real `tidemark` CLI as a child process, the way a user would.
 *
 * Every call spawns `node bin/tidemark.js ...` from the repository root. Inherited
 * TIDEMARK_* variables are dropped so that the developer's own environment can never
 * leak into a test; each vault made by `makeVault` carries its own TIDEMARK_VAULT and
 * TIDEMARK_PASSPHRASE.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { childEnv } from './child-env.js';

/** dist/test/helpers/cli.js is three levels below the repository root. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/**
 * The entry script run by every test: bin/tidemark.js, unless TIDEMARK_E2E_CLI names another
 * one (e.g. to run the suite against an installed build).
 */
export const CLI_PATH = process.env.TIDEMARK_E2E_CLI
  ? path.resolve(process.env.TIDEMARK_E2E_CLI)
  : path.join(REPO_ROOT, 'bin', 'tidemark.js');

/** Default per-call limit, so that a hung CLI fails one test instead of the whole run. */
export const DEFAULT_CLI_TIMEOUT_MS = 120_000;

export interface RunOptions {
  /** Extra variables; a value of `undefined` removes the variable from the child's environment. */
  env?: Record<string, string | undefined>;
  /** Written to the child's stdin, which is then closed (stdin is always closed). */
  input?: string | Buffer;
  cwd?: string;
  timeoutMs?: number;
}

export interface RunResult {
  code: number;
  stdout: Buffer;
  stderr: string;
  /** Set when the child was killed by a signal (including our timeout). */
  signal: NodeJS.Signals | null;
}

/** Run `node bin/tidemark.js ...args`; never rejects for a non-zero exit. */
export function runCli(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const env = childEnv();
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const timeoutMs = opts.timeoutMs ?? DEFAULT_CLI_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, ...args], {
      cwd: opts.cwd ?? REPO_ROOT,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      let stderr = Buffer.concat(err).toString('utf8');
      if (timedOut) stderr += `\n[test harness] tidemark ${args.join(' ')} killed after ${timeoutMs} ms`;
      resolve({ code: code ?? 128, stdout: Buffer.concat(out), stderr, signal });
    });
    // The CLI must never wait for interactive input: stdin is always closed.
    child.stdin.on('error', () => { /* child may exit before reading stdin */ });
    child.stdin.end(opts.input ?? '');
  });
}

/** A readable one-line rendering of a command for failure messages. */
export function describeCall(args: string[]): string {
  return 'tidemark ' + args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

/**
 * Run with `--json` appended, assert exit code 0 (showing stderr on failure) and parse
 * stdout as JSON.
 */
export async function tidemarkJson<T = unknown>(args: string[], opts: RunOptions = {}): Promise<T> {
  const full = [...args, '--json'];
  const res = await runCli(full, opts);
  if (res.code !== 0) {
    assert.fail(`${describeCall(full)} exited with ${res.code}${res.signal ? ` (${res.signal})` : ''}\n` +
      `stderr:\n${res.stderr}\nstdout:\n${res.stdout.toString('utf8').slice(0, 2000)}`);
  }
  const text = res.stdout.toString('utf8');
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    assert.fail(`${describeCall(full)} printed invalid JSON on stdout (${(e as Error).message}):\n` +
      `${text.slice(0, 2000)}\nstderr:\n${res.stderr}`);
  }
}

/** Assert a successful (exit 0) non-JSON run and return it. */
export function assertOk(res: RunResult, args: string[]): RunResult {
  if (res.code !== 0) {
    assert.fail(`${describeCall(args)} exited with ${res.code}${res.signal ? ` (${res.signal})` : ''}\n` +
      `stderr:\n${res.stderr}`);
  }
  return res;
}

/** Output of `tidemark init --json`. */
export interface InitJson {
  vault: string;
  id: string;
}

export interface TestVault {
  /** A private temp directory holding the vault and anything else the test needs. */
  root: string;
  /** The vault directory (root/vault). */
  vault: string;
  passphrase: string;
  /** TIDEMARK_VAULT and TIDEMARK_PASSPHRASE for this vault. */
  env: Record<string, string>;
  /** What `init --json` printed. */
  init: InitJson;
  /** runCli with this vault's environment (opts.env is merged over it). */
  run(args: string[], opts?: RunOptions): Promise<RunResult>;
  /** tidemarkJson with this vault's environment. */
  json<T = unknown>(args: string[], opts?: RunOptions): Promise<T>;
  /** A fresh, empty directory under root (for sources and restore targets). */
  tempDir(prefix: string): Promise<string>;
  cleanup(): Promise<void>;
}

/**
 * Create a temp directory under os.tmpdir() and `tidemark init` a vault at `<tmp>/vault`
 * (a path that does not exist yet; its parent does).
 */
export async function makeVault(): Promise<TestVault> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'tidemark-e2e-'));
  const vault = path.join(root, 'vault');
  const passphrase = `test-passphrase-${randomBytes(6).toString('hex')}`;
  const env = { TIDEMARK_VAULT: vault, TIDEMARK_PASSPHRASE: passphrase };
  const merge = (opts: RunOptions = {}): RunOptions => ({ ...opts, env: { ...env, ...(opts.env ?? {}) } });
  let dirCount = 0;
  const tv: Omit<TestVault, 'init'> = {
    root,
    vault,
    passphrase,
    env,
    run: (args, opts) => runCli(args, merge(opts)),
    json: <T = unknown>(args: string[], opts?: RunOptions) => tidemarkJson<T>(args, merge(opts)),
    tempDir: async (prefix: string) => {
      const dir = path.join(root, `${prefix}-${++dirCount}`);
      await fs.mkdir(dir);
      return dir;
    },
    cleanup: () => fs.rm(root, { recursive: true, force: true }),
  };
  try {
    const init = await tv.json<InitJson>(['init']);
    assert.equal(typeof init.vault, 'string', 'init --json: "vault" must be a string');
    assert.equal(typeof init.id, 'string', 'init --json: "id" must be a string');
    assert.ok(init.id.length > 0, 'init --json: "id" must not be empty');
    assert.equal(path.resolve(init.vault), vault, 'init --json: "vault" must be the vault directory');
    return { ...tv, init };
  } catch (e) {
    await tv.cleanup();
    throw e;
  }
}
