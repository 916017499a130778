/**
 * A remote vault as the end of a replication stream: received chunks and commits are
 * verified and stored with the vault's own ordering rules (Vault.storeReplicated), so the
 * vault restores any replicated point exactly as the tap's vault does. The vault shares
 * the tap vault's master key (`tidemark vault init-replica`), so chunk ids match and only
 * chunks it lacks cross the wire.
 */
import type { Vault } from '../vault/vault.js';
import { TidemarkError } from '../common/errors.js';
import type { WireBlob } from '../wire/messages.js';
import type { CommitSink, CommitWriter } from './commit-stream.js';
import { DELTA_BLOB, decodeDelta, deltaAad } from './chunk-delta.js';

export class VaultCommitSink implements CommitSink {
  constructor(private readonly vault: Vault) {}

  durableSeq(group: string): number {
    const gid = this.vault.index.groupId(group);
    return gid === undefined ? 0 : this.vault.index.lastSeq(gid);
  }

  missing(ids: readonly Buffer[]): Buffer[] {
    return ids.filter((id) => !this.vault.hasBlob(id));
  }

  deltasOk(pairs: readonly [Buffer, Buffer][]): Buffer[] {
    // Only bases already in a durable pack: a delta is opened against the base's plaintext.
    return pairs.filter(([, base]) => this.vault.index.hasBlob(base)).map(([id]) => id);
  }

  /** A delta blob turned into the chunk it stands for, sealed as this vault stores chunks. */
  private undelta(b: WireBlob): WireBlob {
    const base = b.sealed.subarray(0, 32);
    const what = `received delta of chunk ${b.id.toString('hex').slice(0, 16)}`;
    const delta = this.vault.sealer.decrypt(deltaAad(base, b.id), b.sealed.subarray(32), what);
    const plain = decodeDelta(delta, this.vault.readBlob(base), b.rawLength, what);
    if (!this.vault.sealer.id(plain).equals(b.id)) throw new TidemarkError('TM_CORRUPT', `${what}: the rebuilt chunk does not match its id`);
    const s = this.vault.sealer.seal(b.id, plain);
    return { type: 0, flags: s.flags, id: b.id, rawLength: s.rawLength, sealed: s.sealed };
  }

  begin(group: string): CommitWriter {
    return {
      add: (chunks) => { this.vault.storeReplicated(group, chunks.map((b) => (b.type === DELTA_BLOB ? this.undelta(b) : b))); },
      finish: (commit) => { this.vault.storeReplicated(group, [commit]); },
      // Chunks already added stay in the vault's open pack: stored with the next pack,
      // reused by the resent commit, or left unreferenced for prune.
      abort: () => undefined,
    };
  }
}
