/**
 * The sending side of a replication stream for one group: connects (again and again, with
 * backoff, after any failure), learns the receiver's durable seq, then offers commits in
 * seq order from its CommitSource — chunk ids first, only the chunks the receiver lacks
 * next — and moves on only when the receiver acknowledged the commit as durable. One
 * commit is in flight at a time, so memory is bounded by one commit's blobs and a slow
 * receiver slows the sender (the socket's backpressure reaches `send`).
 */
import { TidemarkError } from '../common/errors.js';
import { FrameType, type Frame } from '../wire/frame-codec.js';
import type { FramedConnection } from '../wire/framed-connection.js';
import { AckSchema, NeedSchema, PROTOCOL_VERSION, StateSchema, encodeBlobs, parseJson, type Offer, type WireBlob } from '../wire/messages.js';
import type { CommitSource } from './commit-stream.js';

export interface SenderOptions {
  group: string;
  /** this node's name, sent in hello */
  node: string;
  /** what the receiver is called in log lines */
  target: string;
  source: CommitSource;
  connect: () => Promise<FramedConnection>;
  log: (line: string) => void;
  /** how often to look for new commits when idle */
  pollMs?: number;
  onAck?: (offer: Offer, wireBytes: number, rawBytes: number) => void;
  /** the receiver (a hub) reports every sync target durably has `seq` */
  onProtected?: (seq: number) => void;
}

/** Blobs per `blobs` frame: small enough to shape smoothly and bound memory, large enough to be cheap. */
const BATCH_BYTES = 256 * 1024;

/** One group's stream to one receiver; `run` until `stop`. */
export class StreamSender {
  connected = false;
  /** the receiver's durable seq, as last acknowledged or stated (-1: not known yet) */
  ackedSeq = -1;
  lastError: string | null = null;
  /** when the receiver was last connected or acknowledged (ms), for outage policies */
  lastContact = Date.now();
  bytesSent = 0;
  private stopping = false;
  private wakeUp: (() => void) | null = null;
  private conn: FramedConnection | null = null;
  private readonly done: Promise<void>;

  constructor(private readonly o: SenderOptions) {
    this.done = this.loop();
  }

  /** Look for new commits now instead of at the next poll. */
  kick(): void {
    const w = this.wakeUp;
    this.wakeUp = null;
    w?.();
  }

  /** Stop after the commit in flight; resolves when the loop has ended. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.kick();
    this.conn?.close();
    await this.done;
  }

  /** Wait until the receiver acknowledged `seq` (true) or `ms` passed (false). */
  async waitAcked(seq: number, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (this.ackedSeq < seq && Date.now() < deadline && !this.stopping) await new Promise((r) => setTimeout(r, 50));
    return this.ackedSeq >= seq;
  }

  private async loop(): Promise<void> {
    let backoff = 250;
    while (!this.stopping) {
      try {
        this.conn = await this.o.connect();
        this.connected = true;
        this.lastContact = Date.now();
        if (this.lastError) this.o.log(`reconnected to ${this.o.target} for group "${this.o.group}"`);
        this.lastError = null;
        backoff = 250;
        await this.session(this.conn);
      } catch (err) {
        const msg = (err as Error).message;
        if (!this.stopping && msg !== this.lastError) this.o.log(`stream of group "${this.o.group}" to ${this.o.target}: ${msg}; retrying`);
        this.lastError = msg;
      } finally {
        this.connected = false;
        this.conn?.close();
        this.conn = null;
      }
      if (!this.stopping) {
        await this.sleep(backoff);
        backoff = Math.min(5000, backoff * 2);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((res) => {
      const t = setTimeout(() => { this.wakeUp = null; res(); }, ms);
      this.wakeUp = () => { clearTimeout(t); res(); };
    });
  }

  /** Handle a frame that may arrive at any time (protected); anything else is an error. */
  private unsolicited(f: Frame): void {
    if (f.type === FrameType.protected) {
      this.o.onProtected?.(parseJson(f, AckSchema, 'protected').seq);
      return;
    }
    if (f.type === FrameType.error) throw new TidemarkError('TM_PROTOCOL', `peer reported: ${f.payload.toString('utf8').slice(0, 500)}`, { retryable: true });
    throw new TidemarkError('TM_PROTOCOL', `unexpected frame type ${f.type}`);
  }

  /** The next frame of one of `types`, handling `protected` frames that come in between. */
  private async recv(conn: FramedConnection, ...types: number[]): Promise<Frame> {
    for (;;) {
      const f = await conn.next(5 * 60_000);
      if (types.includes(f.type)) return f;
      this.unsolicited(f);
    }
  }

  private async session(conn: FramedConnection): Promise<void> {
    const g = this.o.group;
    await conn.send(FrameType.hello, { proto: PROTOCOL_VERSION, group: g, node: this.o.node });
    const state = parseJson(await this.recv(conn, FrameType.state), StateSchema, 'state');
    this.ackedSeq = state.durableSeq;
    while (!this.stopping) {
      const offer = this.o.source.next(g, this.ackedSeq);
      if (!offer) {
        // Idle: handle frames as they come (protected) and look again at the next poll or kick.
        for (let f = conn.poll(); f; f = conn.poll()) this.unsolicited(f);
        await Promise.race([conn.wait(this.o.pollMs ?? 200), this.sleep(this.o.pollMs ?? 200)]);
        this.kick();
        continue;
      }
      const before = conn.bytesOut;
      await conn.send(FrameType.offer, offer);
      // The receiver answers `need`, or `ack` at once when it holds the commit already.
      let reply = await this.recv(conn, FrameType.need, FrameType.ack);
      let raw = 0;
      if (reply.type === FrameType.need) {
        const need = parseJson(reply, NeedSchema, 'need');
        if (need.commit !== offer.commit) throw new TidemarkError('TM_PROTOCOL', `need for commit ${need.commit.slice(0, 16)} while ${offer.commit.slice(0, 16)} was offered`);
        // Batches of about BATCH_BYTES, read as they are sent: memory holds one batch.
        let batch: WireBlob[] = [];
        let size = 0;
        const ids = [...need.ids, offer.commit];
        const deltas = new Set(need.deltas ?? []);
        for (let i = 0; i < ids.length; i++) {
          const id = Buffer.from(ids[i]!, 'hex');
          const base = deltas.has(ids[i]!) ? offer.bases?.[ids[i]!] : undefined;
          const b = (base && this.o.source.readDelta?.(id, Buffer.from(base, 'hex'))) || this.o.source.readBlob(id);
          raw += b.rawLength;
          batch.push(b);
          size += b.sealed.length;
          if (size >= BATCH_BYTES || i === ids.length - 1) {
            await conn.send(FrameType.blobs, encodeBlobs(batch), false);
            batch = [];
            size = 0;
          }
        }
        reply = await this.recv(conn, FrameType.ack);
      }
      const ack = parseJson(reply, AckSchema, 'ack');
      if (ack.seq !== offer.lastSeq) throw new TidemarkError('TM_PROTOCOL', `ack for seq:${ack.seq} while seq:${offer.lastSeq} was sent`);
      this.ackedSeq = ack.seq;
      this.lastContact = Date.now();
      const wire = conn.bytesOut - before;
      this.bytesSent += wire;
      this.o.onAck?.(offer, wire, raw);
    }
  }
}
