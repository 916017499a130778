/**
 * `tidemark prune`: apply each group's retention policy to its journal, then collect the
 * garbage and repack (docs/FORMAT-retention.md, "Prune ordering"). The vault must be open
 * with the writer lock.
 *
 * Ordering (MUST): for each group, the compacted commit's pack is durable before the one
 * index transaction that names it, applies it (points and versions dropped, superseded
 * commits forgotten) and commits; only after that are the old commit blobs unreferenced.
 * Garbage collection then deletes index rows first (in a transaction) and pack files
 * after; a repack makes the new packs durable, moves the index rows in one transaction,
 * and only then deletes the old files. A crash at any instant leaves the index and the
 * packs in agreement, at worst with orphan packs that the next open indexes and the next
 * prune removes.
 */
import { VolumeIndex, toRuns, type BlockRef } from './index/volume-index.js';
import { unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { TidemarkError, isErrno, wrapIo } from '../common/errors.js';
import { fsyncDir } from '../common/durable-file.js';
import { compareCompacted, decodeExtents } from './journal/commit-codec.js';
import type { CompactedCommit, CompactedRecord, CompactedVolume, RetainedPoint } from './journal/journal-record.js';
import { EntryKind } from './journal/journal-record.js';
import { PackWriter, type WrittenPack } from './pack/pack-writer.js';
import { packRelPath, PACK_FOOTER_SIZE, PACK_HEADER_SIZE } from './pack/pack-format.js';
import { formatDuration, readPolicy, type RetentionPolicy } from './retention/retention-policy.js';
import { thin, windowStart } from './retention/thin.js';
import type { Vault } from './vault.js';
import { describeHold, HoldsLock, liveHolds, type HoldRow } from './vault-holds.js';

export interface PruneOptions {
  /** the clock: ms since the epoch */
  now: number;
  /** compute and report everything, change nothing */
  dryRun?: boolean;
  /** a group's policy (default: its stored policy, else the defaults) */
  policyOf?: (group: string) => RetentionPolicy;
  /** repack packs whose referenced bytes are below this fraction of their size (default 0.5) */
  repackBelow?: number;
  onProgress?: (text: string) => void;
}

export interface GroupPruneReport {
  group: string;
  policy: { keepWithin: string; keepHourly: number; keepDaily: number; keepBookmarks: true };
  /** points before / after */
  points: number;
  pointsKept: number;
  pointsDropped: number;
  /** the dropped seqs */
  dropped: number[];
  /**
   * points the policy would drop that share a commit with points inside the window: the
   * live tail is never rewritten, so they go at a later prune
   */
  pointsDeferred: number;
  versionsDropped: number;
  /** the compacted commit written (through its seq), or null when the group was left as it was */
  compactedThrough: number | null;
  /** the points kept beyond the window, with why */
  keptBeyondWindow: { seq: number; time: string; reason: string }[];
}

export interface PruneReport {
  dryRun: boolean;
  now: string;
  groups: GroupPruneReport[];
  pointsDropped: number;
  versionsDropped: number;
  packsDeleted: number;
  /** packs no longer used but left in place because a reader was live (deleted by a later prune) */
  packsDeferred: number;
  packsRepacked: number;
  /** new packs: compacted commits and repacked blobs */
  packsWritten: number;
  /** bytes of pack files deleted (deleted and repacked packs) */
  bytesDeleted: number;
  bytesWritten: number;
  /** bytesDeleted - bytesWritten */
  bytesFreed: number;
  warnings: string[];
}

function lowerBound(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < x) lo = mid + 1; else hi = mid;
  }
  return lo;
}

const versionKey = (path: Buffer, seq: number): string => `${seq}\0${path.toString('latin1')}`;

/**
 * The versions with seq <= `through` that stay: a version (path, s) followed by the path's
 * next version at s' (or none) stays when some kept point k has s <= k < s'. A tombstone
 * that follows no staying version (or another tombstone) is dropped too: reading any
 * point gives "absent" with or without it.
 */
