/**
 * The sending side of a replication stream for one group: connects (again and again, with
 * backoff, after any failure), learns the receiver's durable seq, then offers commits in
 * seq order from its CommitSource — chunk ids first, only the chunks the receiver lacks
 * next. A commit counts as shipped only once the receiver acknowledged it as durable; up
 * to WINDOW commits are in flight, blobs read batch by batch as they are sent, so memory
 * stays bounded and a slow receiver slows the sender (socket backpressure reaches `send`).
 */
import { TidemarkError } from '../common/errors.js';
import { FrameType, type Frame } from '../wire/frame-codec.js';
import type { FramedConnection } from '../wire/framed-connection.js';
import { AckSchema, NeedSchema, PROTOCOL_VERSION, StateSchema, encodeBlobs, parseJson, type Need, type Offer, type WireBlob } from '../wire/messages.js';
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
/** Commits in flight (offered, not yet acknowledged) on one stream. */
const WINDOW = 4;

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
    // Commits offered and not yet acknowledged, oldest first. A new offer goes out only once
    // every commit in flight has its blobs sent, so the receiver reads offer, blobs, offer…
    // in order; it need not wait for the previous ack (one round trip per commit, not two).
    const inflight: { offer: Offer; blobsSent: boolean; wire: number; raw: number }[] = [];
    while (!this.stopping) {
      while (inflight.length < WINDOW && inflight.every((x) => x.blobsSent)) {
        const offer = this.o.source.next(g, inflight.length > 0 ? inflight[inflight.length - 1]!.offer.lastSeq : this.ackedSeq);
        if (!offer) break;
        const before = conn.bytesOut;
        await conn.send(FrameType.offer, offer);
        inflight.push({ offer, blobsSent: false, wire: conn.bytesOut - before, raw: 0 });
      }
      if (inflight.length === 0) {
        // Idle: handle frames as they come (protected) and look again at the next poll or kick.
        for (let f = conn.poll(); f; f = conn.poll()) this.unsolicited(f);
        await Promise.race([conn.wait(this.o.pollMs ?? 200), this.sleep(this.o.pollMs ?? 200)]);
        this.kick();
        continue;
      }
      // Replies come in offer order: `need` for the one commit awaiting it, `ack` for the oldest.
      const reply = await this.recv(conn, FrameType.need, FrameType.ack);
      if (reply.type === FrameType.need) {
        const item = inflight.find((x) => !x.blobsSent);
        const need = parseJson(reply, NeedSchema, 'need');
        if (!item || need.commit !== item.offer.commit) throw new TidemarkError('TM_PROTOCOL', `need for commit ${need.commit.slice(0, 16)} that awaits no blobs`);
        const before = conn.bytesOut;
        item.raw = await this.sendBlobs(conn, item.offer, need);
        item.wire += conn.bytesOut - before;
        item.blobsSent = true;
        continue;
      }
      const ack = parseJson(reply, AckSchema, 'ack');
      const head = inflight.shift();
      if (!head || ack.seq !== head.offer.lastSeq) throw new TidemarkError('TM_PROTOCOL', `ack for seq:${ack.seq} while seq:${head?.offer.lastSeq ?? 'none'} was expected`);
      this.ackedSeq = ack.seq;
      this.lastContact = Date.now();
      this.bytesSent += head.wire;
      this.o.onAck?.(head.offer, head.wire, head.raw);
    }
  }

  /** Send the needed chunks (as deltas where accepted) and the commit, in ~BATCH_BYTES frames; returns their raw bytes. */
  private async sendBlobs(conn: FramedConnection, offer: Offer, need: Need): Promise<number> {
    // Read as they are sent: memory holds one batch.
    let raw = 0;
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
    return raw;
  }
}
