/**
 * Helpers for the fault-injection tests (crash, corruption, hostile vaults, locking):
 * a seeded PRNG, fast deterministic random bytes, a spawned CLI that can be killed,
 * listings of the vault's pack files and of whole directories, and a check that a CLI
 * failure is a message and not a crash.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { lstatSync, promises as fs, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { CLI_PATH, REPO_ROOT, describeCall, type RunResult } from './cli.js';
import { nameToKey, type Snapshot } from './tree.js';
import { childEnv } from './child-env.js';

/** mulberry32: a small, fast, seedable PRNG (uniform in [0, 1)). */
export class Prng {
  private s: number;

  constructor(readonly seed: number) {
    this.s = seed >>> 0;
  }

  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    assert.ok(items.length > 0, 'Prng.pick of an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** `n` bytes of incompressible, reproducible data (AES-128-CTR keystream seeded from the PRNG). */
  bytes(n: number): Buffer {
    const key = Buffer.alloc(16);
    const iv = Buffer.alloc(16);
    for (let i = 0; i < 16; i += 4) {
      key.writeUInt32LE(this.int(0, 0xffffffff), i);
      iv.writeUInt32LE(this.int(0, 0xffffffff), i);
    }
    const c = createCipheriv('aes-128-ctr', key, iv);
    return Buffer.concat([c.update(Buffer.alloc(n)), c.final()]);
  }
}

/** The seed for a test: $TIDEMARK_TEST_SEED when set (to replay a failure), else `fallback`. */
export function testSeed(fallback: number): number {
  const env = process.env.TIDEMARK_TEST_SEED;
  if (env && /^\d+$/.test(env)) return Number(env) >>> 0;
  return fallback >>> 0;
}

export interface Spawned {
  child: ChildProcess;
  /** Resolves when the process has exited (and been reaped), with what it printed. */
  done: Promise<RunResult>;
  /** ms since the epoch when it was spawned */
  started: number;
}

/** Spawn `node bin/tidemark.js ...args` without waiting for it (so it can be killed). */
export function spawnCli(args: string[], env: Record<string, string>): Spawned {
  const child = spawn(process.execPath, [CLI_PATH, ...args], { cwd: REPO_ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const started = Date.now();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (b: Buffer) => out.push(b));
  child.stderr!.on('data', (b: Buffer) => err.push(b));
  const done = new Promise<RunResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({ code: code ?? 128, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
  return { child, done, started };
}

/** Names (64 hex digits) of the pack files in a vault, and any leftover temporary files. */
export async function listPacks(vault: string): Promise<{ packs: string[]; temps: string[] }> {
  const packs: string[] = [];
  const temps: string[] = [];
  const root = path.join(vault, 'packs');
  for (const sub of await fs.readdir(root)) {
    let names: string[];
    try { names = await fs.readdir(path.join(root, sub)); } catch { continue; }
    for (const n of names) {
      if (/^[0-9a-f]{64}\.pack$/.test(n)) packs.push(n.slice(0, 64));
      else if (n.startsWith('.tmp-')) temps.push(n);
    }
  }
  return { packs: packs.sort(), temps: temps.sort() };
}

export function packPath(vault: string, name: string): string {
  return path.join(vault, 'packs', name.slice(0, 2), `${name}.pack`);
}

/**
 * Every entry below `dir` as "relpath<TAB>type<TAB>size<TAB>sha256-prefix" (symlinks with
 * their target), sorted; `skip` names relative paths whose subtrees are left out.
 * Symlinks are never followed.
 */
export async function fingerprintDir(dir: string, skip: readonly string[] = []): Promise<string[]> {
  const out: string[] = [];
  async function walk(abs: string, rel: string): Promise<void> {
    let names: string[];
    try { names = await fs.readdir(abs); } catch { return; }
    for (const name of names.sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (skip.includes(r)) continue;
      const a = path.join(abs, name);
      const st = await fs.lstat(a);
      if (st.isDirectory()) {
        out.push(`${r}\tdir\t${(st.mode & 0o7777).toString(8)}`);
        await walk(a, r);
      } else if (st.isSymbolicLink()) {
        out.push(`${r}\tsymlink\t${await fs.readlink(a)}`);
      } else if (st.isFile()) {
        const h = createHash('sha256').update(await fs.readFile(a)).digest('hex').slice(0, 16);
        out.push(`${r}\tfile\t${st.size}\t${h}\t${(st.mode & 0o7777).toString(8)}\tnlink=${st.nlink}`);
      } else {
        out.push(`${r}\tother`);
      }
    }
  }
  await walk(dir, '');
  return out;
}

/** A stack trace line as Node prints them. */
export const STACK_LINE = /^\s+at .+(:\d+:\d+\)?|\(native\)|<anonymous>\)?)$/m;

/** The process ended on its own (no signal) and printed no stack trace. */
export function assertNoCrash(res: RunResult, args: string[]): void {
  const call = describeCall(args);
  assert.equal(res.signal, null, `${call} was killed by ${res.signal}; stderr:\n${res.stderr}`);
  assert.doesNotMatch(res.stderr, STACK_LINE, `${call}: stderr must be a message, not a stack trace:\n${res.stderr}`);
  assert.ok(res.code !== 70, `${call} exited 70 (internal error):\n${res.stderr}`);
}

/** Parse `--json` stdout, failing with the output shown. */
export function parseJson<T>(res: RunResult, args: string[]): T {
  const text = res.stdout.toString('utf8');
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    assert.fail(`${describeCall(args)} printed invalid JSON (${(e as Error).message}), exit ${res.code}:\n${text.slice(0, 2000)}\nstderr:\n${res.stderr}`);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Pack files and temporary files in a vault right now (synchronous, for polling). */
export function listPacksSync(vault: string): { packs: string[]; temps: string[] } {
  const packs: string[] = [];
  const temps: string[] = [];
  const root = path.join(vault, 'packs');
  let subs: string[];
  try { subs = readdirSync(root); } catch { return { packs, temps }; }
  for (const sub of subs) {
    let names: string[];
    try { names = readdirSync(path.join(root, sub)); } catch { continue; }
    for (const n of names) {
      if (n.endsWith('.pack') && n.length === 69) packs.push(n.slice(0, 64));
      else if (n.startsWith('.tmp-')) temps.push(n);
    }
  }
  return { packs, temps };
}

/**
 * The same snapshot as `snapshotTree` (helpers/tree.ts), built with synchronous calls and
 * whole-file reads: several times faster on trees of thousands of small files.
 */
export function quickSnapshot(dir: string): Snapshot {
  const snap: Snapshot = new Map();
  const inodes = new Map<string, string[]>();
  const walk = (abs: Buffer, rel: string): void => {
    const names = readdirSync(abs, { encoding: 'buffer' });
    names.sort(Buffer.compare);
    for (const name of names) {
      const childAbs = Buffer.concat([abs, Buffer.from('/'), name]);
      const childRel = rel === '' ? nameToKey(name) : `${rel}/${nameToKey(name)}`;
      const st = lstatSync(childAbs, { bigint: true });
      const mode = Number(st.mode & 0o7777n);
      const mtimeMs = Number(st.mtimeNs / 1_000_000n);
      if (st.isFile()) {
        snap.set(childRel, { type: 'file', mode, size: Number(st.size), sha256: createHash('sha256').update(readFileSync(childAbs)).digest('hex'), mtimeMs });
        if (st.nlink > 1n) {
          const id = `${st.dev}:${st.ino}`;
          const group = inodes.get(id) ?? [];
          group.push(childRel);
          inodes.set(id, group);
        }
      } else if (st.isDirectory()) {
        snap.set(childRel, { type: 'dir', mode, mtimeMs });
        walk(childAbs, childRel);
      } else if (st.isSymbolicLink()) {
        snap.set(childRel, { type: 'symlink', target: readlinkSync(childAbs, { encoding: 'buffer' }).toString('hex') });
      } else {
        snap.set(childRel, { type: 'other', mode });
      }
    }
  };
  walk(Buffer.from(dir), '');
  for (const group of inodes.values()) {
    if (group.length < 2) continue;
    const sorted = [...group].sort();
    for (const p of group) {
      const e = snap.get(p);
      if (e) e.links = sorted;
    }
  }
  return snap;
}