export function retainedVersions(keys: readonly { path: Buffer; seq: number; kind: number }[], kept: readonly number[], through: number): Set<string> {
  const out = new Set<string>();
  let prevKind: number | undefined;
  for (let i = 0; i < keys.length; i++) {
    const v = keys[i]!;
    const next = keys[i + 1];
    const samePathNext = next && next.path.equals(v.path) ? next.seq : Infinity;
    if (i === 0 || !keys[i - 1]!.path.equals(v.path)) prevKind = undefined;
    if (v.seq > through) continue;
    const k = lowerBound(kept, v.seq);
    if (k >= kept.length || kept[k]! >= samePathNext) continue;
    if (v.kind === EntryKind.tombstone && (prevKind === undefined || prevKind === EntryKind.tombstone)) continue;
    out.add(versionKey(v.path, v.seq));
    prevKind = v.kind;
  }
  return out;
}

/**
 * The block versions with seq <= `through` that stay, by the same rule as paths: a version
 * (block, s) followed by the block's next version at s' (or none) stays when some kept
 * point k has s <= k < s'. Walks the versions once, in (block, seq) order.
 */
function retainedBlocks(volumes: VolumeIndex, gid: number, kept: readonly number[], through: number): { kept: (BlockRef & { block: number })[]; dropped: number } {
  const out: (BlockRef & { block: number })[] = [];
  let dropped = 0;
  let prev: (BlockRef & { block: number }) | undefined;
  const decide = (v: BlockRef & { block: number }, next: number): void => {
    if (v.seq > through) return;
    const k = lowerBound(kept, v.seq);
    if (k < kept.length && kept[k]! < next) out.push(v);
    else dropped++;
  };
  for (const v of volumes.versions(gid)) {
    if (prev) decide(prev, prev.block === v.block ? v.seq : Infinity);
    prev = v;
  }
  if (prev) decide(prev, Infinity);
  return { kept: out, dropped };
}

/**
 * Thin one group and store its compacted commit (with `dryRun`, only apply it to the index,
 * inside the caller's transaction). `written`: the size of the pack written, or null.
 */
function pruneGroup(vault: Vault, gid: number, group: string, policy: RetentionPolicy, opts: PruneOptions, holds: readonly HoldRow[]): { report: GroupPruneReport; written: number | null } {
  const idx = vault.index;
  const points = idx.pointsOf(gid);
  const marks = new Map<number, string>();
  for (const b of idx.bookmarks(gid)) marks.set(b.seq, marks.has(b.seq) ? `${marks.get(b.seq)!}+${b.name}` : b.name);
  // Read under the holds' write lock, kept until the drop has committed (see vault-holds.ts).
  const held = new Map<number, string>();
  for (const h of holds) {
    if (h.groupId === gid && h.seq !== null) held.set(h.seq, held.has(h.seq) ? `${held.get(h.seq)!}, ${describeHold(h)}` : describeHold(h));
  }
  const t = thin(points, marks, policy, opts.now, held);
  const start = windowStart(policy, opts.now);
  const firstInWindow = points.find((p) => p.time >= start)?.seq ?? Infinity;
  const applied = idx.compacted(gid);
  let through = applied.through;
  for (const c of idx.commitsOf(gid)) if (c.lastSeq < firstInWindow && c.lastSeq > through) through = c.lastSeq;
  const drop = t.drop.filter((s) => s <= through);
  const report: GroupPruneReport = {
    group,
    policy: { keepWithin: formatDuration(policy.keepWithinMs), keepHourly: policy.keepHourly, keepDaily: policy.keepDaily, keepBookmarks: true },
    points: points.length, pointsKept: points.length, pointsDropped: 0, dropped: [], pointsDeferred: t.drop.length - drop.length,
    versionsDropped: 0, compactedThrough: null,
    keptBeyondWindow: points.filter((p) => p.time < start && t.reasons.has(p.seq)).map((p) => ({ seq: p.seq, time: new Date(p.time).toISOString(), reason: t.reasons.get(p.seq)! })),
  };
  if (drop.length === 0) return { report, written: null };

  const dropSet = new Set(drop);
  const kept = points.filter((p) => !dropSet.has(p.seq));
  const keptSeqs = kept.map((p) => p.seq);
  const volumes = new VolumeIndex(idx);
  const isVolume = volumes.isVolume(gid);
  const records: CompactedRecord[] = [];
  let volume: CompactedVolume | undefined;
  let volumeDropped = 0;
  if (isVolume) {
    const r = retainedBlocks(volumes, gid, keptSeqs, through);
    volume = { baselines: volumes.baselines(gid, through), runs: toRuns(r.kept) };
    volumeDropped = r.dropped;
  } else {
    const keep = retainedVersions(idx.versionKeys(gid), keptSeqs, through);
    for (const v of idx.versionsThrough(gid, through)) {
      if (!keep.has(versionKey(v.path, v.seq))) continue;
      records.push(v.entry.kind === EntryKind.tombstone ? { op: 'delete', seq: v.seq, path: v.path } : { op: 'put', seq: v.seq, path: v.path, entry: v.entry });
    }
    records.sort(compareCompacted);
  }
  const keptThrough: RetainedPoint[] = kept.filter((p) => p.seq <= through);
  const commit: CompactedCommit = { kind: 'compacted', group, through, generation: applied.generation + 1, points: keptThrough, records, ...(volume ? { volume } : {}) };
  const before = idx.versionCount(gid);
  const stored = vault.storeCompacted(commit, opts.dryRun === true);
  report.versionsDropped = before - idx.versionCount(gid) + volumeDropped;
  report.pointsKept = idx.pointCount(gid);
  report.pointsDropped = points.length - report.pointsKept;
  report.dropped = drop;
  report.compactedThrough = through;
  if (report.pointsDropped !== drop.length) {
    throw new TidemarkError('TM_INTERNAL', `prune of group "${group}" dropped ${report.pointsDropped} points, expected ${drop.length}`);
  }
  return { report, written: stored.pack === null ? packSizeFor(1, stored.size) : stored.size };
}

