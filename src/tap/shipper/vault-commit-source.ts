/**
 * The tap's local vault as the start of a replication stream: its index lists the
 * group's commits in seq order and its packs hold them sealed, so the local vault is
 * also the tap's durable spool — nothing is shipped that is not durable here first, and
 * an outage of any length only leaves commits waiting in it (bounded by retention, never
 * by memory). The commit is opened (the tap has the key) only to list the chunk ids it
 * references; blobs are shipped exactly as sealed.
 */
import { TidemarkError } from '../../common/errors.js';
import { decodeCommit } from '../../vault/journal/commit-codec.js';
import { EntryKind, isCompacted, type JournalRecord } from '../../vault/journal/journal-record.js';
import { DELTA_BLOB, deltaAad, encodeDelta } from '../../replication/chunk-delta.js';
import { Vault } from '../../vault/vault.js';
import type { Offer, WireBlob } from '../../wire/messages.js';
import type { CommitSource } from '../../replication/commit-stream.js';

export class VaultCommitSource implements CommitSource {
  private cached: { key: string; offer: Offer } | null = null;

  constructor(private readonly vault: Vault) {}

  lastSeq(group: string): number {
    const gid = this.vault.index.groupId(group);
    return gid === undefined ? 0 : this.vault.index.lastSeq(gid);
  }

  next(group: string, afterSeq: number): Offer | undefined {
    const gid = this.vault.index.groupId(group);
    if (gid === undefined) return undefined;
    const row = this.vault.index.stmt('SELECT blob, first_seq AS firstSeq, last_seq AS lastSeq FROM commits WHERE group_id = ? AND last_seq > ? ORDER BY last_seq, first_seq LIMIT 1')
      .get(gid, afterSeq) as { blob: Buffer; firstSeq: number; lastSeq: number } | undefined;
    if (!row) return undefined;
    const key = row.blob.toString('hex');
    if (this.cached?.key === key) return this.cached.offer;
    const c = decodeCommit(this.vault.readBlob(row.blob), `commit ${key.slice(0, 16)}`);
    const chunks = Vault.chunkIdsOf(c);
    let rawBytes = 0;
    for (const id of chunks) rawBytes += this.vault.index.blob(id)?.rawLength ?? 0;
    const times = isCompacted(c) ? c.points.map((p) => p.time) : c.records.map((r) => r.time);
    const offer: Offer = {
      commit: key, firstSeq: row.firstSeq, lastSeq: row.lastSeq, time: Math.max(0, ...times),
      chunks: chunks.map((b) => b.toString('hex')), rawBytes,
    };
    if (!isCompacted(c)) {
      const bases = this.bases(gid, c.records);
      if (Object.keys(bases).length > 0) offer.bases = bases;
    }
    this.cached = { key, offer };
    return offer;
  }

  /**
   * For each chunk a file's new version has and its previous version had not: the previous
   * version's chunk at the same offset (an in-place edit or an append changes a chunk
   * mostly into a similar one), for the receiver to take as a delta.
   */
  private bases(gid: number, records: readonly JournalRecord[]): Record<string, string> {
    const out: Record<string, string> = {};
    for (const rec of records) {
      if (rec.op !== 'put' || rec.entry.kind !== EntryKind.file) continue;
      // A torn previous version is still the closest base there is.
      const prev = this.vault.index.versionAt(gid, rec.path, rec.seq - 1, true);
      if (!prev || prev.entry.kind !== EntryKind.file) continue;
      const old: { start: number; end: number; id: Buffer }[] = [];
      let at = 0;
      for (const e of prev.entry.extents) {
        if (e.id) old.push({ start: at, end: at + e.length, id: e.id });
        at += e.length;
      }
      const had = new Set(old.map((x) => x.id.toString('hex')));
      at = 0;
      for (const e of rec.entry.extents) {
        const hex = e.id?.toString('hex');
        if (hex && !had.has(hex)) {
          const base = old.find((x) => x.start <= at && at < x.end) ?? old[old.length - 1];
          if (base) out[hex] = base.id.toString('hex');
        }
        at += e.length;
      }
    }
    return out;
  }

  /** The chunk as a delta against `base`, when that is smaller than the chunk as stored. */
  readDelta(id: Buffer, base: Buffer): WireBlob | undefined {
    const stored = this.vault.readSealed(id);
    if (!stored || !this.vault.index.hasBlob(base)) return undefined;
    const delta = encodeDelta(this.vault.readBlob(id), this.vault.readBlob(base));
    if (delta.length + 60 >= stored.sealed.length) return undefined;
    const sealed = Buffer.concat([base, this.vault.sealer.encrypt(deltaAad(base, id), delta)]);
    return { type: DELTA_BLOB, flags: 0, id, rawLength: stored.rawLength, sealed };
  }

  readBlob(id: Buffer): WireBlob {
    const b = this.vault.readSealed(id);
    if (!b) throw new TidemarkError('TM_CORRUPT', `blob ${id.toString('hex').slice(0, 16)} is not in the tap's vault`, { hint: 'run `tidemark verify` on the tap\'s vault' });
    return { ...b, id };
  }
}
