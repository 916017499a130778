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
import { isCompacted } from '../../vault/journal/journal-record.js';
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
    this.cached = { key, offer };
    return offer;
  }

  readBlob(id: Buffer): WireBlob {
    const b = this.vault.readSealed(id);
    if (!b) throw new TidemarkError('TM_CORRUPT', `blob ${id.toString('hex').slice(0, 16)} is not in the tap's vault`, { hint: 'run `tidemark verify` on the tap\'s vault' });
    return { ...b, id };
  }
}
