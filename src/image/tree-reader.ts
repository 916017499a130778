/**
 * Reads a group's tree as of a point: one entry, the children of a directory, the bytes
 * of a file. Every chunk is verified (AEAD + id) as it is read.
 */
import { TidemarkError } from '../common/errors.js';
import { displayPath } from '../common/rel-path.js';
import type { Vault } from '../vault/vault.js';
import type { TornAtPoint, VersionRow } from '../vault/index/index-db.js';
import { isUnder } from '../common/rel-path.js';
import { EntryKind, kindName, type EntryState } from '../vault/journal/journal-record.js';
import type { ResolvedPoint } from './point.js';

/**
 * The entry at `path` at the point, or undefined when it did not exist then. Torn versions
 * are skipped unless `p.includeTorn` (see `tornAtPoint`).
 */
export function entryAt(vault: Vault, p: ResolvedPoint, path: Buffer): VersionRow | undefined {
  const v = vault.index.versionAt(p.groupId, path, p.seq, p.includeTorn === true);
  return v && v.entry.kind !== EntryKind.tombstone ? v : undefined;
}

/** The live children of a directory at the point, in name order (torn versions as in `entryAt`). */
export function childrenAtPoint(vault: Vault, p: ResolvedPoint, dir: Buffer): Generator<VersionRow> {
  return vault.index.childrenAt(p.groupId, dir, p.seq, p.includeTorn === true);
}

/** A file that was being written at the point: what a read of the point gives for it. */
export interface TornReport {
  path: string;
  /** seq of its torn capture in force at the point */
  tornSeq: number;
  /** seq of its last clean version at or before the point (null: none) */
  cleanSeq: number | null;
  /** what reads of this point give: the clean version, the torn bytes (--include-torn), or nothing */
  reads: 'clean' | 'torn' | 'absent';
}

/**
 * The files whose capture in force at the point is torn (at `under` and below it): a torn
 * capture may mix several states of a file, so reads never present it as one unless asked.
 */
export function tornAtPoint(vault: Vault, p: ResolvedPoint, under: Buffer = Buffer.alloc(0)): TornReport[] {
  return vault.index.tornAt(p.groupId, p.seq).filter((t: TornAtPoint) => t.path.equals(under) || isUnder(t.path, under)).map((t) => ({
    path: displayPath(t.path), tornSeq: t.tornSeq, cleanSeq: t.cleanSeq,
    reads: p.includeTorn ? 'torn' : t.cleanSeq === null ? 'absent' : 'clean',
  }));
}

/** One line per torn file for text output. */
export function describeTorn(t: TornReport): string {
  return t.reads === 'torn' ? `TORN: ${t.path} is its capture of seq:${t.tornSeq}, read while it was being written (its bytes may mix several states)`
    : t.reads === 'clean' ? `torn: ${t.path} was being written at this point: its last clean version (seq:${t.cleanSeq}) is used; --include-torn gives the torn capture of seq:${t.tornSeq}`
      : `torn: ${t.path} was being written at this point and has no clean version: left out; --include-torn gives the torn capture of seq:${t.tornSeq}`;
}

export function requireEntry(vault: Vault, p: ResolvedPoint, path: Buffer): VersionRow {
  const v = entryAt(vault, p, path);
  if (!v) {
    const torn = p.includeTorn ? undefined : vault.index.versionAt(p.groupId, path, p.seq, true);
    if (torn?.entry.torn) {
      throw new TidemarkError('TM_NOT_FOUND', `"${displayPath(path)}" was being written at seq:${p.seq} and has no clean version at or before it`, {
        hint: `its torn capture (seq:${torn.seq}, bytes that may mix several states) is read with --include-torn`,
      });
    }
    if (path.length === 0) throw new TidemarkError('TM_NOT_FOUND', `Group "${p.group}" has no tree at seq:${p.seq}`);
    throw new TidemarkError('TM_NOT_FOUND', `"${displayPath(path)}" does not exist in group "${p.group}" at seq:${p.seq}`, {
      hint: `list what existed with \`tidemark ls ${p.group} --at seq:${p.seq}\``,
    });
  }
  return v;
}

/** The JSON shape of an entry, as `ls --json` prints it. */
export function describeEntry(v: VersionRow): Record<string, unknown> {
  const e = v.entry;
  const out: Record<string, unknown> = {
    path: displayPath(v.path), name: displayPath(v.name), type: kindName(e.kind), mode: e.mode, size: e.size,
    mtime: new Date(Number(e.mtimeNs / 1000000n)).toISOString(), uid: e.uid, gid: e.gid, seq: v.seq,
  };
  if (e.kind === EntryKind.symlink && e.target) out.target = displayPath(e.target);
  if (e.torn) out.torn = true;
  return out;
}

/** `describeEntry` of each row, with `tornAt` on the files that were being written at the point. */
export function describeEntries(rows: VersionRow[], torn: TornReport[]): Record<string, unknown>[] {
  const byPath = new Map(torn.map((t) => [t.path, t]));
  return rows.map((r) => {
    const out = describeEntry(r);
    const t = byPath.get(out.path as string);
    if (t) out.tornAt = { seq: t.tornSeq, cleanSeq: t.cleanSeq, reads: t.reads };
    return out;
  });
}

/** Yield a file's content chunk by chunk (zeros for holes). */
export function* fileChunks(vault: Vault, e: EntryState): Generator<Buffer> {
  for (const x of e.extents) {
    if (x.id === null) {
      yield Buffer.alloc(x.length);
    } else {
      const data = vault.readBlob(x.id);
      if (data.length !== x.length) throw new TidemarkError('TM_CORRUPT', `chunk ${x.id.toString('hex').slice(0, 16)} has ${data.length} bytes, the journal says ${x.length}`);
      yield data;
    }
  }
}
