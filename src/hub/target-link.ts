/**
 * One group's stream from the hub's spool to one target vault, with what the policy and
 * the metrics need: the target's acknowledged seq, whether a sync target is degraded,
 * wire bytes against captured bytes, and a throughput figure.
 */
import { TidemarkError } from '../common/errors.js';
import type { TlsIdentity } from '../pki/tls-identity.js';
import { connectMtls } from '../pki/tls-identity.js';
import { FramedConnection } from '../wire/framed-connection.js';
import { RateLimiter } from '../replication/rate-limiter.js';
import { DELTA_BLOB } from '../replication/chunk-delta.js';
import { StreamSender } from '../replication/stream-sender.js';
import type { HubSpool } from './hub-spool.js';
import type { TargetSpec } from './target-spec.js';

export class TargetLink {
  readonly sender: StreamSender;
  readonly limiter: RateLimiter;
  /** a sync target currently treated as async (policy `degrade`) */
  degraded = false;
  /** an alert was raised for the current outage */
  alerted = false;
  /** bytes sent on the wire (frames as released by the shaper) */
  wireBytes = 0;
  /** bytes the shipped commits captured (their chunks' raw sizes), whether sent or deduplicated */
  rawBytes = 0;
  commits = 0;
  /** (time, cumulative wire bytes) samples for the throughput over the last seconds */
  private readonly samples: [number, number][] = [];

  constructor(readonly spec: TargetSpec, readonly group: string, spool: HubSpool, id: TlsIdentity, log: (l: string) => void, onAck: () => void,
    onAbsent: (id: Buffer) => void) {
    this.limiter = new RateLimiter(spec.schedule);
    // Counts each frame as the limiter releases it: live wire bytes, for throughput.
    const shaper = { take: async (n: number): Promise<void> => { await this.limiter.take(n); this.wireBytes += n; this.sample(); } };
    this.sender = new StreamSender({
      group, node: id.name, target: `target ${spec.name} (${spec.url})`, log, pollMs: 200,
      source: {
        next: (g, after) => spool.next(g, after),
        lastSeq: (g) => spool.lastSeq(g),
        readDelta: (blob, base) => spool.readDelta(blob, base),
        readBlob: (blob) => {
          // Not here, or here only as a delta against a base the target lacks: the tap resends it.
          const b = spool.holds(blob) ? spool.readBlob(blob) : undefined;
          if (!b || b.type === DELTA_BLOB) {
            onAbsent(blob);
            throw new TidemarkError('TM_NOT_FOUND', `chunk ${blob.toString('hex').slice(0, 16)} is not at the hub in a form target ${spec.name} can take; the tap resends it`, { retryable: true });
          }
          return b;
        },
      },
      connect: async () => new FramedConnection(await connectMtls(id, spec.url), shaper),
      onAck: (offer) => {
        this.rawBytes += offer.rawBytes;
        this.commits++;
        onAck();
      },
    });
  }

  /** Counts toward "protected": a sync target that is not degraded. */
  get gatesProtection(): boolean {
    return this.spec.mode === 'sync' && !this.degraded;
  }

  private sample(): void {
    const now = Date.now();
    this.samples.push([now, this.wireBytes]);
    while (this.samples.length > 2 && this.samples[0]![0] < now - 10_000) this.samples.shift();
  }

  /** Wire bytes per second over the last ~10 s. */
  throughput(): number {
    const now = Date.now();
    const first = this.samples.find(([t]) => t >= now - 10_000);
    if (!first) return 0;
    const span = Math.max(1, now - first[0]);
    return ((this.wireBytes - first[1]) / span) * 1000;
  }
}
