/**
 * The vault's SQLite index: where each blob lives, each group's points, and per-path
 * version lists that answer "latest version of PATH at or before seq N" with one
 * B-tree seek, whatever the journal's length.
 */
import Database from 'better-sqlite3';
import { TidemarkError } from '../../common/errors.js';
import { parentOf, nameOf, subtreeBounds } from '../../common/rel-path.js';
import { decodeExtents, encodeExtents } from '../journal/commit-codec.js';
import { EntryKind, type CompactedCommit, type EntryKindCode, type EntryState, type RetainedPoint } from '../journal/journal-record.js';
import { MIGRATIONS } from './schema.js';
import { VolumeIndex } from './volume-index.js';
import { HeadMemo, headRowOf } from './head-memo.js';

/** One version of one path, as stored in `versions` and `head`. */
export interface VersionRow {
  path: Buffer;
  seq: number;
  name: Buffer;
  entry: EntryState;
}

export interface BlobLocation {
  pack: string;
  type: number;
  flags: number;
  offset: number;
  length: number;
  rawLength: number;
}

interface RawVersion {
  path: Buffer; seq: bigint; name: Buffer; kind: bigint; mode: bigint; uid: bigint; gid: bigint;
  mtime_ns: bigint; ctime_ns: bigint; ino: bigint; size: bigint; extents: Buffer | null; target: Buffer | null; link: Buffer | null; torn: bigint;
}

const COLS = 'path, seq, name, kind, mode, uid, gid, mtime_ns, ctime_ns, ino, size, extents, target, link, torn';
/** Point-in-time lookups skip torn versions unless the caller binds 1 to this parameter. */
const CLEAN = '(torn = 0 OR ?)';

/** A path whose latest version at a point is torn (see `IndexDb.tornAt`). */
export interface TornAtPoint {
  path: Buffer;
  /** seq of the torn version in force at the point */
  tornSeq: number;
  /** seq of the last clean version at or before the point (null: none, or the path did not exist cleanly) */
  cleanSeq: number | null;
}

function toRow(r: RawVersion): VersionRow {
  return {
    path: r.path, seq: Number(r.seq), name: r.name,
    entry: {
      kind: Number(r.kind) as EntryKindCode, mode: Number(r.mode), uid: Number(r.uid), gid: Number(r.gid),
      mtimeNs: r.mtime_ns, ctimeNs: r.ctime_ns, ino: r.ino, size: Number(r.size),
      extents: r.extents ? decodeExtents(r.extents) : [], target: r.target, link: r.link,
      ...(Number(r.torn) ? { torn: true as const } : {}),
    },
  };
}

/** ino is stored as a signed 64-bit integer; inode numbers above 2^63 wrap. */
function inoParam(ino: bigint): bigint {
  return BigInt.asIntN(64, ino);
}

export class IndexDb {
  readonly db: Database.Database;
  /** Prepared statements by SQL text, one map per integer mode (no key is built per call: the hot path looks up literals). */
  private readonly stmts = new Map<string, Database.Statement>();
  private readonly safeStmts = new Map<string, Database.Statement>();
  /** A group's head rows in memory during a capture (see `memoHead`). */
  private memo: HeadMemo | null = null;

  constructor(path: string, readonly readonly = false) {
    try {
      this.db = new Database(path, { readonly, fileMustExist: readonly });
    } catch (err) {
      throw new TidemarkError('TM_IO', `Cannot open the vault index ${path}: ${(err as Error).message}`, { cause: err, hint: 'run `tidemark index rebuild` to recreate it from the packs' });
    }
    try {
      this.db.pragma('busy_timeout = 10000');
      if (!readonly) {
        this.db.pragma('journal_mode = WAL');
        this.db.pragma('synchronous = NORMAL');
        this.migrate();
      }
    } catch (err) {
      this.db.close();
      throw new TidemarkError('TM_CORRUPT', `The vault index ${path} is damaged: ${(err as Error).message}`, {
        cause: err, hint: 'the index is only a cache: run `tidemark index rebuild` to recreate it from the packs',
      });
    }
  }

