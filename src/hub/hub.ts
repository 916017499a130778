/**
 * The hub: receives taps' change streams over mutual TLS into its disk spool, fans each
 * group out to every target vault, and applies the policy:
 *
 * - a tap's commit is acknowledged once durable in the spool; it is reported `protected`
 *   once every sync target (not degraded) acknowledged it — with no sync target, once spooled;
 * - a sync target unreachable for longer than its timeout: `degrade` turns it async with an
 *   ALERT line until it has caught up; `block` keeps it gating (protection stops advancing)
 *   and raises the ALERT once;
 * - the spool keeps a commit until every target acknowledged it; when it would outgrow
 *   `spoolMax`, commits only disconnected async/degraded targets still need are dropped from it
 *   and those targets are later resynchronised from the tap (whose vault keeps everything):
 *   the hub lowers its floor and makes the tap resend — nothing is silently lost.
 */
import type tls from 'node:tls';
import { TidemarkError } from '../common/errors.js';
import { createMtlsServer, type TlsIdentity } from '../pki/tls-identity.js';
import { FrameType } from '../wire/frame-codec.js';
import { FramedConnection } from '../wire/framed-connection.js';
import type { Offer } from '../wire/messages.js';
import type { CommitSink } from '../replication/commit-stream.js';
import { serveStream } from '../replication/stream-receiver.js';
import { HubSpool } from './hub-spool.js';
import { TargetLink } from './target-link.js';
import type { TargetSpec } from './target-spec.js';
import { RateProfile } from './rate-profile.js';
import { serveEnrolment } from './enrolment-service.js';

export interface HubOptions {
  stateDir: string;
  identity: TlsIdentity;
  targets: TargetSpec[];
  spoolMax: number;
  /** a CA directory: when given, the hub redeems enrolment tokens (`tidemark pki enroll`) */
  caDir?: string;
  /** node names allowed to stream to the hub (taps); empty: any node of the CA */
  allow?: string[];
  log: (line: string) => void;
}

export class Hub {
  readonly spool: HubSpool;
  readonly links = new Map<string, TargetLink[]>();
  private readonly taps = new Map<string, Set<FramedConnection>>();
  /** each connected tap's node name and address, and since when it is connected */
  private readonly peers = new Map<FramedConnection, { peer: string; since: number }>();
  private readonly protectedSeq = new Map<string, { seq: number; at: number }>();
  /** per group: bytes and commits received, the last one's capture time and when it arrived */
  readonly captured = new Map<string, { bytes: number; commits: number; lastTime: number; receivedAt: number }>();
  readonly profile: RateProfile;
  private server: tls.Server | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(readonly o: HubOptions) {
    this.spool = new HubSpool(`${o.stateDir}/spool`);
    this.profile = new RateProfile(`${o.stateDir}/profile`);
    this.spool.onStored = (group, offer) => this.stored(group, offer);
    for (const g of this.spool.groupNames()) this.ensureGroup(g);
  }

  /** Listen on host:port; resolves with the bound port. */
  async listen(host: string, port: number): Promise<number> {
    const sink = this.boundedSink();
    this.server = createMtlsServer(this.o.identity, {
      log: this.o.log,
      allow: this.o.allow,
      onUnauthenticated: (socket, reason) => {
        if (!this.o.caDir) return false;
        void serveEnrolment(socket, this.o.caDir, reason, this.o.log);
        return true;
      },
      onPeer: (socket, name) => {
        const conn = new FramedConnection(socket);
        void serveStream(conn, sink, `${name}@${socket.remoteAddress ?? '?'}`, {
          log: this.o.log,
          onHello: (group, c) => {
            this.ensureGroup(group);
            let set = this.taps.get(group);
            if (!set) { set = new Set(); this.taps.set(group, set); }
            set.add(c);
            this.peers.set(c, { peer: `${name}@${socket.remoteAddress ?? '?'}`, since: Date.now() });
            socket.once('close', () => { set.delete(c); this.peers.delete(c); });
            void this.sendProtected(group, c);
          },
        });
      },
    });
    await new Promise<void>((res, rej) => { this.server!.once('error', rej); this.server!.listen(port, host, () => res()); });
    this.timer = setInterval(() => this.tick(), 250);
    const addr = this.server.address();
    return typeof addr === 'object' && addr ? addr.port : port;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.server?.close();
    for (const set of this.taps.values()) for (const c of set) c.close();
    await Promise.all([...this.links.values()].flat().map((l) => l.sender.stop()));
    this.profile.flush();
  }

  private ensureGroup(group: string): void {
    if (this.links.has(group)) return;
    this.links.set(group, this.o.targets.filter((t) => t.groups === null || t.groups.includes(group)).map((t) => {
      const link: TargetLink = new TargetLink(t, group, this.spool, this.o.identity, this.o.log, () => this.acked(group), (id) => this.absent(group, link, id));
      return link;
    }));
  }

