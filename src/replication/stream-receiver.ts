/**
 * The receiving side of one replication session (one group per connection): says where
 * the sender should resume, answers each offer with the chunks it lacks, stores what it
 * gets through its CommitSink and acknowledges a commit only after the sink made it durable.
 */
import { TidemarkError } from '../common/errors.js';
import { FrameType } from '../wire/frame-codec.js';
import type { FramedConnection } from '../wire/framed-connection.js';
import { HelloSchema, OfferSchema, decodeBlobs, parseJson, type Offer } from '../wire/messages.js';
import type { CommitSink } from './commit-stream.js';
import { DELTA_BLOB } from './chunk-delta.js';

export interface ReceiverHooks {
  /** the group of the session is known (a hub uses it to push `protected` frames) */
  onHello?: (group: string, conn: FramedConnection) => void;
  /** a commit was acknowledged */
  onAck?: (group: string, offer: Offer, wireBytes: number) => void;
  log: (line: string) => void;
}

/** Serve one session until the peer closes; every error closes it with an error frame. */
export async function serveStream(conn: FramedConnection, sink: CommitSink, peer: string, hooks: ReceiverHooks): Promise<void> {
  let group = '?';
  try {
    const hello = parseJson(await conn.expect(FrameType.hello, 30_000), HelloSchema, 'hello');
    group = hello.group;
    const durable = sink.durableSeq(group);
    await conn.send(FrameType.state, { group, durableSeq: durable });
    hooks.log(`peer ${peer} streams group "${group}", resuming after seq:${durable}`);
    hooks.onHello?.(group, conn);
    for (;;) {
      let f;
      try {
        // No deadline: an idle tap sends nothing; TCP keepalive finds a peer that died silently.
        f = await conn.expect(FrameType.offer);
      } catch (err) {
        if (err instanceof TidemarkError && err.code === 'TM_UNREACHABLE') { conn.close(); return; } // the sender went away
        throw err;
      }
      const offer = parseJson(f, OfferSchema, 'offer');
      let wire = f.wireBytes;
      const have = sink.durableSeq(group);
      if (offer.lastSeq <= have) {
        // Already durable here (a resend after a lost ack): acknowledge without data.
        await conn.send(FrameType.ack, { group, seq: offer.lastSeq });
        continue;
      }
      if (offer.firstSeq > have + 1 || offer.lastSeq < offer.firstSeq) {
        throw new TidemarkError('TM_PROTOCOL', `group "${group}": offer seq:${offer.firstSeq}..${offer.lastSeq} does not continue seq:${have}`);
      }
      const need = sink.missing(offer.chunks.map((h) => Buffer.from(h, 'hex')));
      const bases = offer.bases ?? {};
      const pairs = need.filter((id) => bases[id.toString('hex')]).map((id): [Buffer, Buffer] => [id, Buffer.from(bases[id.toString('hex')]!, 'hex')]);
      const deltas = new Set((pairs.length > 0 ? sink.deltasOk?.(pairs) ?? [] : []).map((b) => b.toString('hex')));
      await conn.send(FrameType.need, { commit: offer.commit, ids: need.map((b) => b.toString('hex')), deltas: [...deltas] });
      const wanted = new Set(need.map((b) => b.toString('hex')));
      const writer = await sink.begin(group, offer);
      try {
        // Batches of chunks, the last one ending with the commit blob.
        for (;;) {
          const bf = await conn.expect(FrameType.blobs, 5 * 60_000);
          wire += bf.wireBytes;
          const blobs = decodeBlobs(bf.payload);
          const last = blobs[blobs.length - 1];
          const commit = last?.type === 1 ? last : undefined;
          const chunks = commit ? blobs.slice(0, -1) : blobs;
          for (const b of chunks) {
            const hex = b.id.toString('hex');
            const asDelta = b.type === DELTA_BLOB && deltas.has(hex) && b.sealed.subarray(0, 32).toString('hex') === bases[hex];
            if ((b.type !== 0 && !asDelta) || !wanted.delete(hex)) throw new TidemarkError('TM_PROTOCOL', `group "${group}": peer sent blob ${hex.slice(0, 16)} (type ${b.type}) that was not asked for`);
          }
          writer.add(chunks);
          if (!commit) continue;
          if (commit.id.toString('hex') !== offer.commit) throw new TidemarkError('TM_PROTOCOL', `group "${group}": commit ${commit.id.toString('hex').slice(0, 16)} sent for offer ${offer.commit.slice(0, 16)}`);
          if (wanted.size > 0) throw new TidemarkError('TM_PROTOCOL', `group "${group}": peer left out ${wanted.size} chunk(s) that were asked for`);
          writer.finish(commit);
          break;
        }
      } catch (err) {
        writer.abort();
        throw err;
      }
      await conn.send(FrameType.ack, { group, seq: offer.lastSeq });
      hooks.onAck?.(group, offer, wire);
    }
  } catch (err) {
    hooks.log(`session with ${peer} (group "${group}") ended: ${(err as Error).message}`);
    await conn.closeWithError(err);
  }
}
