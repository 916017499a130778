/**
 * A group's head rows held in memory while one capture compares a tree with them: a
 * capture asks for each path's head several times (renames, parents, the entry itself,
 * the applier's checks), and for each moved file's inode, which on a tree of 20,000 files
 * was most of an incremental capture's main-thread time in SQLite.
 *
 * The memo mirrors the `head` table exactly: IndexDb writes every change of a row
 * through it (`put`), and drops the memo for anything it cannot mirror row by row.
 */
import { isDeepStrictEqual } from 'node:util';
import { TidemarkError } from '../../common/errors.js';
import { EntryKind, type EntryState } from '../journal/journal-record.js';
import { nameOf } from '../../common/rel-path.js';
import type { VersionRow } from './index-db.js';

/** The row `head` holds for `entry` at `path`, as `IndexDb` reads it back (signed ino, no extents but a file's). */
export function headRowOf(path: Buffer, seq: number, entry: EntryState): VersionRow {
  const e: EntryState = {
    kind: entry.kind, mode: entry.mode, uid: entry.uid, gid: entry.gid, mtimeNs: entry.mtimeNs, ctimeNs: entry.ctimeNs,
    ino: BigInt.asIntN(64, entry.ino), size: entry.size, extents: entry.kind === EntryKind.file ? entry.extents : [],
    target: entry.target, link: entry.link, ...(entry.torn ? { torn: true as const } : {}),
  };
  return { path, seq, name: path.length === 0 ? Buffer.alloc(0) : nameOf(path), entry: e };
}

/** JSON of a row for an error's details (bigints as strings). */
function asJson(x: unknown): string {
  return String(JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
}

export class HeadMemo {
  /** Rows by path (latin1); null: known to have no head row. */
  private readonly rows = new Map<string, VersionRow | null>();
  /** Paths (latin1) by signed inode number; only kept when `complete`. */
  private byIno: Map<bigint, Set<string>> | null = null;

  /**
   * @param complete every head row of the group is in `rows` (loaded at once), so a path
   *   not in it has none and an inode lookup needs no query
   */
  constructor(readonly groupId: number, rows: Iterable<VersionRow> = [], readonly complete = false) {
    for (const r of rows) this.rows.set(r.path.toString('latin1'), r);
  }

  /** The row of `path`: a row, null (none), or undefined (not known: ask the index). */
  get(path: Buffer): VersionRow | null | undefined {
    const r = this.rows.get(path.toString('latin1'));
    if (r !== undefined || !this.complete) return r;
    return null;
  }

  /** Remember what the index said of `path`. */
  learn(path: Buffer, row: VersionRow | undefined): void {
    this.rows.set(path.toString('latin1'), row ?? null);
  }

  /** The head row of `path` is now `row` (null: removed). */
  put(path: Buffer, row: VersionRow | null): void {
    const key = path.toString('latin1');
    if (this.byIno) {
      const old = this.rows.get(key);
      if (old) this.byIno.get(old.entry.ino)?.delete(key);
      if (row) this.inoSet(row.entry.ino).add(key);
    }
    this.rows.set(key, row);
  }

  /** Rows with inode `ino` (signed), when the memo is complete; undefined otherwise. */
  withIno(ino: bigint): VersionRow[] | undefined {
    if (!this.complete) return undefined;
    if (!this.byIno) {
      this.byIno = new Map();
      for (const [key, r] of this.rows) if (r) this.inoSet(r.entry.ino).add(key);
    }
    const out: VersionRow[] = [];
    for (const key of this.byIno.get(BigInt.asIntN(64, ino)) ?? []) {
      const r = this.rows.get(key);
      if (r) out.push(r);
    }
    return out;
  }

  private inoSet(ino: bigint): Set<string> {
    let s = this.byIno!.get(ino);
    if (!s) this.byIno!.set(ino, s = new Set());
    return s;
  }

  /**
   * With $TIDEMARK_CHECK_INDEX_MEMO=1 (the test suite sets it), every answer from the memo
   * is compared with the index's own: a drift would silently corrupt captures.
   */
  static readonly checking = process.env.TIDEMARK_CHECK_INDEX_MEMO === '1';

  static check(what: string, fromMemo: unknown, fromIndex: unknown): void {
    if (!isDeepStrictEqual(fromMemo, fromIndex)) {
      throw new TidemarkError('TM_INTERNAL', `the in-memory head of ${what} differs from the index's`, {
        details: { memo: asJson(fromMemo), index: asJson(fromIndex) },
      });
    }
  }
}
