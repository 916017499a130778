/**
 * The benchmark's built-in deterministic mutation ("a day's changes"), used when no
 * --mutate-script is given. It touches about PERCENT % of the tree's bytes:
 *   50%  in-place overwrites of 4-256 KiB regions in the middle of large files (>= 4 MiB)
 *   20%  appends of generated log/CSV text to .log/.csv files
 *   25%  new files (random blobs and logs) under incoming/day-SEED/
 *    5%  deletions of small files (< 1 MiB)
 *   plus renames of ~1% of the remaining files and of one directory (metadata only).
 * Same tree + same PERCENT + same SEED => same result. Random data comes from an
 * AES-256-CTR keystream keyed by the seed, positions from a seeded PRNG, and files are
 * always considered in sorted path order.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { dirname, basename, join } from 'node:path';

export interface MutationSummary {
  totalBytes: number;
  overwritten: number;
  appended: number;
  created: number;
  createdFiles: number;
  deleted: number;
  deletedFiles: number;
  renamedFiles: number;
  renamedDir: string;
  changedBytes: number;
}

/** mulberry32: small, fast, seeded 32-bit PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Deterministic incompressible bytes for (seed, label). */
function randomBytes(seed: number, label: string, n: number): Buffer {
  const key = createHash('sha256').update(`tidemark-bench:${seed}:${label}`).digest();
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(n));
}

const LEVELS = ['INFO', 'INFO', 'INFO', 'DEBUG', 'WARN', 'ERROR'];
const SERVICES = ['api', 'worker', 'auth', 'billing', 'search', 'cron'];
const PATHS = ['/v1/orders', '/v1/users', '/healthz', '/v2/search', '/v1/invoices', '/login'];

/** Deterministic log-like (or CSV-like) text of exactly n bytes. */
function text(rand: () => number, n: number, csv: boolean): Buffer {
  const parts: string[] = [];
  let len = 0;
  let t = Date.UTC(2024, 5, 1) + Math.floor(rand() * 86_400_000);
  const pick = <T>(a: T[]): T => a[Math.floor(rand() * a.length)];
  while (len < n) {
    t += Math.floor(rand() * 2000);
    const line = csv
      ? `${Math.floor(rand() * 1e9)},${new Date(t).toISOString()},${pick(SERVICES)},${(rand() * 1000).toFixed(2)},${Math.floor(rand() * 50)},EUR\n`
      : `${new Date(t).toISOString()} ${pick(LEVELS)} ${pick(SERVICES)}[${1000 + Math.floor(rand() * 9000)}]: ${pick(['GET', 'POST', 'PUT'])} ${pick(PATHS)} status=${pick([200, 200, 200, 201, 404, 500])} latency_ms=${Math.floor(rand() * 900)} req=${Math.floor(rand() * 0xffffffff).toString(16)}\n`;
    parts.push(line);
    len += line.length;
  }
  return Buffer.from(parts.join('')).subarray(0, n);
}

interface FileInfo { path: string; size: number }

