/**
 * Records the current state of a source tree into a group's journal (`protect --once`,
 * and the rescan of the live tap). Compares the tree with the group's head in the index:
 * renames (matched by inode) become rename records, changed entries put records, vanished
 * ones delete records (one per deleted tree). Only files whose size, mtime, ctime or inode
 * changed are read.
 */
import { readlinkSync, statSync, type BigIntStats } from 'node:fs';
import { TidemarkError } from '../../common/errors.js';
import { isUnder, parentOf, ROOT } from '../../common/rel-path.js';
import type { Vault } from '../../vault/vault.js';
import type { VersionRow } from '../../vault/index/index-db.js';
import { EntryKind, type EntryState, type Extent, type JournalRecord, type RecordDraft } from '../../vault/journal/journal-record.js';
import { ContentStore, idsKnown } from './content-store.js';
import { absPath, scanTree, type ScanScope } from './tree-scan.js';
import { lstatSync } from 'node:fs';

export interface IngestProgress {
  phase: 'scan' | 'read' | 'commit';
  files: number;
  bytesRead: number;
  entries: number;
}

export interface IngestOptions {
  source: string;
  group: string;
  exclude?: (rel: Buffer, isDir: boolean) => boolean;
  onProgress?: (p: IngestProgress) => void;
  /** capture clock (ms since epoch) */
  now?: () => number;
  /** look only at these parts of the tree (default: all of it) */
  scopes?: ScanScope[];
  /** leave files that keep changing while read out of this capture (the live tap retries them) */
  deferUnstable?: boolean;
  /**
   * Bytes of file content to read in this capture: changed files beyond it are left for the
   * next one (listed in `deferred`), so one capture never holds every other change back
   * for long. Files are read smallest first; at least one file is always read.
   */
  readBudget?: number;
  /** absolute paths read whatever the budget (the live tap passes files it has deferred too often) */
  mustRead?: ReadonlySet<string>;
}

export interface IngestResult {
  group: string;
  firstSeq: number | null;
  lastSeq: number;
  records: number;
  filesRead: number;
  bytesRead: number;
  bytesNew: number;
  entries: number;
  warnings: string[];
  /** files left out because they kept changing while read (with deferUnstable) */
  unstable: string[];
  /** changed files left for the next capture by `readBudget` */
  deferred: string[];
  /** directories recorded as renamed (a live watcher must re-watch them) */
  dirRenames: number;
}

function metaOf(st: BigIntStats, kind: EntryState['kind']): EntryState {
  return {
    kind, mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid), mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs,
    ino: st.ino, size: kind === EntryKind.file ? Number(st.size) : 0, extents: [], target: null, link: null,
  };
}

function sameMeta(h: EntryState, st: BigIntStats): boolean {
  return h.mode === Number(st.mode & 0o7777n) && h.uid === Number(st.uid) && h.gid === Number(st.gid) && h.mtimeNs === st.mtimeNs;
}

function sameFile(h: EntryState, st: BigIntStats): boolean {
  return h.kind === EntryKind.file && sameMeta(h, st) && h.size === Number(st.size) && h.ctimeNs === st.ctimeNs && BigInt.asIntN(64, h.ino) === BigInt.asIntN(64, st.ino);
}

