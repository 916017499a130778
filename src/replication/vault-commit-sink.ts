/**
 * A remote vault as the end of a replication stream: received chunks and commits are
 * verified and stored with the vault's own ordering rules (Vault.storeReplicated), so the
 * vault restores any replicated point exactly as the tap's vault does. The vault shares
 * the tap vault's master key (`tidemark vault init-replica`), so chunk ids match and only
 * chunks it lacks cross the wire.
 */
import type { Vault } from '../vault/vault.js';
import type { CommitSink, CommitWriter } from './commit-stream.js';

export class VaultCommitSink implements CommitSink {
  constructor(private readonly vault: Vault) {}

  durableSeq(group: string): number {
    const gid = this.vault.index.groupId(group);
    return gid === undefined ? 0 : this.vault.index.lastSeq(gid);
  }

  missing(ids: readonly Buffer[]): Buffer[] {
    return ids.filter((id) => !this.vault.hasBlob(id));
  }

  begin(group: string): CommitWriter {
    return {
      add: (chunks) => { this.vault.storeReplicated(group, chunks); },
      finish: (commit) => { this.vault.storeReplicated(group, [commit]); },
      // Chunks already added stay in the vault's open pack: stored with the next pack,
      // reused by the resent commit, or left unreferenced for prune.
      abort: () => undefined,
    };
  }
}
