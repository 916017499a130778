/**
 * Read holds: a process reading a vault (restore, cat, an image) says so in the index's
 * `holds` table, with the recovery point it reads. `prune` keeps every held point (an image
 * being served never changes under its client) and leaves pack files in place while any
 * reader is live (a restore never loses a pack it was about to read). Both sides act inside
 * SQLite write transactions, so a hold and a prune are ordered: either prune sees the hold,
 * or the reader sees what prune did (its point gone: a clear error) before it reads a byte.
 *
 * A hold names its process (host, pid); one whose process is gone is ignored and removed.
 * Long readers refresh `beat`: a hold from another host counts while its beat is recent.
 */
import Database from 'better-sqlite3';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { TidemarkError, isErrno } from '../common/errors.js';
import { processAlive } from './vault-lock.js';

const CREATE = `CREATE TABLE IF NOT EXISTS holds (id INTEGER PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL,
  command TEXT NOT NULL, since INTEGER NOT NULL, beat INTEGER NOT NULL, group_id INTEGER, seq INTEGER)`;
/** How often a hold's beat is refreshed, and how old a beat from another host may be. */
const BEAT_MS = 60_000;
const REMOTE_STALE_MS = 5 * BEAT_MS;

/** A hold as prune sees it. */
export interface HoldRow { id: number; host: string; pid: number; command: string; since: number; beat: number; groupId: number | null; seq: number | null }

/** What a hold says of its reader, for prune's reasons and warnings. */
export function describeHold(h: HoldRow): string {
  return `\`${h.command}\` (pid ${h.pid}${h.host === hostname() ? '' : ` on ${h.host}`})`;
}

/**
 * The live holds in `db` (a writable connection, inside a write transaction when the answer
 * decides what to delete); holds of processes gone from this host are removed.
 */
export function liveHolds(db: Database.Database, now = Date.now()): HoldRow[] {
  db.exec(CREATE);
  const rows = db.prepare('SELECT id, host, pid, command, since, beat, group_id AS groupId, seq FROM holds').all() as HoldRow[];
  const here = hostname();
  const live: HoldRow[] = [];
  const drop = db.prepare('DELETE FROM holds WHERE id = ?');
  for (const h of rows) {
    const isLive = h.host === here ? (h.pid === process.pid || processAlive(h.pid)) : now - h.beat < REMOTE_STALE_MS;
    if (isLive) live.push(h);
    else drop.run(h.id);
  }
  return live;
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
    if (!exitHooked) {
      exitHooked = true;
      process.once('exit', () => { for (const h of [...taken]) h.release(); });
    }
  }

  /**
   * Hold `point` (or the vault's packs only, with none) of the vault in `vaultDir` for
   * `command`. TM_BAD_POINT when prune removed the point since it was resolved. A vault
   * this process cannot write (a read-only mount) gets no hold: nobody can prune it then
   * from here, and readers elsewhere are not told.
   */
  static take(vaultDir: string, command: string, point: { group: string; groupId: number; seq: number } | null): ReadHold {
    let db: Database.Database;
    try {
      db = new Database(join(vaultDir, 'index.sqlite'), { fileMustExist: true });
      db.pragma('busy_timeout = 10000');
      db.exec(CREATE);
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      if (code === 'SQLITE_READONLY' || code === 'SQLITE_CANTOPEN' || code.startsWith('SQLITE_READONLY') || isErrno(err, 'EACCES') || isErrno(err, 'EROFS')) return new ReadHold(null, 0);
      throw new TidemarkError('TM_IO', `Cannot record this reader in the vault index: ${(err as Error).message}`, { cause: err });
    }
    try {
      const now = Date.now();
      const id = db.transaction(() => {
        if (point && db.prepare('SELECT 1 FROM points WHERE group_id = ? AND seq = ?').get(point.groupId, point.seq) === undefined) {
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
    try { this.db.prepare('DELETE FROM holds WHERE id = ?').run(this.id); } catch { /* a hold left behind is removed once its process is gone */ }
    this.db.close();
    this.db = null;
  }
}