/** Record the state of `opts.source` into `opts.group`. The vault must be open for writing. */
export function ingestOnce(vault: Vault, opts: IngestOptions): IngestResult {
  const root = Buffer.from(opts.source);
  const now = opts.now ?? Date.now;
  let vaultSt: BigIntStats | undefined;
  try { vaultSt = statSync(vault.dir, { bigint: true }); } catch { vaultSt = undefined; }
  const progress: IngestProgress = { phase: 'scan', files: 0, bytesRead: 0, entries: 0 };
  const store = new ContentStore(vault);
  vault.begin();
  try {
    const gid = vault.index.ensureGroup(opts.group);
    const scan = (() => {
      try {
        return scanTree(root, {
          skipDirs: vaultSt ? [{ dev: vaultSt.dev, ino: vaultSt.ino }] : [], exclude: opts.exclude,
          isNewDir: (rel) => vault.index.headAt(gid, rel)?.entry.kind !== EntryKind.dir,
        }, opts.scopes);
      } catch (err) {
        throw new TidemarkError('TM_USAGE', `Cannot read the source ${opts.source}: ${(err as Error).message}`, { cause: err });
      }
    })();
    progress.entries = scan.entries.length;
    opts.onProgress?.(progress);
    const unstable: string[] = [];
    let dirRenames = 0;
    let seq = vault.index.lastSeq(gid);
    let lastTime = vault.index.lastPoint(gid)?.time ?? 0;
    const records: JournalRecord[] = [];
    let filesRead = 0;
    let bytesRead = 0;
    const warnings = [...scan.warnings];
    // One time for the whole capture: `--at TIME` then resolves to a whole capture, never
    // to part of one (a state that never existed).
    lastTime = Math.max(lastTime, now());
    const emit = (rec: RecordDraft): void => {
      const full = { ...rec, seq: ++seq, time: lastTime } as JournalRecord;
      vault.apply(gid, full);
      records.push(full);
    };
    // A rename source must be gone: a path that still exists was replaced, not moved
    // (inode numbers are reused, so a matching inode alone proves nothing).
    const present = (rel: Buffer): boolean => {
      if (scan.byPath.has(rel.toString('latin1'))) return true;
      try { lstatSync(absPath(root, rel)); return true; } catch { return false; }
    };

    // A file's record waits here, in order, until the ids of its chunks (computed on the
    // vault's worker threads) are all known; then it is emitted.
    const queued: { rec: RecordDraft; extents: Extent[] }[] = [];
    let queuedHead = 0;
    const flushQueued = (wait: boolean): void => {
      for (;;) {
        while (queuedHead < queued.length && idsKnown(queued[queuedHead]!.extents)) emit(queued[queuedHead++]!.rec);
        if (queuedHead === queued.length) { queued.length = 0; queuedHead = 0; return; }
        if (!wait) return;
        vault.awaitChunkIds(true);
      }
    };
    const emitFile = (rec: RecordDraft, extents: Extent[]): void => {
      queued.push({ rec, extents });
      flushQueued(false);
    };

    // A record's parent must be a directory in head first: put missing ancestors, top-down.
    const ensureParents = (rel: Buffer): void => {
      const missingDirs: Buffer[] = [];
      for (let up = parentOf(rel); up.length > 0; up = parentOf(up)) {
        if (vault.index.headAt(gid, up)?.entry.kind === EntryKind.dir) break;
        missingDirs.push(up);
      }
      // Records queued for chunk ids come first: seq order is the order of the loop below.
      if (missingDirs.length > 0) flushQueued(true);
      for (let i = missingDirs.length - 1; i >= 0; i--) {
        const d = missingDirs[i]!;
        const st = scan.byPath.get(d.toString('latin1'))?.st ?? (() => { try { return lstatSync(absPath(root, d), { bigint: true }); } catch { return undefined; } })();
        if (!st || !st.isDirectory()) return;
        emit({ op: 'put', path: d, entry: metaOf(st, EntryKind.dir) });
      }
    };

    // Renames first, parents before children: a moved directory carries its subtree along.
    for (const e of scan.entries) {
      if (e.rel.length === 0) continue;
      const h = vault.index.headAt(gid, e.rel);
      if (h && h.entry.kind === e.kind && BigInt.asIntN(64, h.entry.ino) === BigInt.asIntN(64, e.st.ino)) continue;
      const from = vault.index.headByIno(gid, e.st.ino).find((c: VersionRow) =>
        c.entry.kind === e.kind && !c.path.equals(e.rel) && !present(c.path) && !isUnder(e.rel, c.path) && c.path.length > 0 &&
        // A rename keeps a file's size and mtime; a new file that reused the inode does not.
        (e.kind !== EntryKind.file || (c.entry.size === Number(e.st.size) && c.entry.mtimeNs === e.st.mtimeNs)));
      if (from) {
        ensureParents(e.rel);
        emit({ op: 'rename', path: e.rel, from: from.path });
        if (e.kind === EntryKind.dir) dirRenames++;
      }
    }

    // Then every new or changed entry: directories and links in scan order (parents before
    // children), then files, smallest first (with a read budget, many small changes are
    // not held back behind one large file).
    const linkFirst = new Map<bigint, { rel: Buffer; extents: Extent[] }>();
    const deferred: string[] = [];
    const ordered = [
      ...scan.entries.filter((e) => e.kind !== EntryKind.file),
      ...scan.entries.filter((e) => e.kind === EntryKind.file).sort((a, b) => Number(a.st.size - b.st.size)),
    ];
    for (const e of ordered) {
      const h = vault.index.headAt(gid, e.rel)?.entry;
      const abs = absPath(root, e.rel);
      if (e.rel.length > 0) ensureParents(e.rel);
      if (e.kind === EntryKind.dir) {
        if (!h || h.kind !== EntryKind.dir || !sameMeta(h, e.st)) emit({ op: 'put', path: e.rel, entry: metaOf(e.st, EntryKind.dir) });
      } else if (e.kind === EntryKind.symlink) {
        let target: Buffer;
        try { target = readlinkSync(abs, { encoding: 'buffer' }); } catch (err) { warnings.push(`cannot read link ${abs.toString()}: ${(err as Error).message}`); continue; }
        if (!h || h.kind !== EntryKind.symlink || !sameMeta(h, e.st) || !h.target?.equals(target)) {
          emit({ op: 'put', path: e.rel, entry: { ...metaOf(e.st, EntryKind.symlink), target } });
        }
      } else {
        const first = e.st.nlink > 1n ? linkFirst.get(e.st.ino) : undefined;
        if (first) {
          // A further name of an inode already captured in this run: a hard link.
          if (!h || !sameFile(h, e.st) || !h.link?.equals(first.rel)) {
            emitFile({ op: 'put', path: e.rel, entry: { ...metaOf(e.st, EntryKind.file), extents: first.extents, link: first.rel } }, first.extents);
          }
          continue;
        }
        let extents: Extent[];
        if (h && sameFile(h, e.st) && h.link === null) {
          extents = h.extents;
        } else {
          if (opts.readBudget !== undefined && bytesRead > 0 && bytesRead + Number(e.st.size) > opts.readBudget && !opts.mustRead?.has(abs.toString())) {
            deferred.push(abs.toString());
            continue;
          }
          let got;
          try {
            got = store.capture(abs, (n) => { progress.bytesRead += n; }, opts.deferUnstable ? 1 : undefined);
          } catch (err) {
            const code = (err as NodeJS.ErrnoException).code;
            if (code === 'ENOENT' || code === 'ELOOP') continue; // replaced or removed while we looked
            if (code === 'EACCES' || code === 'EPERM') { warnings.push(`cannot read ${abs.toString()}: ${(err as Error).message}`); continue; }
            throw err;
          }
          filesRead++;
          bytesRead += got.bytesRead;
          progress.files = filesRead;
          opts.onProgress?.(progress);
          if (got.unstable && opts.deferUnstable) { unstable.push(abs.toString()); continue; }
          if (got.unstable) warnings.push(`${abs.toString()} kept changing while it was read; recorded the last read`);
          extents = got.extents;
          emitFile({ op: 'put', path: e.rel, entry: { ...metaOf(got.stat, EntryKind.file), size: Number(got.stat.size), extents } }, extents);
        }
        if (e.st.nlink > 1n) linkFirst.set(e.st.ino, { rel: e.rel, extents });
      }
    }

    flushQueued(true);

    // Last, what vanished: one delete per topmost missing path.
    const missing: Buffer[] = [];
    for (const dir of scan.listedDirs) {
      for (const row of vault.index.headChildren(gid, dir)) if (!scan.byPath.has(row.path.toString('latin1'))) missing.push(row.path);
    }
    const gone = new Set(missing.map((p) => p.toString('latin1')));
    for (const p of missing) {
      let up = p;
      let covered = false;
      while (up.length > 0) {
        up = parentOf(up);
        if (up.length > 0 && gone.has(up.toString('latin1'))) { covered = true; break; }
      }
      if (!covered && !p.equals(ROOT)) emit({ op: 'delete', path: p });
    }

    progress.phase = 'commit';
    opts.onProgress?.(progress);
    vault.commit(opts.group, records);
    return {
      group: opts.group, firstSeq: records[0]?.seq ?? null, lastSeq: seq, records: records.length,
      filesRead, bytesRead, bytesNew: store.bytesNew, entries: scan.entries.length, warnings, unstable, deferred, dirRenames,
    };
  } catch (err) {
    vault.rollback();
    throw err;
  }
}
