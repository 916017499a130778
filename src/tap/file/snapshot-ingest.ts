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
import { CommitEncoder } from '../../vault/journal/commit-codec.js';
import { ContentStore, idsKnown, type CapturedContent } from './content-store.js';
import type { LiveReads } from './live-reads.js';
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
  /**
   * Wall time (ms) for reading files below the large-file size: changed files beyond it are
   * left for the next capture (listed in `deferred`), so a capture's duration stays bounded
   * whatever arrives at once. At least one file is always read.
   */
  readBudgetMs?: number;
  /** absolute paths read whatever the budget (the live tap passes files it has deferred too often) */
  mustRead?: ReadonlySet<string>;
  /**
   * The live tap's read state: a file still changing after `tornAfterMs` of unstable reads
   * is recorded as torn (and stays queued), and large files are read a slice at a time,
   * for a bounded time per capture, whatever `readBudget` says.
   */
  live?: LiveReads;
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
  /** files recorded as torn: read while they kept changing (their record has the torn flag) */
  torn: string[];
  /** when the read of each torn file began (ms): the torn capture holds every write made before */
  tornReads: { path: string; readStartMs: number }[];
  /** changed files left for the next capture by `readBudget` */
  deferred: string[];
  /** directories recorded as renamed (a live watcher must re-watch them) */
  dirRenames: number;
  /** wall time of the capture's phases, ms: scanning, reading files, committing (sealing, pack and index writes) */
  ms: { scan: number; read: number; commit: number };
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

