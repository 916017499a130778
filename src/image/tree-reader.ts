/**
 * Reads a group's tree as of a point: one entry, the children of a directory, the bytes
 * of a file. Every chunk is verified (AEAD + id) as it is read.
 */
import { TidemarkError } from '../common/errors.js';
import { displayPath } from '../common/rel-path.js';
import type { Vault } from '../vault/vault.js';
import type { VersionRow } from '../vault/index/index-db.js';
import { EntryKind, kindName, type EntryState } from '../vault/journal/journal-record.js';
import type { ResolvedPoint } from './point.js';

/** The entry at `path` at the point, or undefined when it did not exist then. */
export function entryAt(vault: Vault, p: ResolvedPoint, path: Buffer): VersionRow | undefined {
  const v = vault.index.versionAt(p.groupId, path, p.seq);
  return v && v.entry.kind !== EntryKind.tombstone ? v : undefined;
}

export function requireEntry(vault: Vault, p: ResolvedPoint, path: Buffer): VersionRow {
  const v = entryAt(vault, p, path);
  if (!v) {
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
  return out;
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