interface PackStat { id: number; name: string; size: number; live: number; liveBlobs: number }

/** Fill the temp table prune_live with every referenced blob id and measure every pack. */
function measurePacks(vault: Vault): PackStat[] {
  const db = vault.index.db;
  db.exec('CREATE TEMP TABLE IF NOT EXISTS prune_live (id BLOB PRIMARY KEY) WITHOUT ROWID; DELETE FROM prune_live;');
  const add = db.prepare('INSERT OR IGNORE INTO prune_live (id) VALUES (?)');
  // Keyset pagination: the connection cannot run the inserts while a query iterates.
  const first = db.prepare('SELECT group_id AS g, path, seq, extents FROM versions WHERE kind = 1 AND extents IS NOT NULL ORDER BY group_id, path, seq LIMIT 2000');
  const page = db.prepare('SELECT group_id AS g, path, seq, extents FROM versions WHERE kind = 1 AND extents IS NOT NULL AND (group_id, path, seq) > (?, ?, ?) ORDER BY group_id, path, seq LIMIT 2000');
  let rows = first.all() as { g: number; path: Buffer; seq: number; extents: Buffer }[];
  while (rows.length > 0) {
    for (const r of rows) for (const x of decodeExtents(r.extents)) if (x.id) add.run(x.id);
    const last = rows[rows.length - 1]!;
    rows = page.all(last.g, last.path, last.seq) as typeof rows;
  }
  // Volume groups reference chunks block by block.
  db.exec('INSERT OR IGNORE INTO prune_live (id) SELECT DISTINCT chunk FROM vblocks WHERE chunk IS NOT NULL');
  db.exec('INSERT OR IGNORE INTO prune_live (id) SELECT blob FROM commits');
  return db.prepare(`SELECT p.id, p.name, p.size, coalesce(sum(CASE WHEN l.id IS NOT NULL THEN b.length END), 0) AS live,
      count(l.id) AS liveBlobs
    FROM packs p LEFT JOIN blobs b ON b.pack = p.id LEFT JOIN prune_live l ON l.id = b.id GROUP BY p.id ORDER BY p.name`).all() as PackStat[];
}

/** Delete pack files whose index rows are gone (missing files are fine: a crash may have removed them). */
function unlinkPacks(vault: Vault, names: readonly string[]): void {
  vault.packs.close();
  const dirs = new Set<string>();
  for (const name of names) {
    const file = join(vault.dir, packRelPath(name));
    try {
      unlinkSync(file);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw wrapIo(err, `Cannot delete the unused pack ${file}`);
    }
    dirs.add(dirname(file));
  }
  for (const d of dirs) {
    try { fsyncDir(d); } catch (err) { throw wrapIo(err, `Cannot sync the directory ${d}`); }
  }
}

/** Estimated size of a pack holding `blobs` blobs of `bytes` sealed bytes. */
function packSizeFor(blobs: number, bytes: number): number {
  return PACK_HEADER_SIZE + bytes + 4 + blobs * 46 + 28 + PACK_FOOTER_SIZE;
}

interface GcResult { packsDeleted: number; packsDeferred: number; packsRepacked: number; packsWritten: number; bytesDeleted: number; bytesWritten: number }

