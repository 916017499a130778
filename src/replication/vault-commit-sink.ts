/**
 * A remote vault as the end of a replication stream: received chunks and commits are
 * verified and stored with the vault's own ordering rules (Vault.storeReplicated), so the
 * vault restores any replicated point exactly as the tap's vault does. The vault shares
 * the tap vault's master key (`tidemark vault init-replica`), so chunk ids match and only
 * chunks it lacks cross the wire.
 */
import type { Vault } from '../vault/vault.js';
import type { Offer, WireBlob } from '../wire/messages.js';
import type { CommitSink } from './commit-stream.js';

export class VaultCommitSink implements CommitSink {
  constructor(private readonly vault: Vault) {}

  durableSeq(group: string): number {
    const gid = this.vault.index.groupId(group);
    return gid === undefined ? 0 : this.vault.index.lastSeq(gid);
  }

  missing(ids: readonly Buffer[]): Buffer[] {
    return ids.filter((id) => !this.vault.hasBlob(id));
  }

  apply(group: string, _offer: Offer, blobs: readonly WireBlob[]): void {
    this.vault.storeReplicated(group, blobs);
  }
}
