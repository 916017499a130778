/**
 * Snapshots of a directory tree, precise enough to say "this restore is that tree":
 * type, permission bits, content hash, size, symlink target, mtime and hard-link groups
 * of every entry below a directory. Names are handled as raw bytes, so non-UTF-8 names
 * work.
 *
 * Keys are relative paths joined with "/". A name component that is valid UTF-8 is kept
 * as text; any other component is written `<hex:...>` with its bytes in hex.
 * The directory itself (the root) is not part of its snapshot: its mode and mtime belong
 * to whoever created it (e.g. the test, for a restore target).
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import assert from 'node:assert/strict';

export type EntryType = 'file' | 'dir' | 'symlink' | 'other';

export interface Entry {
  type: EntryType;
  /** Permission bits (`mode & 0o7777`); not recorded for symlinks (always 0o777 on Linux). */
  mode?: number;
  /** Files only: size in bytes. */
  size?: number;
  /** Files only: SHA-256 of the content, hex. */
  sha256?: string;
  /** Symlinks only: the target's bytes, hex. */
  target?: string;
  /** Files and dirs only: mtime in whole milliseconds since the epoch (floored). */
  mtimeMs?: number;
  /**
   * Files only, and only when several paths in the tree share this file's inode: all of
   * those paths (this one included), sorted. Undefined for a file with a single name.
   */
  links?: string[];
}

export type Snapshot = Map<string, Entry>;

const SLASH = Buffer.from('/');

/** Readable key for one name component (see module comment). */
export function nameToKey(name: Buffer): string {
  const text = name.toString('utf8');
  return Buffer.from(text, 'utf8').equals(name) ? text : `<hex:${name.toString('hex')}>`;
}