function collectGarbage(vault: Vault, opts: PruneOptions, warnings: string[]): GcResult {
  const dry = opts.dryRun === true;
  const below = opts.repackBelow ?? 0.5;
  opts.onProgress?.('collecting garbage');
  const stats = measurePacks(vault);
  const dead = stats.filter((p) => p.live === 0);
  // Measured against what a pack of only its live blobs would not need (header, trailer):
  // a fully live pack is never repacked, however small.
  const sparse = stats.filter((p) => p.live > 0 && p.live < below * (p.size - packSizeFor(p.liveBlobs, 0)));
  const out: GcResult = { packsDeleted: 0, packsDeferred: 0, packsRepacked: 0, packsWritten: 0, bytesDeleted: 0, bytesWritten: 0 };
  if (dry) {
    out.packsDeleted = dead.length;
    out.bytesDeleted = dead.reduce((n, p) => n + p.size, 0);
    out.packsRepacked = sparse.length;
    out.bytesDeleted += sparse.reduce((n, p) => n + p.size, 0);
    const liveBytes = sparse.reduce((n, p) => n + p.live, 0);
    const liveBlobs = sparse.reduce((n, p) => n + p.liveBlobs, 0);
    if (sparse.length > 0) {
      out.packsWritten = Math.max(1, Math.ceil(liveBytes / (16 * 1024 * 1024)));
      out.bytesWritten = packSizeFor(liveBlobs, liveBytes);
    }
    return out;
  }
  // 1. Unreferenced packs: forget them, then delete the files (unless a reader is live).
  if (dead.length > 0) {
    vault.index.transaction(() => vault.index.dropPacks(dead.map((p) => p.id)));
    if (readersBlockDeletion(vault, dead, out, warnings)) return out;
    opts.onProgress?.(`deleting ${dead.length} unused pack(s)`);
    unlinkPacks(vault, dead.map((p) => p.name));
    out.packsDeleted = dead.length;
    out.bytesDeleted = dead.reduce((n, p) => n + p.size, 0);
  }
  if (sparse.length === 0) return out;
  // 2. Sparse packs: copy the live blobs as they are (already sealed) into new packs.
  const liveOf = vault.index.db.prepare('SELECT b.id, b.type, b.flags, b.offset, b.length, b.raw_length AS rawLength FROM blobs b JOIN prune_live l ON l.id = b.id WHERE b.pack = ? ORDER BY b.offset');
  const writer = new PackWriter(vault.dir, vault.sealer);
  const written: WrittenPack[] = [];
  const copied: PackStat[] = [];
  for (const [i, p] of sparse.entries()) {
    opts.onProgress?.(`repacking pack ${i + 1}/${sparse.length}`);
    const blobs = liveOf.all(p.id) as { id: Buffer; type: number; flags: number; offset: number; length: number; rawLength: number }[];
    const staged: { b: (typeof blobs)[number]; sealed: Buffer }[] = [];
    try {
      for (const b of blobs) {
        const sealed = Buffer.from(vault.packs.readRange(p.name, b.offset, b.length));
        // Verify before copying: a damaged blob is reported, never silently carried over.
        vault.sealer.open(b.id, sealed, b.flags, b.rawLength, `blob ${b.id.toString('hex').slice(0, 16)} in pack ${p.name}`);
        staged.push({ b, sealed });
      }
    } catch (err) {
      if (!(err instanceof TidemarkError)) throw err;
      warnings.push(`pack ${p.name} was not repacked: ${err.message} (run \`tidemark verify --read-data\`)`);
      continue;
    }
    for (const { b, sealed } of staged) {
      writer.add(b.type, b.id, sealed, b.flags, b.rawLength);
      if (writer.full) written.push(writer.flush()!);
    }
    copied.push(p);
  }
  const lastPack = writer.flush();
  if (lastPack) written.push(lastPack);
  if (copied.length === 0) return out;
  // The new packs are durable; move the index rows in one transaction, then delete the old files.
  opts.onProgress?.(`recording ${written.length} new pack(s)`);
  vault.index.transaction(() => {
    for (const w of written) {
      const pid = vault.index.addPack(w.name, w.size);
      for (const b of w.blobs) vault.index.moveBlob(b.id, pid, b.offset, b.length);
    }
    vault.index.dropPacks(copied.map((p) => p.id));
  });
  out.packsRepacked = copied.length;
  out.packsWritten = written.length;
  out.bytesWritten = written.reduce((n, w) => n + w.size, 0);
  if (readersBlockDeletion(vault, copied, out, warnings)) return out;
  opts.onProgress?.(`deleting ${copied.length} repacked pack(s)`);
  unlinkPacks(vault, copied.map((p) => p.name));
  out.bytesDeleted += copied.reduce((n, p) => n + p.size, 0);
  return out;
}

