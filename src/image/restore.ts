/**
 * Writes a group's tree (or a subtree) as of a point under a target directory.
 *
 * Safety: every name from the vault passes `isSafeName`; directories are created by us
 * and checked with lstat before use; files are opened O_EXCL|O_NOFOLLOW; only directories
 * are descended into, so a symlink in the tree (even one we restored) is never followed.
 * Nothing is written outside the target root, whatever the vault contains.
 */
import {
  lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, readdirSync, rmSync, symlinkSync, chmodSync, utimesSync, chownSync,
} from 'node:fs';
import { TidemarkError, isErrno, wrapIo } from '../common/errors.js';
import { displayPath, isSafeName, joinRel } from '../common/rel-path.js';
import type { Vault } from '../vault/vault.js';
import type { VersionRow } from '../vault/index/index-db.js';
import { EntryKind, type EntryState } from '../vault/journal/journal-record.js';
import type { ResolvedPoint } from './point.js';
import { childrenAtPoint, requireEntry } from './tree-reader.js';
import { RestorePool } from './restore-pool.js';
import { seconds } from './restore-times.js';

export { seconds } from './restore-times.js';

export interface RestoreOptions {
  /** restore this path of the group (its contents land directly in `target`) */
  subpath?: Buffer;
  /** allow a non-empty target: existing entries in the way are replaced */
  overwrite?: boolean;
  onProgress?: (p: RestoreStats) => void;
}

export interface RestoreStats {
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  bytes: number;
  warnings: string[];
  /** files that could not be restored because their data is damaged (left out of the target) */
  damaged: { path: string; error: string }[];
}

const isRoot = process.getuid?.() === 0;

/** Files being written at once: enough to keep the restore workers busy, bounded in memory. */
const MAX_IN_FLIGHT = 16;

class Restorer {
  readonly stats: RestoreStats = { files: 0, dirs: 0, symlinks: 0, hardlinks: 0, bytes: 0, warnings: [], damaged: [] };
  /** inode (as captured) → restored path and content, to recreate hard links */
  private readonly links = new Map<bigint, { abs: Buffer; e: EntryState; done: Promise<boolean> }>();
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown = undefined;
  private lastProgress = 0;

  constructor(private readonly vault: Vault, private readonly p: ResolvedPoint, private readonly opts: RestoreOptions, private readonly pool: RestorePool) {}

  private progress(): void {
    const now = Date.now();
    if (this.opts.onProgress && now - this.lastProgress > 200) { this.lastProgress = now; this.opts.onProgress(this.stats); }
  }

  /**
   * Make room for a new entry at `abs` (overwrite mode). Without --overwrite the target was
   * empty and every directory under it was made by this restore (mode 0700 until done), so
   * nothing is looked up: the calls that create entries (open O_EXCL|O_NOFOLLOW, mkdir,
   * symlink, link) fail on anything in the way by themselves. An lstat per entry, racing
   * the workers' creates in the same directories, cost a third of a restore's time.
   */
  private clear(abs: Buffer, wantDir: boolean): boolean {
    if (!this.opts.overwrite) return false;
    let st;
    try { st = lstatSync(abs); } catch (err) { if (isErrno(err, 'ENOENT')) return false; throw err; }
    if (wantDir && st.isDirectory()) return true;
    if (!this.opts.overwrite) throw new TidemarkError('TM_USAGE', `Cannot restore ${abs.toString()}: something is already there`, { hint: 'restore into an empty directory, or pass --overwrite' });
    rmSync(abs, { recursive: true, force: true });
    return false;
  }

  private child(dirAbs: Buffer, name: Buffer): Buffer {
    if (!isSafeName(name)) {
      throw new TidemarkError('TM_UNSAFE_PATH', `Refusing to restore an entry named ${JSON.stringify(displayPath(name))}: it could escape the target`, {
        hint: 'the vault holds a hostile or damaged name; run `tidemark verify`',
      });
    }
    return Buffer.concat([dirAbs, Buffer.from('/'), name]);
  }

  private async writeFile(abs: Buffer, e: EntryState): Promise<void> {
    const link = e.ino !== 0n ? this.links.get(e.ino) : undefined;
    if (link && link.e.size === e.size && link.e.extents.length === e.extents.length &&
        link.e.extents.every((x, i) => x.length === e.extents[i]!.length && (x.id === null ? e.extents[i]!.id === null : x.id.equals(e.extents[i]!.id ?? Buffer.alloc(0))))) {
      // Another name of a file being written: link once it is complete (if it could be).
      if (await link.done) {
        this.clear(abs, false);
        linkSync(link.abs, abs);
        this.stats.hardlinks++;
        this.stats.files++;
        return;
      }
    }
    this.clear(abs, false);
    let finished: (ok: boolean) => void = () => undefined;
    if (e.ino !== 0n) this.links.set(e.ino, { abs, e, done: new Promise<boolean>((res) => { finished = res; }) });
    let ok = false;
    try {
      const written = await this.pool.write(abs, e);
      this.stats.bytes += written;
      this.progress();
      ok = true;
    } finally {
      finished(ok);
    }
    this.stats.files++;
  }