async function listFiles(root: string): Promise<FileInfo[]> {
  const out: FileInfo[] = [];
  const stack = [''];
  while (stack.length > 0) {
    const rel = stack.pop() as string;
    for (const d of await fs.readdir(join(root, rel), { withFileTypes: true })) {
      const r = rel === '' ? d.name : `${rel}/${d.name}`;
      if (d.isDirectory()) stack.push(r);
      else if (d.isFile()) out.push({ path: r, size: (await fs.stat(join(root, r))).size });
    }
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

async function writeAt(file: string, data: Buffer, position: number): Promise<void> {
  const fh = await fs.open(file, 'r+');
  try { await fh.write(data, 0, data.length, position); } finally { await fh.close(); }
}

const isText = (p: string): boolean => /\.(log|csv|txt)(\.[0-9]+)?$/.test(p);
const KiB = 1024;
const MiB = 1024 * 1024;

export async function mutateBuiltin(root: string, percent: number, seed: number): Promise<MutationSummary> {
  const rand = prng(seed * 7919 + 17);
  const range = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  const files = await listFiles(root);
  const totalBytes = files.reduce((s, f) => s + f.size, 0);
  const budget = Math.floor((totalBytes * percent) / 100);
  let ops = 0;

  // 1. in-place overwrites in the middle of large files
  const large = files.filter((f) => f.size >= 4 * MiB);
  let overwritten = 0;
  for (let left = Math.floor(budget * 0.5), tries = 0; left > 0 && large.length > 0 && tries < 100_000; tries++) {
    const f = large[range(0, large.length - 1)];
    const len = Math.min(range(4 * KiB, 256 * KiB), left);
    const lo = Math.floor(f.size / 10);
    const hi = Math.floor((f.size * 9) / 10) - len;
    if (hi <= lo) continue;
    const data = isText(f.path) ? text(rand, len, f.path.endsWith('.csv')) : randomBytes(seed, `ow:${ops}`, len);
    await writeAt(join(root, f.path), data, range(lo, hi));
    overwritten += len; left -= len; ops++;
  }

  // 2. appends to logs and CSV tables
  const appendable = files.filter((f) => /\.(log|csv)$/.test(f.path));
  let appended = 0;
  for (let left = Math.floor(budget * 0.2); left > 0 && appendable.length > 0;) {
    const f = appendable[range(0, appendable.length - 1)];
    const len = Math.min(range(64 * KiB, 2 * MiB), left);
    await fs.appendFile(join(root, f.path), text(rand, len, f.path.endsWith('.csv')));
    appended += len; left -= len; ops++;
  }

  // 3. new files
  const newDir = join(root, 'incoming', `day-${seed}`);
  await fs.mkdir(newDir, { recursive: true });
  let created = 0;
  let createdFiles = 0;
  for (let left = Math.floor(budget * 0.25); left > 0;) {
    const len = Math.min(range(4 * KiB, 4 * MiB), left);
    const n = String(createdFiles).padStart(4, '0');
    if (rand() < 0.5) await fs.writeFile(join(newDir, `upload-${n}.bin`), randomBytes(seed, `new:${n}`, len));
    else await fs.writeFile(join(newDir, `service-${n}.log`), text(rand, len, false));
    created += len; left -= len; createdFiles++; ops++;
  }

  // 4. deletions of small files
  const small = files.filter((f) => f.size < MiB);
  const gone = new Set<string>();
  let deleted = 0;
  for (let left = Math.floor(budget * 0.05), tries = 0; left > 0 && small.length > 0 && tries < 100_000; tries++) {
    const f = small[range(0, small.length - 1)];
    if (gone.has(f.path)) continue;
    await fs.rm(join(root, f.path));
    gone.add(f.path);
    deleted += f.size; left -= f.size;
  }

  // 5. renames: ~1% of the remaining files, then one directory at depth 2
  const remaining = (await listFiles(root)).map((f) => f.path);
  const renamedSet = new Set<string>();
  for (let i = 0, n = Math.floor(remaining.length / 100) + 1; i < n; i++) {
    const p = remaining[range(0, remaining.length - 1)];
    if (renamedSet.has(p)) continue;
    await fs.rename(join(root, p), join(root, dirname(p), `renamed-${seed}-${basename(p)}`));
    renamedSet.add(p);
  }
  const dirs = [...new Set(remaining.filter((p) => p.split('/').length >= 3).map((p) => p.split('/').slice(0, 2).join('/')))].sort();
  let renamedDir = '-';
  if (dirs.length > 0) {
    const d = dirs[range(0, dirs.length - 1)];
    await fs.rename(join(root, d), join(root, `${d}.moved-${seed}`));
    renamedDir = d;
  }

  return {
    totalBytes, overwritten, appended, created, createdFiles, deleted, deletedFiles: gone.size,
    renamedFiles: renamedSet.size, renamedDir,
    changedBytes: overwritten + appended + created + deleted,
  };
}