/**
 * True (and the packs counted as deferred, with a warning) when a reader is live: it may
 * have looked up a blob in one of `packs` before the index stopped naming it. The files
 * stay; like those a crash leaves, the next open indexes them and a later prune deletes them.
 */
function readersBlockDeletion(vault: Vault, packs: readonly PackStat[], out: GcResult, warnings: string[]): boolean {
  const readers = liveHolds(vault.dir);
  if (readers.length === 0) return false;
  out.packsDeferred += packs.length;
  const bytes = packs.reduce((n, p) => n + p.size, 0);
  warnings.push(`${packs.length} pack(s) (${bytes} bytes) no longer used were left in place: ${readers.map(describeHold).join(', ')} ${readers.length === 1 ? 'is' : 'are'} reading the vault; run \`tidemark prune\` again once ${readers.length === 1 ? 'it has' : 'they have'} finished`);
  return true;
}

/** Thin every group by its policy, then collect garbage and repack. */
export function pruneVault(vault: Vault, opts: PruneOptions): PruneReport {
  if (!vault.writable) throw new TidemarkError('TM_INTERNAL', 'prune needs the vault open with the writer lock');
  const dry = opts.dryRun === true;
  const policyOf = opts.policyOf ?? ((g: string) => readPolicy(vault, g).policy);
  const warnings: string[] = [];
  const groups: GroupPruneReport[] = [];
  let bytesWritten = 0;
  let packsWritten = 0;
  vault.syncBookmarks();
  const db = vault.index.db;
  // A dry run applies everything to the index inside a transaction it rolls back.
  if (dry) db.exec('BEGIN IMMEDIATE');
  /** A dry run drops nothing: the holds are read once, without their lock. */
  let dryHolds: HoldRow[] | undefined;
  try {
    for (const g of vault.index.groups()) {
      if (g.lastSeq === 0) continue;
      opts.onProgress?.(`thinning group ${g.name}`);
      const policy = policyOf(g.name);
      // The holds read and the points dropped are one step for readers: the holds' lock is
      // kept until the index transaction has committed.
      let result: ReturnType<typeof pruneGroup>;
      if (dry) {
        result = pruneGroup(vault, g.id, g.name, policy, opts, dryHolds ??= liveHolds(vault.dir));
      } else {
        const lock = HoldsLock.acquire(vault.dir);
        try {
          result = db.transaction(() => pruneGroup(vault, g.id, g.name, policy, opts, lock.live)).immediate();
        } finally {
          lock.release();
        }
      }
      const { report, written } = result;
      groups.push(report);
      if (written !== null) { packsWritten++; bytesWritten += written; }
    }
    if (!dry) {
      // A bookmark made (without the lock) while we thinned may name a point just dropped.
      vault.syncBookmarks();
      for (const g of groups) {
        const gid = vault.index.groupId(g.group)!;
        for (const b of vault.index.bookmarks(gid)) {
          if (!vault.index.point(gid, b.seq)) warnings.push(`bookmark "${b.name}" of group "${g.group}" names seq:${b.seq}, which is no longer retained (it was made while prune ran)`);
        }
      }
    }
    const gc = collectGarbage(vault, opts, warnings);
    const pointsDropped = groups.reduce((n, g) => n + g.pointsDropped, 0);
    const versionsDropped = groups.reduce((n, g) => n + g.versionsDropped, 0);
    bytesWritten += gc.bytesWritten;
    packsWritten += gc.packsWritten;
    return {
      dryRun: dry, now: new Date(opts.now).toISOString(), groups, pointsDropped, versionsDropped,
      packsDeleted: gc.packsDeleted, packsDeferred: gc.packsDeferred, packsRepacked: gc.packsRepacked, packsWritten,
      bytesDeleted: gc.bytesDeleted, bytesWritten, bytesFreed: gc.bytesDeleted - bytesWritten, warnings,
    };
  } finally {
    if (dry) db.exec('ROLLBACK');
  }
}
