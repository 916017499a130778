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
  warnings: string[];
}

export interface ScanOptions {
  /** (dev, ino) pairs of directories never to descend into (the vault itself) */
  skipDirs?: { dev: bigint; ino: bigint }[];
  /** return true to leave a path (and everything below it) out */
  exclude?: (rel: Buffer, isDir: boolean) => boolean;
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

export function scanTree(root: Buffer, opts: ScanOptions = {}): ScanResult {
  const entries: ScannedEntry[] = [];
  const byPath = new Map<string, ScannedEntry>();
  const warnings: string[] = [];
  const rootSt = lstatSync(root, { bigint: true });
  const rootEntry: ScannedEntry = { rel: ROOT, kind: EntryKind.dir, st: rootSt };
  entries.push(rootEntry);
  byPath.set('', rootEntry);
  const stack: Buffer[] = [ROOT];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let names: Buffer[];
    try {
      names = readdirSync(absPath(root, dir), { encoding: 'buffer' });
    } catch (err) {
      warnings.push(`cannot read directory ${absPath(root, dir).toString()}: ${(err as Error).message}`);
      continue;
    }
    names.sort(Buffer.compare);
    const subdirs: Buffer[] = [];
    for (const name of names) {
      const rel = joinRel(dir, name);
      let st: BigIntStats;
      try {
        st = lstatSync(absPath(root, rel), { bigint: true });
      } catch (err) {
        // Vanished between readdir and lstat: it is simply not part of this state.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') warnings.push(`cannot stat ${absPath(root, rel).toString()}: ${(err as Error).message}`);
        continue;
      }
      const kind = kindOf(st);
      if (kind === null) continue;
      if (kind === EntryKind.dir && opts.skipDirs?.some((s) => s.dev === st.dev && s.ino === st.ino)) continue;
      if (opts.exclude?.(rel, kind === EntryKind.dir)) continue;
      const e: ScannedEntry = { rel, kind, st };
      entries.push(e);
      byPath.set(rel.toString('latin1'), e);
      if (kind === EntryKind.dir) subdirs.push(rel);
    }
    // Depth-first, in name order: push in reverse so the smallest name is visited first.
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
  }
  return { entries, byPath, warnings };
}