  private migrate(): void {
    const current = this.db.pragma('user_version', { simple: true }) as number;
    for (let v = current; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  /** A cached prepared statement. */
  stmt(sql: string, safe = false): Database.Statement {
    const cache = safe ? this.safeStmts : this.stmts;
    let s = cache.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      if (safe) s.safeIntegers(true);
      cache.set(sql, s);
    }
    return s;
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  close(): void {
    this.db.close();
  }

  // ---- packs and blobs ------------------------------------------------------------------

  packId(name: string): number | undefined {
    return (this.stmt('SELECT id FROM packs WHERE name = ?').get(name) as { id: number } | undefined)?.id;
  }

  addPack(name: string, size: number): number {
    const existing = this.packId(name);
    if (existing !== undefined) return existing;
    return Number(this.stmt('INSERT INTO packs (name, size) VALUES (?, ?)').run(name, size).lastInsertRowid);
  }

  packNames(): Set<string> {
    return new Set((this.stmt('SELECT name FROM packs').all() as { name: string }[]).map((r) => r.name));
  }

  addBlob(id: Buffer, packId: number, type: number, flags: number, offset: number, length: number, rawLength: number): void {
    this.stmt('INSERT OR IGNORE INTO blobs (id, pack, type, flags, offset, length, raw_length) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(id, packId, type, flags, offset, length, rawLength);
  }

  hasBlob(id: Buffer): boolean {
    return this.stmt('SELECT 1 FROM blobs WHERE id = ?').get(id) !== undefined;
  }

  blob(id: Buffer): BlobLocation | undefined {
    const r = this.stmt('SELECT p.name AS pack, b.type, b.flags, b.offset, b.length, b.raw_length AS rawLength FROM blobs b JOIN packs p ON p.id = b.pack WHERE b.id = ?').get(id) as BlobLocation | undefined;
    return r;
  }

  // ---- groups and points ------------------------------------------------------------------

  groupId(name: string): number | undefined {
    return (this.stmt('SELECT id FROM groups WHERE name = ?').get(name) as { id: number } | undefined)?.id;
  }

  ensureGroup(name: string): number {
    return this.groupId(name) ?? Number(this.stmt('INSERT INTO groups (name) VALUES (?)').run(name).lastInsertRowid);
  }

  groups(): { id: number; name: string; lastSeq: number }[] {
    return this.stmt('SELECT id, name, last_seq AS lastSeq FROM groups ORDER BY name').all() as { id: number; name: string; lastSeq: number }[];
  }

  lastSeq(groupId: number): number {
    return (this.stmt('SELECT last_seq FROM groups WHERE id = ?').get(groupId) as { last_seq: number } | undefined)?.last_seq ?? 0;
  }

  lastPoint(groupId: number): { seq: number; time: number } | undefined {
    return this.stmt('SELECT seq, time FROM points WHERE group_id = ? ORDER BY seq DESC LIMIT 1').get(groupId) as { seq: number; time: number } | undefined;
  }

  firstPoint(groupId: number): { seq: number; time: number } | undefined {
    return this.stmt('SELECT seq, time FROM points WHERE group_id = ? ORDER BY seq ASC LIMIT 1').get(groupId) as { seq: number; time: number } | undefined;
  }

  pointCount(groupId: number): number {
    return (this.stmt('SELECT count(*) AS n FROM points WHERE group_id = ?').get(groupId) as { n: number }).n;
  }

  point(groupId: number, seq: number): { seq: number; time: number } | undefined {
    return this.stmt('SELECT seq, time FROM points WHERE group_id = ? AND seq = ?').get(groupId, seq) as { seq: number; time: number } | undefined;
  }

  /** The last point captured at or before `time` (ms). */
  pointAtTime(groupId: number, time: number): { seq: number; time: number } | undefined {
    return this.stmt('SELECT seq, time FROM points WHERE group_id = ? AND time <= ? ORDER BY time DESC, seq DESC LIMIT 1').get(groupId, time) as { seq: number; time: number } | undefined;
  }

  addPoint(groupId: number, seq: number, time: number): void {
    this.stmt('INSERT INTO points (group_id, seq, time) VALUES (?, ?, ?)').run(groupId, seq, time);
    this.stmt('UPDATE groups SET last_seq = max(last_seq, ?) WHERE id = ?').run(seq, groupId);
  }

  addCommit(blobId: Buffer, groupId: number, firstSeq: number, lastSeq: number): void {
    this.stmt('INSERT OR IGNORE INTO commits (blob, group_id, first_seq, last_seq) VALUES (?, ?, ?, ?)').run(blobId, groupId, firstSeq, lastSeq);
  }

  hasCommit(blobId: Buffer): boolean {
    return this.stmt('SELECT 1 FROM commits WHERE blob = ?').get(blobId) !== undefined;
  }

  // ---- versions ---------------------------------------------------------------------------

  /**
   * The version of `path` in force at `seq` (tombstones included), or undefined. Torn
   * versions are skipped (the last clean version at or before `seq` is returned) unless
   * `includeTorn`.
   */
  versionAt(groupId: number, path: Buffer, seq: number, includeTorn = false): VersionRow | undefined {
    const r = this.stmt(`SELECT ${COLS} FROM versions WHERE group_id = ? AND path = ? AND seq <= ? AND ${CLEAN} ORDER BY seq DESC LIMIT 1`, true)
      .get(groupId, path, seq, includeTorn ? 1 : 0) as RawVersion | undefined;
    return r ? toRow(r) : undefined;
  }

  /**
   * The live children of `parent` at `seq`, in name order (torn versions skipped unless
   * `includeTorn`, as in `versionAt`). Costs one seek per distinct child name plus one per
   * child, independent of how many records the journal holds.
   */
  *childrenAt(groupId: number, parent: Buffer, seq: number, includeTorn = false): Generator<VersionRow> {
    // One statement per directory, doing in SQLite what was a pair of queries per child:
    // seek each distinct name in turn, then the version in force at `seq`.
    const rows = this.stmt(`WITH RECURSIVE n(name) AS (
        SELECT (SELECT min(name) FROM versions WHERE group_id = @g AND parent = @p)
        UNION ALL
        SELECT (SELECT min(name) FROM versions WHERE group_id = @g AND parent = @p AND name > n.name) FROM n WHERE n.name IS NOT NULL)
      SELECT ${COLS.split(', ').map((c) => `v.${c}`).join(', ')} FROM n JOIN versions v ON v.group_id = @g AND v.parent = @p AND v.name = n.name
        AND v.seq = (SELECT max(seq) FROM versions WHERE group_id = @g AND parent = @p AND name = n.name AND seq <= @s AND (torn = 0 OR @t))
      ORDER BY v.name`, true).all({ g: groupId, p: parent, s: seq, t: includeTorn ? 1 : 0 }) as RawVersion[];
    for (const v of rows) if (Number(v.kind) !== EntryKind.tombstone) yield toRow(v);
  }

  /**
   * Paths whose version in force at `seq` is torn, in path order: each with the seq of
   * that torn version and of the last clean version before it. Seeks only the torn
   * versions (a partial index), never the whole group.
   */
  tornAt(groupId: number, seq: number): TornAtPoint[] {
    const paths = this.stmt('SELECT DISTINCT path FROM versions WHERE group_id = ? AND torn = 1 AND seq <= ? ORDER BY path').all(groupId, seq) as { path: Buffer }[];
    const latest = this.stmt('SELECT seq, torn FROM versions WHERE group_id = ? AND path = ? AND seq <= ? ORDER BY seq DESC LIMIT 1');
    const clean = this.stmt('SELECT seq, kind FROM versions WHERE group_id = ? AND path = ? AND seq <= ? AND torn = 0 ORDER BY seq DESC LIMIT 1');
    const out: TornAtPoint[] = [];
    for (const { path } of paths) {
      const l = latest.get(groupId, path, seq) as { seq: number; torn: number } | undefined;
      if (!l || l.torn !== 1) continue;
      const c = clean.get(groupId, path, seq) as { seq: number; kind: number } | undefined;
      out.push({ path, tornSeq: l.seq, cleanSeq: c && c.kind !== EntryKind.tombstone ? c.seq : null });
    }
    return out;
  }

  /** How many torn versions a group holds (every torn capture of a file is one). */
  tornCount(groupId: number): number {
    return (this.stmt('SELECT count(*) AS n FROM versions WHERE group_id = ? AND torn = 1').get(groupId) as { n: number }).n;
  }

  /**
   * Serve `headAt` and `headByIno` of `groupId` from memory until `forgetHead`; with
   * `preload`, every head row of the group is read now in one query (a capture of the
   * whole tree asks for nearly all of them). Rows handed out are shared: never mutate them.
   */
  memoHead(groupId: number, preload: boolean): void {
    this.memo = preload ? new HeadMemo(groupId, this.headAll(groupId), true) : new HeadMemo(groupId);
  }

  forgetHead(): void {
    this.memo = null;
  }

  private headAtIndex(groupId: number, path: Buffer): VersionRow | undefined {
    const r = this.stmt(`SELECT ${COLS} FROM head WHERE group_id = ? AND path = ?`, true).get(groupId, path) as RawVersion | undefined;
    return r ? toRow(r) : undefined;
  }

  headAt(groupId: number, path: Buffer): VersionRow | undefined {
    const memo = this.memo?.groupId === groupId ? this.memo : null;
    if (!memo) return this.headAtIndex(groupId, path);
    const known = memo.get(path);
    if (known === undefined) {
      const r = this.headAtIndex(groupId, path);
      memo.learn(path, r);
      return r;
    }
    if (HeadMemo.checking) HeadMemo.check(`path ${JSON.stringify(path.toString('latin1'))}`, known ?? undefined, this.headAtIndex(groupId, path));
    return known ?? undefined;
  }

  headChildren(groupId: number, parent: Buffer): VersionRow[] {
    return (this.stmt(`SELECT ${COLS} FROM head WHERE group_id = ? AND parent = ? ORDER BY name`, true).all(groupId, parent) as RawVersion[]).map(toRow);
  }

  headByIno(groupId: number, ino: bigint): VersionRow[] {
    const known = this.memo?.groupId === groupId ? this.memo.withIno(ino) : undefined;
    if (known && !HeadMemo.checking) return known;
    const rows = (this.stmt(`SELECT ${COLS} FROM head WHERE group_id = ? AND ino = ?`, true).all(groupId, inoParam(ino)) as RawVersion[]).map(toRow);
    if (known) {
      const byPath = (a: VersionRow, b: VersionRow): number => Buffer.compare(a.path, b.path);
      HeadMemo.check(`inode ${ino}`, [...known].sort(byPath), [...rows].sort(byPath));
    }
    return known ?? rows;
  }

  /** Head rows at `path` and below it, parents before children. */
  headSubtree(groupId: number, path: Buffer): VersionRow[] {
    const self = this.headAt(groupId, path);
    const [lo, hi] = subtreeBounds(path);
    const below = path.length === 0
      ? (this.stmt(`SELECT ${COLS} FROM head WHERE group_id = ? AND path <> x'' ORDER BY path`, true).all(groupId) as RawVersion[])
      : (this.stmt(`SELECT ${COLS} FROM head WHERE group_id = ? AND path >= ? AND path < ? ORDER BY path`, true).all(groupId, lo, hi) as RawVersion[]);
    const rows = below.map(toRow);
    return self ? [self, ...rows] : rows;
  }

  /** Every head row of a group, in path order. */
  *headAll(groupId: number): Generator<VersionRow> {
    for (const r of this.stmt(`SELECT ${COLS} FROM head WHERE group_id = ? ORDER BY path`, true).iterate(groupId) as IterableIterator<RawVersion>) yield toRow(r);
  }

  /** Record `entry` as the state of `path` from `seq` on (a tombstone removes it from head). */
  putVersion(groupId: number, path: Buffer, seq: number, entry: EntryState): void {
    this.writeVersionRow('versions', groupId, path, seq, entry);
    if (entry.kind === EntryKind.tombstone) this.stmt('DELETE FROM head WHERE group_id = ? AND path = ?').run(groupId, path);
    else this.writeVersionRow('head', groupId, path, seq, entry);
    if (this.memo?.groupId === groupId) this.memo.put(path, entry.kind === EntryKind.tombstone ? null : headRowOf(path, seq, entry));
  }

  // ---- bookmarks --------------------------------------------------------------------------

  addBookmark(groupId: number, b: { name: string; seq: number; time: number; consistency: string; tags: string[]; file: string }): void {
    this.stmt('INSERT OR REPLACE INTO bookmarks (group_id, name, seq, time, consistency, tags, file) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(groupId, b.name, b.seq, b.time, b.consistency, JSON.stringify(b.tags), b.file);
  }

  bookmarks(groupId: number): { name: string; seq: number; time: number; consistency: string; tags: string[] }[] {
    return (this.stmt('SELECT name, seq, time, consistency, tags FROM bookmarks WHERE group_id = ? ORDER BY seq, name').all(groupId) as { name: string; seq: number; time: number; consistency: string; tags: string }[])
      .map((b) => ({ ...b, tags: JSON.parse(b.tags) as string[] }));
  }

  bookmarkFiles(): Set<string> {
    return new Set((this.stmt('SELECT file FROM bookmarks').all() as { file: string }[]).map((r) => r.file));
  }

  bookmark(groupId: number, name: string): { name: string; seq: number; time: number } | undefined {
    return this.stmt('SELECT name, seq, time FROM bookmarks WHERE group_id = ? AND name = ?').get(groupId, name) as { name: string; seq: number; time: number } | undefined;
  }

  // ---- retention: compacted commits and prune ---------------------------------------------

  /** The seq up to which a compacted commit replaces the group's journal (0: none yet). */
  compactedThrough(groupId: number): number {
    return this.compacted(groupId).through;
  }

  /** The group's applied compacted commit: its through and generation (0, 0: none yet). */
  compacted(groupId: number): { through: number; generation: number } {
    return (this.stmt('SELECT compacted_through AS through, compacted_generation AS generation FROM groups WHERE id = ?').get(groupId) as { through: number; generation: number } | undefined)
      ?? { through: 0, generation: 0 };
  }

  /** Every point of a group, in seq order. */
  pointsOf(groupId: number): RetainedPoint[] {
    return this.stmt('SELECT seq, time FROM points WHERE group_id = ? ORDER BY seq').all(groupId) as RetainedPoint[];
  }

  /** The group's journal commits, in seq order. */
  commitsOf(groupId: number): { blob: Buffer; firstSeq: number; lastSeq: number }[] {
    return this.stmt('SELECT blob, first_seq AS firstSeq, last_seq AS lastSeq FROM commits WHERE group_id = ? ORDER BY last_seq, first_seq').all(groupId) as { blob: Buffer; firstSeq: number; lastSeq: number }[];
  }

  /** How many version rows (tombstones included) a group has. */
  versionCount(groupId: number): number {
    return (this.stmt('SELECT count(*) AS n FROM versions WHERE group_id = ?').get(groupId) as { n: number }).n;
  }

  /** Every version of a group with seq <= `maxSeq`, in (path, seq) order, read into memory. */
  versionsThrough(groupId: number, maxSeq: number): VersionRow[] {
    return (this.stmt(`SELECT ${COLS} FROM versions WHERE group_id = ? AND seq <= ? ORDER BY path, seq`, true).all(groupId, maxSeq) as RawVersion[]).map(toRow);
  }

  /**
   * (path, seq, kind) of every version of a group, in (path, seq) order: what the
   * thinning of versions needs, without the entries.
   */
  versionKeys(groupId: number): { path: Buffer; seq: number; kind: number }[] {
    return this.stmt('SELECT path, seq, kind FROM versions WHERE group_id = ? ORDER BY path, seq').all(groupId) as { path: Buffer; seq: number; kind: number }[];
  }

  private writeVersionRow(table: 'versions' | 'head', groupId: number, path: Buffer, seq: number, entry: EntryState): void {
    const parent = path.length === 0 ? null : parentOf(path);
    const name = path.length === 0 ? Buffer.alloc(0) : nameOf(path);
    const extents = entry.kind === EntryKind.file ? encodeExtents(entry.extents) : null;
    const args = [groupId, path, seq, parent, name, entry.kind, entry.mode, entry.uid, entry.gid, entry.mtimeNs, entry.ctimeNs, inoParam(entry.ino), entry.size, extents, entry.target, entry.link, entry.torn ? 1 : 0];
    this.stmt(`INSERT OR REPLACE INTO ${table} (group_id, ${COLS.replace('path, seq, name', 'path, seq, parent, name')}) VALUES (${args.map(() => '?').join(', ')})`).run(...args);
  }

  /** Set `head` for `path` from its latest version (none, or a tombstone: no head row). */
  private refreshHead(groupId: number, path: Buffer): void {
    const r = this.stmt(`SELECT ${COLS} FROM versions WHERE group_id = ? AND path = ? ORDER BY seq DESC LIMIT 1`, true).get(groupId, path) as RawVersion | undefined;
    if (!r || Number(r.kind) === EntryKind.tombstone) this.stmt('DELETE FROM head WHERE group_id = ? AND path = ?').run(groupId, path);
    else this.writeVersionRow('head', groupId, path, Number(r.seq), toRow(r).entry);
  }

  /**
   * Make the group's journal up to `c.through` exactly what the compacted commit says:
   * its versions and points replace every version and point with seq <= through, the
   * head of each path touched is recomputed, and the commits it supersedes are forgotten.
   * Versions and points after `through` are left alone. Call inside a transaction, and
   * only with a commit whose (through, generation) exceeds the applied one's.
   */
  applyCompacted(groupId: number, c: CompactedCommit): void {
    this.memo = null;
    const t = c.through;
    const touched = new Map<string, Buffer>();
    for (const r of this.stmt('SELECT DISTINCT path FROM versions WHERE group_id = ? AND seq <= ?').all(groupId, t) as { path: Buffer }[]) {
      touched.set(r.path.toString('latin1'), r.path);
    }
    this.stmt('DELETE FROM versions WHERE group_id = ? AND seq <= ?').run(groupId, t);
    this.stmt('DELETE FROM points WHERE group_id = ? AND seq <= ?').run(groupId, t);
    for (const rec of c.records) {
      this.writeVersionRow('versions', groupId, rec.path, rec.seq, rec.op === 'put' ? rec.entry : TOMBSTONE);
      touched.set(rec.path.toString('latin1'), rec.path);
    }
    const addPoint = this.stmt('INSERT INTO points (group_id, seq, time) VALUES (?, ?, ?)');
    for (const p of c.points) addPoint.run(groupId, p.seq, p.time);
    for (const path of touched.values()) this.refreshHead(groupId, path);
    if (c.volume) new VolumeIndex(this).applyCompacted(groupId, t, c.volume);
    this.stmt('UPDATE groups SET last_seq = max(last_seq, ?), compacted_through = ?, compacted_generation = ? WHERE id = ?').run(t, t, c.generation, groupId);
    this.stmt('DELETE FROM commits WHERE group_id = ? AND last_seq <= ?').run(groupId, t);
  }

  /** Forget packs (and every blob row naming them); their files are deleted afterwards. */
  dropPacks(packIds: readonly number[]): void {
    for (const id of packIds) {
      this.stmt('DELETE FROM blobs WHERE pack = ?').run(id);
      this.stmt('DELETE FROM packs WHERE id = ?').run(id);
    }
  }

  /** Point an existing blob row at its copy in another pack. */
  moveBlob(id: Buffer, packId: number, offset: number, length: number): void {
    this.stmt('UPDATE blobs SET pack = ?, offset = ?, length = ? WHERE id = ?').run(packId, offset, length, id);
  }
}

/** A tombstone entry (the path does not exist from this seq on). */
export const TOMBSTONE: EntryState = {
  kind: EntryKind.tombstone, mode: 0, uid: 0, gid: 0, mtimeNs: 0n, ctimeNs: 0n, ino: 0n, size: 0, extents: [], target: null, link: null,
};