  /** The spool as the taps' sink, holding a commit back while the spool is over its bound. */
  private boundedSink(): CommitSink {
    return {
      durableSeq: (g) => this.spool.durableSeq(g),
      missing: (ids) => this.spool.missing(ids),
      deltasOk: (pairs) => this.spool.deltasOk(pairs),
      begin: async (group: string, offer: Offer) => {
        // The commit's raw size bounds its sealed size closely enough to make room first.
        const size = offer.rawBytes + 4096;
        for (let warned = false; this.spool.bytes + size > this.o.spoolMax && this.spool.bytes > 0;) {
          this.evict();
          if (this.spool.bytes + size <= this.o.spoolMax) break;
          if (!warned) this.o.log(`spool full (${this.spool.bytes} of ${this.o.spoolMax} bytes): holding the taps back until the connected targets catch up`);
          warned = true;
          await new Promise((r) => setTimeout(r, 200));
        }
        return this.spool.begin(group, offer);
      },
    };
  }

  private stored(group: string, offer: Offer): void {
    const c = this.captured.get(group) ?? { bytes: 0, commits: 0, lastTime: 0, receivedAt: 0 };
    c.bytes += offer.rawBytes;
    c.commits++;
    c.lastTime = Math.max(c.lastTime, offer.time);
    c.receivedAt = Date.now();
    this.captured.set(group, c);
    this.profile.record(group, offer.rawBytes, Date.now());
    for (const l of this.links.get(group) ?? []) l.sender.kick();
    this.acked(group);
  }

  /** A target acknowledged (or the spool stored) something: update protection and collect. */
  private acked(group: string): void {
    const links = this.links.get(group) ?? [];
    const durable = this.spool.durableSeq(group);
    let prot = durable;
    for (const l of links) if (l.gatesProtection) prot = Math.min(prot, Math.max(0, l.sender.ackedSeq));
    if (prot > (this.protectedSeq.get(group)?.seq ?? -1)) {
      this.protectedSeq.set(group, { seq: prot, at: Date.now() });
      for (const c of this.taps.get(group) ?? []) void this.sendProtected(group, c);
    }
    if (links.length > 0 && links.every((l) => l.sender.ackedSeq >= 0)) {
      this.spool.collect(group, Math.min(...links.map((l) => l.sender.ackedSeq)), true);
    }
  }

  private async sendProtected(group: string, c: FramedConnection): Promise<void> {
    const seq = this.protectedSeq.get(group)?.seq;
    if (seq === undefined) return;
    try { await c.send(FrameType.protected, { group, seq }); } catch { /* the tap went away; it learns the state on reconnect */ }
  }

  /** Spool over its bound: drop what only lagging async (or degraded) targets still need. */
  private evict(): void {
    for (const [group, links] of this.links) {
      const beyond = this.spool.dropAfterGap(group);
      if (beyond > 0) this.o.log(`spool over ${this.o.spoolMax} bytes: dropped ${beyond} bytes of group "${group}" received after a gap at seq:${this.spool.durableSeq(group) + 1}; the tap resends them`);
      // Kept for: sync targets that gate protection, and any connected target (it is
      // catching up: waiting for it is backpressure, dropping its next commits a livelock).
      const holding = links.filter((l) => l.gatesProtection || l.sender.connected);
      const upTo = Math.min(this.spool.durableSeq(group), ...holding.map((l) => Math.max(0, l.sender.ackedSeq)));
      if (upTo <= this.spool.floor(group)) continue;
      const lagging = links.filter((l) => !holding.includes(l) && l.sender.ackedSeq < upTo);
      const freed = this.spool.collect(group, upTo, false);
      if (freed > 0) {
        this.o.log(`ALERT: spool over ${this.o.spoolMax} bytes: dropped group "${group}" commits through seq:${upTo} from the spool; ` +
          `${lagging.map((l) => `target ${l.spec.name} (at seq:${l.sender.ackedSeq})`).join(', ') || 'no target'} will be resynchronised from the tap`);
      }
    }
  }

  /** Every 250 ms: outage policies, and targets that need commits the spool dropped. */
  private tick(): void {
    const now = Date.now();
    for (const [group, links] of this.links) {
      const durable = this.spool.durableSeq(group);
      for (const l of links) {
        const behind = l.sender.ackedSeq < durable;
        const out = !l.sender.connected && now - l.sender.lastContact > l.spec.timeoutMs;
        if (l.spec.mode === 'sync' && out && !l.alerted) {
          l.alerted = true;
          if (l.spec.outage === 'degrade') {
            l.degraded = true;
            this.o.log(`ALERT: sync target ${l.spec.name} unreachable for over ${l.spec.timeoutMs} ms: group "${group}" degraded to async for it (policy degrade); changes are reported protected without it`);
            this.acked(group);
          } else {
            this.o.log(`ALERT: sync target ${l.spec.name} unreachable for over ${l.spec.timeoutMs} ms: group "${group}" changes after seq:${Math.max(0, l.sender.ackedSeq)} are not protected until it is back (policy block)`);
          }
        }
        if (l.sender.connected && l.alerted && !behind) {
          l.alerted = false;
          if (l.degraded) {
            l.degraded = false;
            this.o.log(`sync target ${l.spec.name} caught up with group "${group}" at seq:${l.sender.ackedSeq}: synchronous again`);
          } else {
            this.o.log(`sync target ${l.spec.name} is back for group "${group}" at seq:${l.sender.ackedSeq}`);
          }
        }
        if (l.sender.connected && l.sender.ackedSeq >= 0 && this.spool.hasGap(group, l.sender.ackedSeq)) this.resync(group, l);
      }
    }
  }

