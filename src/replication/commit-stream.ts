/**
 * The two interfaces a replication stream runs between. Each leg of tap → hub → vault is
 * a CommitSource on the sending side and a CommitSink on the receiving side; the protocol
 * (stream-sender.ts, stream-receiver.ts) knows nothing else about either.
 *
 * Implementations: the tap's local vault (vault-commit-source.ts) is a source; the hub's
 * disk spool (hub/hub-spool.ts) is both; a remote vault (vault-commit-sink.ts) is a sink.
 */
import type { Offer, WireBlob } from '../wire/messages.js';

export interface CommitSource {
  /**
   * The group's next commit to send after `afterSeq` (the receiver's durable seq), or
   * undefined when there is none yet. It MUST be the commit that continues `afterSeq`
   * (first seq = afterSeq + 1), or one that replaces the journal through its last seq.
   */
  next(group: string, afterSeq: number): Offer | undefined;
  /** A stored sealed blob (a chunk the receiver asked for, or a commit) by id. */
  readBlob(id: Buffer): WireBlob;
  /**
   * The chunk `id` as a delta against `base` (chunk-delta.ts), or undefined when it is not
   * worth it or not possible; then `readBlob` is used. Sources without the key may return a
   * delta they stored as it is.
   */
  readDelta?(id: Buffer, base: Buffer): WireBlob | undefined;
  /** The group's newest seq the source holds (for lag and backlog figures). */
  lastSeq(group: string): number;
}

export interface CommitSink {
  /** The group's last seq this sink holds durably (0: nothing yet); a sender resumes after it. */
  durableSeq(group: string): number;
  /** Of `ids`, those the sink does not hold (so the sender must send them). */
  missing(ids: readonly Buffer[]): Buffer[];
  /** Of the (chunk, base) pairs, the chunks the sink can take as a delta (it holds the base). */
  deltasOk?(pairs: readonly [Buffer, Buffer][]): Buffer[];
  /**
   * Start receiving a commit: its needed chunks come through `add` in batches (memory stays
   * bounded by one batch, whatever the commit's size), then the commit blob through `finish`.
   */
  begin(group: string, offer: Offer): Promise<CommitWriter> | CommitWriter;
}

/** One commit being received. */
export interface CommitWriter {
  /** Store a batch of chunks the sink asked for (sealed, as sent). */
  add(chunks: readonly WireBlob[]): void;
  /** Store the commit blob and apply the commit; MUST return only once all of it is durable. */
  finish(commit: WireBlob): void;
  /** The session ended before `finish`: forget what is not durable. */
  abort(): void;
}
