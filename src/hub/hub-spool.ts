/**
 * The hub's disk spool: every commit it acknowledged to a tap, with the sealed chunks the
 * hub did not already hold, until every target has acknowledged it. The hub has no key: it
 * stores and forwards sealed bytes and the ids the tap listed, never plaintext.
 *
 *   STATE/spool/GROUP/<last seq, 16 digits>-<commit id, 16 hex>.seg   one per commit
 *   STATE/spool/GROUP/floor.json   {floor}: every seq <= floor reached every target (GC'd)
 *
 * A segment (spool-segment.ts) is durable before the commit is acknowledged; blob offsets
 * are indexed in memory (rebuilt by scanning segments at start) and read back on demand.
 */
import { appendFileSync, closeSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { TidemarkError } from '../common/errors.js';
import { writeFileDurable, fsyncDir } from '../common/durable-file.js';
import type { Offer, WireBlob } from '../wire/messages.js';
import { scanSegment, SegmentWriter, type BlobLoc } from './spool-segment.js';
import type { CommitSink, CommitSource, CommitWriter } from '../replication/commit-stream.js';
import { DELTA_BLOB } from '../replication/chunk-delta.js';

const DELIVERED = 'delivered.ids';

interface Segment { file: string; offer: Offer; size: number }

export class HubSpool implements CommitSink, CommitSource {
  private readonly groups = new Map<string, { segs: Segment[]; floor: number }>();
  private readonly blobs = new Map<string, BlobLoc & { file: string }>();
  /**
   * Chunks every target acknowledged (in commits collected from the spool): the tap need
   * not send them again. Only ids (32 bytes each), appended to DELIVERED; losing the file
   * only costs resending.
   */
  private readonly delivered = new Set<string>();
  bytes = 0;
  /** called after a commit became durable here */
  onStored: (group: string, offer: Offer) => void = () => undefined;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    for (const g of readdirSync(dir, { withFileTypes: true })) if (g.isDirectory()) this.load(g.name);
    let ids = Buffer.alloc(0);
    try { ids = readFileSync(join(dir, DELIVERED)); } catch { /* none yet */ }
    for (let o = 0; o + 32 <= ids.length; o += 32) this.delivered.add(ids.subarray(o, o + 32).toString('hex'));
  }

  private group(g: string): { segs: Segment[]; floor: number } {
    let s = this.groups.get(g);
    if (!s) { s = { segs: [], floor: 0 }; this.groups.set(g, s); }
    return s;
  }

  private load(g: string): void {
    const gdir = join(this.dir, g);
    const s = this.group(g);
    try { s.floor = (JSON.parse(readFileSync(join(gdir, 'floor.json'), 'utf8')) as { floor: number }).floor; } catch { s.floor = 0; }
    for (const f of readdirSync(gdir).filter((n) => n.endsWith('.seg')).sort()) {
      // A temporary segment is a commit that was never acknowledged: the tap resends it.
      if (f.startsWith('.tmp-')) { unlinkSync(join(gdir, f)); continue; }
      const { offer, locs, size } = scanSegment(join(gdir, f));
      this.addSegment(g, { file: join(gdir, f), offer, size }, locs);
    }
  }

  private addSegment(g: string, seg: Segment, locs: readonly [string, BlobLoc][]): void {
    for (const [id, loc] of locs) this.blobs.set(id, { file: seg.file, ...loc });
    const segs = this.group(g).segs;
    segs.push(seg);
    segs.sort((a, b) => a.offer.lastSeq - b.offer.lastSeq);
    this.bytes += seg.size;
  }

  // ---- CommitSink (from taps) --------------------------------------------------------------

  /** Every seq up to this is here or reached every target. */
  durableSeq(group: string): number {
    const s = this.groups.get(group);
    if (!s) return 0;
    let seq = s.floor;
    for (const seg of s.segs) {
      if (seg.offer.lastSeq <= seq) continue;
      if (seg.offer.firstSeq > seq + 1) break;
      seq = seg.offer.lastSeq;
    }
    return seq;
  }

  missing(ids: readonly Buffer[]): Buffer[] {
    return ids.filter((id) => { const h = id.toString('hex'); return !this.blobs.has(h) && !this.delivered.has(h); });
  }

  /** Chunks whose base every target holds or will hold before them (spooled or delivered). */
  deltasOk(pairs: readonly [Buffer, Buffer][]): Buffer[] {
    return pairs.filter(([, base]) => { const h = base.toString('hex'); return this.blobs.has(h) || this.delivered.has(h); }).map(([id]) => id);
  }

  /** A chunk spooled as a delta against `base` (as the tap sent it), else undefined. */
  readDelta(id: Buffer, base: Buffer): WireBlob | undefined {
    const loc = this.blobs.get(id.toString('hex'));
    if (loc?.type !== DELTA_BLOB) return undefined;
    const b = this.readBlob(id);
    return b.sealed.subarray(0, 32).equals(base) ? b : undefined;
  }

  /** True when the spool holds this blob (a delivered chunk may be known without its bytes). */
  holds(id: Buffer): boolean {
    return this.blobs.has(id.toString('hex'));
  }

  /**
   * A target lacks chunks it was thought to hold (a vault replaced, pruned or far behind):
   * forget every delivered id, so the tap is asked again for any chunk the spool lacks.
   */
  forgetDelivered(): void {
    if (this.delivered.size === 0) return;
    this.delivered.clear();
    writeFileDurable(join(this.dir, DELIVERED), Buffer.alloc(0));
  }

  /**
   * Receive a commit into a temporary segment, chunk batches appended as they come; on
   * `finish` the commit blob is appended, the file fsynced, renamed to its final name and
   * the directory fsynced (the steps of writeFileDurable, spread over the stream).
   */
  begin(group: string, offer: Offer): CommitWriter {
    const gdir = join(this.dir, group);
    mkdirSync(gdir, { recursive: true });
    const w = new SegmentWriter(join(gdir, `${String(offer.lastSeq).padStart(16, '0')}-${offer.commit.slice(0, 16)}.seg`), offer);
    return {
      add: (chunks) => w.append(chunks),
      abort: () => w.abort(),
      finish: (commit) => {
        const gone = offer.chunks.find((id) => !w.sent.has(id) && !this.blobs.has(id) && !this.delivered.has(id));
        if (gone) {
          w.abort();
          // Collected between our `need` and these blobs: the tap resends the commit with it.
          throw new TidemarkError('TM_PROTOCOL', `chunk ${gone.slice(0, 16)} left the spool while commit seq:${offer.lastSeq} was received; resend it`, { retryable: true });
        }
        if (this.group(group).segs.some((x) => x.offer.commit === offer.commit)) {
          // Another session (a tap reconnecting before its old connection was noticed dead)
          // stored this commit meanwhile: it is durable already.
          w.abort();
          return;
        }
        w.commit(commit);
        this.addSegment(group, { file: w.final, offer, size: w.size }, w.locs);
        this.onStored(group, offer);
      },
    };
  }

  // ---- CommitSource (to vaults) ------------------------------------------------------------

  next(group: string, afterSeq: number): Offer | undefined {
    const s = this.groups.get(group);
    const seg = s?.segs.find((x) => x.offer.lastSeq > afterSeq);
    return seg && seg.offer.firstSeq <= afterSeq + 1 ? seg.offer : undefined;
  }

  /** True when a target at `afterSeq` needs a commit the spool no longer (or never) held. */
  hasGap(group: string, afterSeq: number): boolean {
    const s = this.groups.get(group);
    if (!s || afterSeq >= this.durableSeq(group)) return false;
    return this.next(group, afterSeq) === undefined;
  }

  lastSeq(group: string): number {
    return this.durableSeq(group);
  }

  readBlob(id: Buffer): WireBlob {
    const loc = this.blobs.get(id.toString('hex'));
    if (!loc) throw new TidemarkError('TM_INTERNAL', `blob ${id.toString('hex').slice(0, 16)} is not in the hub's spool`);
    const sealed = Buffer.allocUnsafe(loc.length);
    const fd = openSync(loc.file, 'r');
    try {
      let got = 0;
      while (got < loc.length) {
        const n = readSync(fd, sealed, got, loc.length - got, loc.offset + got);
        if (n === 0) throw new TidemarkError('TM_CORRUPT', `spool segment ${loc.file} is truncated`);
        got += n;
      }
    } finally {
      closeSync(fd);
    }
    return { type: loc.type, flags: loc.flags, id, rawLength: loc.rawLength, sealed };
  }

  /** Spool bytes and commits of a group after `afterSeq` (a target's backlog). */
  backlog(group: string, afterSeq: number): { commits: number; bytes: number; oldestTime: number | null } {
    let commits = 0, bytes = 0, oldest: number | null = null;
    for (const seg of this.groups.get(group)?.segs ?? []) {
      if (seg.offer.lastSeq <= afterSeq) continue;
      commits++;
      bytes += seg.size;
      oldest = oldest === null ? seg.offer.time : Math.min(oldest, seg.offer.time);
    }
    return { commits, bytes, oldestTime: oldest };
  }

  groupNames(): string[] {
    return [...this.groups.keys()].sort();
  }

  /**
   * Forget commits every target acknowledged (`upTo`): raise the floor, durably, then
   * delete their segments — except a segment holding a chunk a later commit still needs.
   * `everyTarget`: every target acknowledged them, so their chunks join the delivered set;
   * false when a lagging target still lacks them (spool overflow): that target is then
   * resynchronised from the tap (see hasGap).
   */
  collect(group: string, upTo: number, everyTarget: boolean): number {
    const s = this.groups.get(group);
    if (!s || upTo <= s.floor) return 0;
    s.floor = upTo;
    writeFileDurable(join(this.dir, group, 'floor.json'), Buffer.from(JSON.stringify({ floor: upTo })));
    const needed = new Set(s.segs.filter((x) => x.offer.lastSeq > upTo).flatMap((x) => x.offer.chunks));
    const gone = s.segs.filter((seg) => seg.offer.lastSeq <= upTo && !this.segmentChunks(seg).some((id) => needed.has(id)));
    if (everyTarget) {
      const ids = gone.flatMap((seg) => seg.offer.chunks).filter((h) => !this.delivered.has(h));
      for (const h of ids) this.delivered.add(h);
      if (ids.length > 0) appendFileSync(join(this.dir, DELIVERED), Buffer.concat(ids.map((h) => Buffer.from(h, 'hex'))));
    }
    return this.remove(group, gone);
  }

  /**
   * Drop the segments after a gap (seq > durableSeq): they cannot be forwarded before the
   * gap is filled, and the tap resends them after it, so under spool pressure they go first.
   */
  dropAfterGap(group: string): number {
    return this.truncateAfter(group, this.durableSeq(group));
  }

  /** Drop every segment after `seq` and lower the floor to it: the tap resends from seq + 1. */
  truncateAfter(group: string, seq: number): number {
    const s = this.groups.get(group);
    if (!s) return 0;
    // Later segments only reference chunks of earlier ones, never the reverse: safe to drop.
    const freed = this.remove(group, s.segs.filter((x) => x.offer.lastSeq > seq));
    this.lowerFloor(group, seq);
    return freed;
  }

  private remove(group: string, gone: readonly Segment[]): number {
    const s = this.group(group);
    let freed = 0;
    for (const seg of gone) {
      for (const id of [...this.segmentChunks(seg), seg.offer.commit]) if (this.blobs.get(id)?.file === seg.file) this.blobs.delete(id);
      try { unlinkSync(seg.file); } catch { /* already gone */ }
      this.bytes -= seg.size;
      freed += seg.size;
    }
    const set = new Set(gone);
    s.segs = s.segs.filter((x) => !set.has(x));
    if (gone.length > 0) fsyncDir(join(this.dir, group));
    return freed;
  }

  private segmentChunks(seg: Segment): string[] {
    return seg.offer.chunks.filter((id) => this.blobs.get(id)?.file === seg.file);
  }

  /** The group's floor (see collect). */
  floor(group: string): number {
    return this.groups.get(group)?.floor ?? 0;
  }

  /** Lower the floor so the tap resends from `seq` + 1 (a target needs commits the spool dropped). */
  lowerFloor(group: string, seq: number): void {
    const s = this.group(group);
    if (seq >= s.floor) return;
    s.floor = seq;
    mkdirSync(join(this.dir, group), { recursive: true });
    writeFileDurable(join(this.dir, group, 'floor.json'), Buffer.from(JSON.stringify({ floor: seq })));
  }
}
