/**
 * Read holds: a process reading a vault (restore, cat, an image) says so, with the recovery
 * point it reads, in the small database `VAULT/holds.sqlite` (its own file, so a reader never
 * waits for a capture's index transaction). `prune` keeps every held point (an image being
 * served never changes under its client) and leaves pack files in place while any reader
 * is live (a restore never loses a pack it was about to read).
 *
 * Ordering: a reader checks that its point exists (in the index) and inserts its hold in one
 * BEGIN IMMEDIATE transaction of holds.sqlite; prune takes holds.sqlite's write lock before
 * it reads the holds of a group and keeps it until the index transaction that drops that
 * group's points has committed. So either prune sees the hold, or the reader's check comes
 * after prune's commit and finds its point gone (TM_BAD_POINT) before it reads a byte.
 *
 * A hold names its process (host, pid); one whose process is gone is ignored and removed.
 * Long readers refresh `beat`: a hold from another host counts while its beat is recent.
 */
import Database from 'better-sqlite3';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { TidemarkError } from '../common/errors.js';
import { processAlive } from './vault-lock.js';

const HOLDS_FILE = 'holds.sqlite';
const CREATE = `CREATE TABLE IF NOT EXISTS holds (id INTEGER PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL,
  command TEXT NOT NULL, since INTEGER NOT NULL, beat INTEGER NOT NULL, group_id INTEGER, seq INTEGER)`;
/** How often a hold's beat is refreshed, and how old a beat from another host may be. */
const BEAT_MS = 60_000;
const REMOTE_STALE_MS = 5 * BEAT_MS;
/** A reader waits this long at most for prune to finish thinning one group. */
const BUSY_MS = 120_000;

/** A hold as prune sees it. */
export interface HoldRow { id: number; host: string; pid: number; command: string; since: number; beat: number; groupId: number | null; seq: number | null }

/** What a hold says of its reader, for prune's reasons and warnings. */
export function describeHold(h: HoldRow): string {
  return `\`${h.command}\` (pid ${h.pid}${h.host === hostname() ? '' : ` on ${h.host}`})`;
}

/** True for the errors of a vault this process may read but not write. */
function readOnly(err: unknown): boolean {
  const code = String((err as { code?: unknown }).code ?? '');
  return code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN') || code === 'SQLITE_PERM' || code === 'EACCES' || code === 'EROFS';
}

/** The holds database of `vaultDir` (created if missing), or null when this process cannot write it. */
function openHolds(vaultDir: string): Database.Database | null {
  let db: Database.Database | undefined;
  try {
    db = new Database(join(vaultDir, HOLDS_FILE));
    db.pragma('busy_timeout = ' + BUSY_MS);
    db.pragma('journal_mode = WAL');
    db.exec(CREATE);
    return db;
  } catch (err) {
    db?.close();
    if (readOnly(err)) return null;
    throw new TidemarkError('TM_IO', `Cannot open ${join(vaultDir, HOLDS_FILE)}: ${(err as Error).message}`, { cause: err });
  }
}

/** Ids of this process's holds not released yet. */
const takenIds = new Set<number>();

/** The live holds in `db`; holds of processes gone from this host are removed. */
function liveIn(db: Database.Database): HoldRow[] {
  const rows = db.prepare('SELECT id, host, pid, command, since, beat, group_id AS groupId, seq FROM holds').all() as HoldRow[];
  const here = hostname();
  const now = Date.now();
  const live: HoldRow[] = [];
  const drop = db.prepare('DELETE FROM holds WHERE id = ?');
  for (const h of rows) {
    // This process's own holds are known exactly; another's by whether its pid exists.
    const isLive = h.host !== here ? now - h.beat < REMOTE_STALE_MS : h.pid === process.pid ? takenIds.has(h.id) : processAlive(h.pid);
    if (isLive) live.push(h);
    else drop.run(h.id);
  }
  return live;
}

/** The live holds of the vault in `vaultDir` (none when its holds cannot be written here). */
export function liveHolds(vaultDir: string): HoldRow[] {
  const db = openHolds(vaultDir);
  if (!db) return [];
  try {
    return db.transaction(() => liveIn(db)).immediate();
  } finally {
    db.close();
  }
}

/**
 * Prune's side: the holds' write lock, from reading the holds until `release` (after the
 * index transaction that acted on them has committed). Readers taking a hold meanwhile wait.
 */
export class HoldsLock {
  private constructor(private db: Database.Database | null, readonly live: HoldRow[]) {}

  static acquire(vaultDir: string): HoldsLock {
    const db = openHolds(vaultDir);
    if (!db) return new HoldsLock(null, []);
    try {
      db.exec('BEGIN IMMEDIATE');
      return new HoldsLock(db, liveIn(db));
    } catch (err) {
      db.close();
      throw err;
    }
  }

  release(): void {
    if (!this.db) return;
    try { this.db.exec('COMMIT'); } finally { this.db.close(); this.db = null; }
  }
}

/** Holds of this process not released yet: released when it exits, however it exits normally. */
const taken = new Set<ReadHold>();
let exitHooked = false;

export class ReadHold {
  private db: Database.Database | null;
  private readonly beat: NodeJS.Timeout | null;

  private constructor(db: Database.Database | null, private readonly id: number) {
    this.db = db;
    this.beat = db ? setInterval(() => this.refresh(), BEAT_MS) : null;
    this.beat?.unref();
    if (!db) return;
    taken.add(this);
    takenIds.add(id);
    if (!exitHooked) {
      exitHooked = true;
      process.once('exit', () => { for (const h of [...taken]) h.release(); });
    }
  }

  /**
   * Hold `point` (or the vault's packs only, with none) of `vault` for `command`.
   * TM_BAD_POINT when prune removed the point since it was resolved. A vault whose holds
   * this process cannot write (a read-only mount, another user's vault) gets no hold:
   * a prune run elsewhere is not told of this reader.
   */
  static take(vault: { dir: string; index: { point(groupId: number, seq: number): unknown } }, command: string,
    point: { group: string; groupId: number; seq: number } | null): ReadHold {
    const db = openHolds(vault.dir);
    if (!db) return new ReadHold(null, 0);
    try {
      const now = Date.now();
      const id = db.transaction(() => {
        if (point && !vault.index.point(point.groupId, point.seq)) {
          throw new TidemarkError('TM_BAD_POINT', `seq:${point.seq} of group "${point.group}" is no longer retained: prune removed it just now`, {
            hint: `choose another point (see \`tidemark timeline ${point.group}\`)`,
          });
        }
        return Number(db.prepare('INSERT INTO holds (host, pid, command, since, beat, group_id, seq) VALUES (?, ?, ?, ?, ?, ?, ?)')
          .run(hostname(), process.pid, command, now, now, point?.groupId ?? null, point?.seq ?? null).lastInsertRowid);
      }).immediate();
      return new ReadHold(db, id);
    } catch (err) {
      db.close();
      if (readOnly(err)) return new ReadHold(null, 0);
      throw err;
    }
  }

  private refresh(): void {
    try { this.db?.prepare('UPDATE holds SET beat = ? WHERE id = ?').run(Date.now(), this.id); } catch { /* a missed beat only ages the hold */ }
  }

  /** Give the hold up (idempotent; also done when the process exits). */
  release(): void {
    if (!this.db) return;
    if (this.beat) clearInterval(this.beat);
    taken.delete(this);
    takenIds.delete(this.id);
    try { this.db.prepare('DELETE FROM holds WHERE id = ?').run(this.id); } catch { /* a hold left behind is removed once its process is gone */ }
    this.db.close();
    this.db = null;
  }
}
