/**
 * Walks a source tree with byte-string names (lstat only; symlinks are never followed)
 * and returns its entries parents-first. Special files (sockets, FIFOs, devices) and the
 * vault's own directory are skipped; unreadable directories are reported, not fatal.
 */
import { lstatSync, readdirSync, type BigIntStats } from 'node:fs';
import { EntryKind, type EntryKindCode } from '../../vault/journal/journal-record.js';
import { joinRel, ROOT } from '../../common/rel-path.js';

export interface ScannedEntry {
  rel: Buffer;
  kind: EntryKindCode;
  st: BigIntStats;
}

export interface ScanResult {
  entries: ScannedEntry[];
  /** latin1 key of rel → entry */
  byPath: Map<string, ScannedEntry>;
  /** directories whose full listing was read: a head child missing from it is gone */
  listedDirs: Buffer[];
  warnings: string[];
}

/** A part of the tree to look at: one directory, with or without everything below it. */
export interface ScanScope {
  rel: Buffer;
  recursive: boolean;
}

export interface ScanOptions {
  /** (dev, ino) pairs of directories never to descend into (the vault itself) */
  skipDirs?: { dev: bigint; ino: bigint }[];
  /** return true to leave a path (and everything below it) out */
  exclude?: (rel: Buffer, isDir: boolean) => boolean;
  /** in a shallow scope, descend into a directory anyway when this says it is new */
  isNewDir?: (rel: Buffer) => boolean;
}

export function kindOf(st: BigIntStats): EntryKindCode | null {
  if (st.isFile()) return EntryKind.file;
  if (st.isDirectory()) return EntryKind.dir;
  if (st.isSymbolicLink()) return EntryKind.symlink;
  return null;
}

/** Absolute Buffer path of `rel` below `root`. */
export function absPath(root: Buffer, rel: Buffer): Buffer {
  return rel.length === 0 ? root : Buffer.concat([root, Buffer.from('/'), rel]);
}

function statRel(root: Buffer, rel: Buffer, warnings: string[]): BigIntStats | null {
  try {
    return lstatSync(absPath(root, rel), { bigint: true });
  } catch (err) {
    // Vanished between readdir and lstat: it is simply not part of this state.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') warnings.push(`cannot stat ${absPath(root, rel).toString()}: ${(err as Error).message}`);
    return null;
  }
}

/**
 * Scan the given scopes of the tree under `root` (default: all of it). Entries come
 * parents first; each scope's directory is itself an entry (when it still exists).
 */
export function scanTree(root: Buffer, opts: ScanOptions = {}, scopes: ScanScope[] = [{ rel: ROOT, recursive: true }]): ScanResult {
  const entries: ScannedEntry[] = [];
  const byPath = new Map<string, ScannedEntry>();
  const listedDirs: Buffer[] = [];
  const warnings: string[] = [];
  const add = (e: ScannedEntry): boolean => {
    const key = e.rel.toString('latin1');
    if (byPath.has(key)) return false;
    entries.push(e);
    byPath.set(key, e);
    return true;
  };
  const ordered = [...scopes].sort((a, b) => Buffer.compare(a.rel, b.rel));
  for (const scope of ordered) {
    const st = statRel(root, scope.rel, warnings);
    if (scope.rel.length === 0 && (!st || !st.isDirectory())) {
      throw new Error(`${root.toString()} is not a directory`);
    }
    if (!st || !st.isDirectory()) continue;
    if (scope.rel.length > 0 && opts.exclude?.(scope.rel, true)) continue;
    add({ rel: scope.rel, kind: EntryKind.dir, st });
    const stack: { dir: Buffer; deep: boolean }[] = [{ dir: scope.rel, deep: true }];
    while (stack.length > 0) {
      const { dir } = stack.pop()!;
      let names: Buffer[];
      try {
        names = readdirSync(absPath(root, dir), { encoding: 'buffer' });
      } catch (err) {
        warnings.push(`cannot read directory ${absPath(root, dir).toString()}: ${(err as Error).message}`);
        continue;
      }
      listedDirs.push(dir);
      names.sort(Buffer.compare);
      const subdirs: Buffer[] = [];
      for (const name of names) {
        const rel = joinRel(dir, name);
        const est = statRel(root, rel, warnings);
        if (!est) continue;
        const kind = kindOf(est);
        if (kind === null) continue;
        if (kind === EntryKind.dir && opts.skipDirs?.some((x) => x.dev === est.dev && x.ino === est.ino)) continue;
        if (opts.exclude?.(rel, kind === EntryKind.dir)) continue;
        const fresh = add({ rel, kind, st: est });
        if (kind === EntryKind.dir && fresh && (scope.recursive || opts.isNewDir?.(rel))) subdirs.push(rel);
      }
      // Depth-first, in name order: push in reverse so the smallest name is visited first.
      for (let i = subdirs.length - 1; i >= 0; i--) stack.push({ dir: subdirs[i]!, deep: true });
    }
  }
  return { entries, byPath, listedDirs, warnings };
}