  /** Damaged data costs only the files it belongs to: they are left out and listed. */
  private async writeFileOrRecordDamage(abs: Buffer, row: VersionRow): Promise<void> {
    try {
      await this.writeFile(abs, row.entry);
    } catch (err) {
      if (!(err instanceof TidemarkError) || err.code !== 'TM_CORRUPT') throw err;
      rmSync(abs, { force: true });
      this.stats.damaged.push({ path: displayPath(row.path), error: err.message });
    }
  }

  /**
   * Start writing a file, keeping at most MAX_IN_FLIGHT in flight: the restore workers
   * read, open and write files while this thread walks the tree.
   */
  private async spawn(abs: Buffer, row: VersionRow): Promise<void> {
    const task: Promise<void> = this.writeFileOrRecordDamage(abs, row).catch((err: unknown) => { this.failure ??= err; })
      .finally(() => { this.inFlight.delete(task); });
    this.inFlight.add(task);
    while (this.inFlight.size >= MAX_IN_FLIGHT) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure;
  }

  private async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure;
  }

  private writeSymlink(abs: Buffer, e: EntryState): void {
    this.clear(abs, false);
    symlinkSync(e.target ?? Buffer.alloc(0), abs);
    if (isRoot) lchownSync(abs, e.uid, e.gid);
    lutimesSync(abs, seconds(e.mtimeNs), seconds(e.mtimeNs));
    this.stats.symlinks++;
  }

  /** Restore the directory `row` into the (existing, real) directory `abs`. */
  async run(root: VersionRow, rootAbs: Buffer): Promise<void> {
    const finishDirs: { abs: Buffer; e: EntryState }[] = [{ abs: rootAbs, e: root.entry }];
    const stack: { path: Buffer; abs: Buffer }[] = [{ path: root.path, abs: rootAbs }];
    while (stack.length > 0) {
      const { path, abs } = stack.pop()!;
      for (const c of childrenAtPoint(this.vault, this.p, path)) {
        const cabs = this.child(abs, c.name);
        // The index is a cache anyone with write access could alter: a row whose path is
        // not its parent's path plus its name is refused, never followed.
        if (!c.path.equals(joinRel(path, c.name))) {
          throw new TidemarkError('TM_UNSAFE_PATH', `Refusing index entry ${JSON.stringify(displayPath(c.path))}: it is not ${JSON.stringify(displayPath(joinRel(path, c.name)))}`, {
            hint: 'the index was altered or damaged: run `tidemark index rebuild`',
          });
        }
        if (c.entry.kind === EntryKind.dir) {
          if (!this.clear(cabs, true)) mkdirSync(cabs, { mode: 0o700 });
          else if (!lstatSync(cabs).isDirectory()) throw new TidemarkError('TM_UNSAFE_PATH', `${cabs.toString()} is not a directory`);
          finishDirs.push({ abs: cabs, e: c.entry });
          stack.push({ path: c.path, abs: cabs });
          this.stats.dirs++;
        } else if (c.entry.kind === EntryKind.symlink) {
          this.writeSymlink(cabs, c.entry);
        } else if (c.entry.kind === EntryKind.file) {
          await this.spawn(cabs, c);
        }
      }
    }
    await this.settle();
    // Children first, so setting a directory's mtime and mode is the last touch it gets.
    for (let i = finishDirs.length - 1; i >= 0; i--) {
      const { abs, e } = finishDirs[i]!;
      if (isRoot) chownSync(abs, e.uid, e.gid);
      chmodSync(abs, e.mode);
      utimesSync(abs, seconds(e.mtimeNs), seconds(e.mtimeNs));
    }
  }

  async restoreEntry(row: VersionRow, target: Buffer): Promise<void> {
    if (row.entry.kind === EntryKind.dir) return this.run(row, target);
    const abs = this.child(target, row.name);
    if (row.entry.kind === EntryKind.file) await this.writeFileOrRecordDamage(abs, row);
    else if (row.entry.kind === EntryKind.symlink) this.writeSymlink(abs, row.entry);
  }
}

/** Restore the point `p` (or `opts.subpath` of it) under `target`. */
export async function restoreTree(vault: Vault, p: ResolvedPoint, target: string, opts: RestoreOptions = {}): Promise<RestoreStats> {
  const row = requireEntry(vault, p, opts.subpath ?? Buffer.alloc(0));
  try {
    mkdirSync(target, { recursive: true });
  } catch (err) {
    throw wrapIo(err, `Cannot create the restore target ${target}`);
  }
  if (!lstatSync(target).isDirectory()) throw new TidemarkError('TM_USAGE', `The restore target ${target} is not a directory`);
  if (!opts.overwrite && readdirSync(target).length > 0) {
    throw new TidemarkError('TM_USAGE', `The restore target ${target} is not empty`, { hint: 'restore into an empty or new directory, or pass --overwrite to replace what is in the way' });
  }
  const pool = new RestorePool(vault);
  const r = new Restorer(vault, p, opts, pool);
  try {
    await r.restoreEntry(row, Buffer.from(target));
  } catch (err) {
    throw wrapIo(err, `Restore into ${target} failed`);
  } finally {
    await pool.close();
  }
  return r.stats;
}