/** SHA-256 of a file's content, hex. */
export async function sha256File(file: string | Buffer): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Snapshot every entry below `dir` (not `dir` itself). */
export async function snapshotTree(dir: string | Buffer): Promise<Snapshot> {
  const snap: Snapshot = new Map();
  const inodes = new Map<string, string[]>();
  const root = Buffer.isBuffer(dir) ? dir : Buffer.from(dir);

  async function walk(abs: Buffer, rel: string): Promise<void> {
    const names = await fs.readdir(abs, { encoding: 'buffer' });
    names.sort(Buffer.compare);
    for (const name of names) {
      const childAbs = Buffer.concat([abs, SLASH, name]);
      const childRel = rel === '' ? nameToKey(name) : `${rel}/${nameToKey(name)}`;
      const st = await fs.lstat(childAbs, { bigint: true });
      const mode = Number(st.mode & 0o7777n);
      const mtimeMs = Number(st.mtimeNs / 1_000_000n);
      if (st.isFile()) {
        snap.set(childRel, { type: 'file', mode, size: Number(st.size), sha256: await sha256File(childAbs), mtimeMs });
        if (st.nlink > 1n) {
          const id = `${st.dev}:${st.ino}`;
          const group = inodes.get(id) ?? [];
          group.push(childRel);
          inodes.set(id, group);
        }
      } else if (st.isDirectory()) {
        snap.set(childRel, { type: 'dir', mode, mtimeMs });
        await walk(childAbs, childRel);
      } else if (st.isSymbolicLink()) {
        const target = await fs.readlink(childAbs, { encoding: 'buffer' });
        snap.set(childRel, { type: 'symlink', target: target.toString('hex') });
      } else {
        snap.set(childRel, { type: 'other', mode });
      }
    }
  }

  await walk(root, '');
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

/**
 * The part of a snapshot below `prefix` (a key of a directory), re-keyed relative to it,
 * as `snapshotTree` would see it if `prefix` were the root. Hard-link groups are cut down
 * to the paths inside the subtree.
 */
export function subtreeOf(snap: Snapshot, prefix: string): Snapshot {
  const dirEntry = snap.get(prefix);
  assert.ok(dirEntry && dirEntry.type === 'dir', `subtreeOf: ${JSON.stringify(prefix)} is not a directory of the snapshot`);
  const head = `${prefix}/`;
  const out: Snapshot = new Map();
  for (const [key, entry] of snap) {
    if (!key.startsWith(head)) continue;
    const copy: Entry = { ...entry };
    if (entry.links) {
      const inside = entry.links.filter((p) => p.startsWith(head)).map((p) => p.slice(head.length));
      if (inside.length > 1) copy.links = inside.sort();
      else delete copy.links;
    }
    out.set(key.slice(head.length), copy);
  }
  return out;
}

function hexToText(hex: string): string {
  return JSON.stringify(Buffer.from(hex, 'hex').toString('utf8'));
}

/** One-line description of an entry, for messages. */
export function describeEntry(e: Entry): string {
  const parts: string[] = [e.type];
  if (e.mode !== undefined) parts.push(`mode=0o${e.mode.toString(8)}`);
  if (e.size !== undefined) parts.push(`size=${e.size}`);
  if (e.sha256 !== undefined) parts.push(`sha256=${e.sha256.slice(0, 12)}…`);
  if (e.target !== undefined) parts.push(`target=${hexToText(e.target)}`);
  if (e.mtimeMs !== undefined) parts.push(`mtime=${new Date(e.mtimeMs).toISOString()}`);
  if (e.links !== undefined) parts.push(`links=[${e.links.map((p) => JSON.stringify(p)).join(', ')}]`);
  return parts.join(' ');
}

export interface CompareOptions {
  /**
   * Allowed |difference| of mtimes, in ms. Default 1: mtimes must round-trip at
   * millisecond precision (a float seconds/ms round trip may land 1 ms below).
   */
  mtimeToleranceMs?: number;
  /** Compare mtimes of directories (default true). */
  dirMtimes?: boolean;
  /** How many differences to show (default 25). */
  maxReported?: number;
}

/** All differences between two snapshots, readable, in path order. */
export function diffTrees(actual: Snapshot, expected: Snapshot, opts: CompareOptions = {}): string[] {
  const tol = opts.mtimeToleranceMs ?? 1;
  const dirMtimes = opts.dirMtimes ?? true;
  const keys = [...new Set([...actual.keys(), ...expected.keys()])].sort();
  const diffs: string[] = [];
  for (const key of keys) {
    const a = actual.get(key);
    const e = expected.get(key);
    const name = JSON.stringify(key);
    if (!a && e) { diffs.push(`missing: ${name} (expected ${describeEntry(e)})`); continue; }
    if (a && !e) { diffs.push(`unexpected: ${name} (${describeEntry(a)})`); continue; }
    if (!a || !e) continue;
    if (a.type !== e.type) {
      diffs.push(`${name}: expected ${describeEntry(e)}, got ${describeEntry(a)}`);
      continue;
    }
    const what: string[] = [];
    if (a.mode !== e.mode) what.push(`mode expected 0o${e.mode?.toString(8)}, got 0o${a.mode?.toString(8)}`);
    if (a.size !== e.size) what.push(`size expected ${e.size}, got ${a.size}`);
    else if (a.sha256 !== e.sha256) what.push(`content differs (sha256 expected ${e.sha256}, got ${a.sha256})`);
    if (a.target !== e.target) {
      what.push(`symlink target expected ${e.target === undefined ? '-' : hexToText(e.target)}, ` +
        `got ${a.target === undefined ? '-' : hexToText(a.target)}`);
    }
    if ((e.type !== 'dir' || dirMtimes) && e.mtimeMs !== undefined && a.mtimeMs !== undefined &&
        Math.abs(a.mtimeMs - e.mtimeMs) > tol) {
      what.push(`mtime expected ${new Date(e.mtimeMs).toISOString()}, got ${new Date(a.mtimeMs).toISOString()}`);
    }
    const al = a.links?.join('\n');
    const el = e.links?.join('\n');
    if (al !== el) {
      what.push(`hard links expected ${e.links ? `[${e.links.map((p) => JSON.stringify(p)).join(', ')}]` : 'none'}, ` +
        `got ${a.links ? `[${a.links.map((p) => JSON.stringify(p)).join(', ')}]` : 'none'}`);
    }
    if (what.length > 0) diffs.push(`${name}: ${what.join('; ')}`);
  }
  return diffs;
}

/** Fail with the first differences, readable, when the two trees are not the same. */
export function assertSameTree(actual: Snapshot, expected: Snapshot, opts: CompareOptions & { label?: string } = {}): void {
  const diffs = diffTrees(actual, expected, opts);
  if (diffs.length === 0) return;
  const max = opts.maxReported ?? 25;
  const shown = diffs.slice(0, max).map((d) => `  - ${d}`).join('\n');
  const more = diffs.length > max ? `\n  … and ${diffs.length - max} more` : '';
  assert.fail(`${opts.label ? `${opts.label}: ` : ''}trees differ in ${diffs.length} place(s) ` +
    `(actual ${actual.size} entries, expected ${expected.size}):\n${shown}${more}`);
}