  /**
   * A target asked for a chunk every target was thought to hold, and the spool no longer
   * has it (the vault was replaced or pruned): forget what was delivered, drop the spooled
   * commits after the target's seq and have the taps resend them — with that chunk.
   */
  private absent(group: string, l: TargetLink, id: Buffer): void {
    const at = Math.max(0, l.sender.ackedSeq);
    this.spool.forgetDelivered();
    this.spool.truncateAfter(group, at);
    this.o.log(`target ${l.spec.name} lacks chunk ${id.toString('hex').slice(0, 16)}, which left the spool: asking the tap to resend group "${group}" from seq:${at + 1}`);
    this.kickTaps(group, at);
  }

  private kickTaps(group: string, at: number): void {
    for (const c of this.taps.get(group) ?? []) {
      void c.closeWithError(new TidemarkError('TM_PROTOCOL', `resend group "${group}" from seq:${at + 1}`, { retryable: true }));
    }
  }

  /** A target needs commits the spool no longer holds: have the taps resend them. */
  private resync(group: string, l: TargetLink): void {
    const at = l.sender.ackedSeq;
    if (at >= this.spool.floor(group)) return;
    this.spool.lowerFloor(group, at);
    this.spool.forgetDelivered();
    this.o.log(`target ${l.spec.name} needs group "${group}" from seq:${at + 1}, which left the spool: asking the tap to resend from there`);
    this.kickTaps(group, at);
  }

  /** Per group and target: what `status` and `/metrics` report. */
  status(): HubStatus {
    const now = Date.now();
    return {
      spoolBytes: this.spool.bytes, spoolMax: this.o.spoolMax,
      groups: [...this.links.entries()].map(([group, links]) => {
        const durable = this.spool.durableSeq(group);
        const cap = this.captured.get(group);
        const prot = this.protectedSeq.get(group);
        const held = this.spool.backlog(group, -1);
        const taps = [...this.taps.get(group) ?? []].map((c) => this.peers.get(c)).filter((p) => p !== undefined);
        return {
          group, spooledSeq: durable, protectedSeq: prot?.seq ?? 0, protectedAt: prot?.at ?? null, tapsConnected: taps.length,
          taps: taps.map((p) => ({ peer: p.peer, since: p.since })),
          capturedBytes: cap?.bytes ?? 0, commitsReceived: cap?.commits ?? 0, lastCaptureTime: cap?.lastTime || null, lastReceivedAt: cap?.receivedAt || null,
          spoolBytes: held.bytes, spoolCommits: held.commits,
          targets: links.map((l) => {
            const acked = Math.max(0, l.sender.ackedSeq);
            const backlog = this.spool.backlog(group, acked);
            return {
              target: l.spec.name, url: l.spec.url, mode: l.spec.mode, outage: l.spec.outage, degraded: l.degraded, connected: l.sender.connected,
              lastError: l.sender.lastError, ackedSeq: acked, lagSeqs: Math.max(0, durable - acked),
              rpoLagMs: backlog.oldestTime === null ? 0 : Math.max(0, now - backlog.oldestTime),
              backlogBytes: backlog.bytes, backlogCommits: backlog.commits,
              bytesSent: l.wireBytes, bytesCaptured: l.rawBytes, wanSaving: l.rawBytes > 0 ? 1 - l.wireBytes / l.rawBytes : null,
              throughputBps: Math.round(l.throughput()), rateLimitBps: Number.isFinite(l.limiter.rate) ? l.limiter.rate : null,
            };
          }),
        };
      }),
    };
  }
}

export interface HubStatus {
  spoolBytes: number;
  spoolMax: number;
  groups: {
    group: string; spooledSeq: number; protectedSeq: number; tapsConnected: number; capturedBytes: number;
    /** when protectedSeq last advanced (ms), null before it did in this run */
    protectedAt: number | null;
    /** the connected taps: node name @ address, connected since (ms) */
    taps: { peer: string; since: number }[];
    commitsReceived: number;
    /** capture time (at the tap) of the last commit received, and when it arrived (ms); null before any in this run */
    lastCaptureTime: number | null; lastReceivedAt: number | null;
    /** what the spool holds of the group */
    spoolBytes: number; spoolCommits: number;
    targets: {
      target: string; url: string; mode: string; outage: string; degraded: boolean; connected: boolean; lastError: string | null;
      ackedSeq: number; lagSeqs: number; rpoLagMs: number; backlogBytes: number; backlogCommits: number;
      bytesSent: number; bytesCaptured: number; wanSaving: number | null; throughputBps: number; rateLimitBps: number | null;
    }[];
  }[];
}
