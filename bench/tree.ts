/**
 * Tree statistics and content snapshots for the benchmark: every entry below a directory
 * with its type, permission bits, size, SHA-256 (files) and target (symlinks), so that a
 * restore can be checked against the tree that was backed up. Modification times are
 * compared separately and only reported (not every tool restores them the same way).
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';

export interface TreeEntry {
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  size: number;
  mtimeMs: number;
  sha256?: string;
  target?: string;
}

export type TreeSnapshot = Map<string, TreeEntry>;

export interface TreeStats { files: number; dirs: number; symlinks: number; bytes: number }

/** Walk below `root` (not `root` itself), calling `visit` with the relative path and lstat. */
async function walk(root: string, visit: (rel: string, abs: string, st: import('node:fs').Stats) => Promise<void> | void): Promise<void> {
  const stack: string[] = [''];
  while (stack.length > 0) {
    const rel = stack.pop() as string;
    const names = (await fs.readdir(join(root, rel))).sort();
    for (const name of names) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const abs = join(root, r);
      const st = await fs.lstat(abs);
      await visit(r, abs, st);
      if (st.isDirectory()) stack.push(r);
    }
  }
}

export async function treeStats(root: string): Promise<TreeStats> {
  const s: TreeStats = { files: 0, dirs: 0, symlinks: 0, bytes: 0 };
  await walk(root, (_rel, _abs, st) => {
    if (st.isFile()) { s.files++; s.bytes += st.size; }
    else if (st.isDirectory()) s.dirs++;
    else if (st.isSymbolicLink()) s.symlinks++;
  });
  return s;
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(file, { highWaterMark: 1 << 20 }), h);
  return h.digest('hex');
}

/** Snapshot every entry below `root`, hashing files with a few reads in flight. */
export async function snapshotTree(root: string): Promise<TreeSnapshot> {
  const snap: TreeSnapshot = new Map();
  const toHash: { rel: string; abs: string; e: TreeEntry }[] = [];
  await walk(root, async (rel, abs, st) => {
    const e: TreeEntry = {
      type: st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other',
      mode: st.mode & 0o7777,
      size: st.isFile() ? st.size : 0,
      mtimeMs: Math.floor(st.mtimeMs),
    };
    if (e.type === 'symlink') e.target = await fs.readlink(abs);
    if (e.type === 'file') toHash.push({ rel, abs, e });
    snap.set(rel, e);
  });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < toHash.length) {
      const item = toHash[next++];
      item.e.sha256 = await sha256File(item.abs);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  return snap;
}

export interface TreeDiff {
  /** Content/structure differences: missing, extra, type, mode, size, content, symlink target. */
  problems: string[];
  /** Files and directories whose mtime differs (informational). */
  mtimeDiffers: number;
}

export function compareSnapshots(expected: TreeSnapshot, actual: TreeSnapshot): TreeDiff {
  const problems: string[] = [];
  let mtimeDiffers = 0;
  for (const [path, e] of expected) {
    const a = actual.get(path);
    if (!a) { problems.push(`missing: ${path}`); continue; }
    if (a.type !== e.type) { problems.push(`type: ${path}: ${a.type}, expected ${e.type}`); continue; }
    if (e.type !== 'symlink' && a.mode !== e.mode) problems.push(`mode: ${path}: ${a.mode.toString(8)}, expected ${e.mode.toString(8)}`);
    if (e.type === 'file') {
      if (a.size !== e.size) problems.push(`size: ${path}: ${a.size}, expected ${e.size}`);
      else if (a.sha256 !== e.sha256) problems.push(`content: ${path}`);
    }
    if (e.type === 'symlink' && a.target !== e.target) problems.push(`symlink target: ${path}: ${a.target}, expected ${e.target}`);
    if ((e.type === 'file' || e.type === 'dir') && a.mtimeMs !== e.mtimeMs) mtimeDiffers++;
  }
  for (const path of actual.keys()) if (!expected.has(path)) problems.push(`extra: ${path}`);
  return { problems, mtimeDiffers };
}