/** True when `st` is the file `h` recorded, cleanly (a torn capture is always read again). */
function sameFile(h: EntryState, st: BigIntStats): boolean {
  return h.kind === EntryKind.file && !h.torn && sameMeta(h, st) && h.size === Number(st.size) && h.ctimeNs === st.ctimeNs && BigInt.asIntN(64, h.ino) === BigInt.asIntN(64, st.ino);
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
    // The whole tree asks for nearly every head row: read them in one query.
    vault.index.memoHead(gid, opts.scopes === undefined);
    const t0 = Date.now();
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
    const t1 = Date.now();
    const unstable: string[] = [];
    const torn: string[] = [];
    const tornReads: { path: string; readStartMs: number }[] = [];
    let dirRenames = 0;
    let seq = vault.index.lastSeq(gid);
    let lastTime = vault.index.lastPoint(gid)?.time ?? 0;
    // Encoded as they are emitted: the capture of a large tree holds bytes, not objects.
    const records = new CommitEncoder(opts.group, seq + 1);
    let filesRead = 0;
    let bytesRead = 0;
    const warnings = [...scan.warnings];
    // One time for the whole capture: `--at TIME` then resolves to a whole capture, never
    // to part of one (a state that never existed).
    lastTime = Math.max(lastTime, now());
    const emit = (rec: RecordDraft): void => {
      const full = { ...rec, seq: ++seq, time: lastTime } as JournalRecord;
      vault.apply(gid, full);
      records.add(full);
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
    // children), then files; with a read budget smallest first (many small changes are not
    // held back behind one large file).
    const linkFirst = new Map<bigint, { rel: Buffer; extents: Extent[] }>();
    const deferred: string[] = [];
    // The live tap reads large files last, a slice per capture, least recently read first.
    const live = opts.live;
    const isLarge = (e: { st: BigIntStats }): boolean => live !== undefined && e.st.size >= BigInt(live.sliceMinBytes);
    const files = scan.entries.filter((e) => e.kind === EntryKind.file);
    // Without a budget (--once, a rescan), scan order: it mixes small files (work for this
    // thread: open, read, chunk, index) with large ones (work for the seal workers: hash,
    // compress, encrypt), so both keep busy instead of taking turns.
    const budgeted = opts.readBudget !== undefined || opts.readBudgetMs !== undefined;
    const small = files.filter((e) => !isLarge(e));
    if (budgeted) small.sort((a, b) => Number(a.st.size - b.st.size));
    const ordered = [
      ...scan.entries.filter((e) => e.kind !== EntryKind.file),
      ...small,
      ...(live ? live.order(files.filter(isLarge).map((e) => ({ ...e, abs: absPath(root, e.rel).toString() }))) : []),
    ];
    let sliceDeadline: number | undefined;
    let sliced = false;
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
          const key = abs.toString();
          const large = isLarge(e);
          if (!large) live?.drop(key);
          if (live?.resting(key)) { deferred.push(key); continue; }
          // Files deferred too often (mustRead) go over the budget, but not past three times
          // its time: a backlog never makes one capture (and every change behind it) wait long.
          const elapsed = Date.now() - t1;
          const overBudget = (opts.readBudget !== undefined && bytesRead > 0 && bytesRead + Number(e.st.size) > opts.readBudget) ||
            (opts.readBudgetMs !== undefined && filesRead > 0 && elapsed >= opts.readBudgetMs);
          const mustRead = opts.mustRead?.has(key) && !(opts.readBudgetMs !== undefined && filesRead > 0 && elapsed >= 3 * opts.readBudgetMs);
          if (!large && overBudget && !mustRead) {
            deferred.push(key);
            continue;
          }
          const onBytes = (n: number): void => { progress.bytesRead += n; };
          let got: CapturedContent;
          try {
            if (live && large) {
              // A bounded slice per capture: small changes never wait behind a large read.
              // The slice time, plus whatever the small files left of their read budget.
              sliceDeadline ??= Math.max(Date.now(), t1 + (opts.readBudgetMs ?? 0)) + live.sliceMs;
              const part = live.partial.get(key);
              // At least one read window per capture, however short the time.
              if (sliced && Date.now() >= sliceDeadline) { deferred.push(key); continue; }
              sliced = true;
              const res = store.captureSlice(abs, part, sliceDeadline, onBytes);
              if ('partial' in res) {
                live.partial.set(key, res.partial);
                bytesRead += res.bytesRead;
                deferred.push(key);
                continue;
              }
              live.finished(key);
              got = res.done;
            } else {
              got = store.capture(abs, onBytes, opts.deferUnstable ? 1 : undefined);
            }
          } catch (err) {
            live?.drop(key);
            live?.stable(key);
            const code = (err as NodeJS.ErrnoException).code;
            if (code === 'ENOENT' || code === 'ELOOP') continue; // replaced or removed while we looked
            if (code === 'EACCES' || code === 'EPERM') { warnings.push(`cannot read ${key}: ${(err as Error).message}`); continue; }
            throw err;
          }
          filesRead++;
          bytesRead += got.bytesRead;
          progress.files = filesRead;
          opts.onProgress?.(progress);
          let isTorn = false;
          if (got.unstable) {
            // Still changing: read again later; once it has kept changing for a bounded
            // time (live) or through every attempt (--once, the final capture), record this
            // read as torn, never as a state the file was in.
            if (live ? !live.unstable(key, got.startedMs) : opts.deferUnstable) { unstable.push(key); continue; }
            isTorn = true;
            torn.push(key);
            tornReads.push({ path: key, readStartMs: got.startedMs });
            if (!live) warnings.push(`${key} kept changing while it was read; recorded as torn (point-in-time reads skip it unless --include-torn)`);
          } else {
            live?.stable(key);
          }
          extents = got.extents;
          emitFile({ op: 'put', path: e.rel, entry: { ...metaOf(got.stat, EntryKind.file), size: Number(got.stat.size), extents, ...(isTorn ? { torn: true as const } : {}) } }, extents);
          // A torn read is no content for the file's other names: they are read on their own.
          if (isTorn) continue;
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
    const t2 = Date.now();
    vault.commit(opts.group, records);
    const ms = { scan: t1 - t0, read: t2 - t1, commit: Date.now() - t2 };
    return {
      group: opts.group, firstSeq: records.count > 0 ? records.firstSeq : null, lastSeq: seq, records: records.count,
      filesRead, bytesRead, bytesNew: store.bytesNew, entries: scan.entries.length, warnings, unstable, torn, tornReads, deferred, dirRenames, ms,
    };
  } catch (err) {
    vault.rollback();
    throw err;
  } finally {
    vault.index.forgetHead();
  }
}
