import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Offer, WireBlob } from '../wire/messages.js';
import { HubSpool } from './hub-spool.js';

const blob = (type: number): WireBlob => ({ type, flags: 0, id: randomBytes(32), rawLength: 10, sealed: randomBytes(40) });

/** Spool commit first..last referencing `chunks` (sent: those given in `send`). */
function put(spool: HubSpool, first: number, last: number, chunks: WireBlob[], send: WireBlob[] = chunks): Offer {
  const commit = blob(1);
  const offer: Offer = { commit: commit.id.toString('hex'), firstSeq: first, lastSeq: last, time: Date.now(), chunks: chunks.map((c) => c.id.toString('hex')), rawBytes: 10 * chunks.length };
  const w = spool.begin('g', offer);
  w.add(send);
  w.finish(commit);
  return offer;
}

describe('HubSpool', () => {
  it('keeps commits durably, resumes after the contiguous run, and reloads them from disk', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-'));
    try {
      const spool = new HubSpool(dir);
      const c1 = blob(0);
      put(spool, 1, 2, [c1]);
      put(spool, 3, 3, [c1], []);
      put(spool, 6, 6, []);
      assert.equal(spool.durableSeq('g'), 3, 'seq 4..5 are missing: resume after 3');
      const bytes = spool.bytes;
      const dup = spool.begin('g', spool.next('g', 2)!);
      dup.finish(blob(1));
      assert.equal(spool.bytes, bytes, 'a commit stored twice (two sessions) is kept once');
      assert.equal(spool.next('g', 2)?.lastSeq, 3);
      assert.equal(spool.next('g', 3), undefined, 'nothing continues seq:3');
      assert.deepEqual(spool.missing([c1.id, randomBytes(32)]).length, 1);
      assert.deepEqual(spool.readBlob(c1.id).sealed, c1.sealed);
      writeFileSync(join(dir, 'g', '.tmp-abandoned.seg'), 'half a commit');
      const again = new HubSpool(dir);
      assert.equal(again.durableSeq('g'), 3);
      assert.deepEqual(again.readBlob(c1.id).sealed, c1.sealed);
      assert.ok(!readdirSync(join(dir, 'g')).some((f) => f.startsWith('.tmp-')), 'an unfinished segment is removed at start');
      assert.ok(again.dropAfterGap('g') > 0, 'the segment after the gap goes under pressure');
      const seg = join(dir, 'g', readdirSync(join(dir, 'g')).find((f) => f.endsWith('.seg'))!);
      truncateSync(seg, statSync(seg).size - 1);
      assert.throws(() => new HubSpool(dir), { code: 'TM_CORRUPT' }, 'a damaged segment is reported at start');
      assert.equal(again.next('g', 5), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('collects acknowledged commits but keeps a chunk a later commit still needs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-'));
    try {
      const spool = new HubSpool(dir);
      const shared = blob(0);
      put(spool, 1, 1, [shared]);
      put(spool, 2, 2, [blob(0)]);
      put(spool, 3, 3, [shared], []);
      spool.collect('g', 2, true);
      assert.deepEqual(spool.readBlob(shared.id).sealed, shared.sealed, 'seq 3 still needs the chunk sent with seq 1');
      assert.equal(spool.durableSeq('g'), 3);
      assert.equal(spool.floor('g'), 2);
      assert.equal(new HubSpool(dir).floor('g'), 2, 'the floor is durable');
      spool.collect('g', 3, true);
      assert.equal(spool.bytes, 0);
      assert.deepEqual(spool.missing([shared.id]), [], 'a chunk every target acknowledged is not asked for again');
      assert.deepEqual(new HubSpool(dir).missing([shared.id]), [], 'the delivered set survives a restart');
      put(spool, 4, 4, [shared], []);
      assert.equal(spool.durableSeq('g'), 4, 'a commit naming a delivered chunk is spooled without it');
      assert.equal(spool.holds(shared.id), false);
      spool.forgetDelivered();
      assert.equal(spool.missing([shared.id]).length, 1, 'a forgotten chunk is asked for again');
      assert.throws(() => spool.readBlob(shared.id), /not in the hub's spool/);
      spool.lowerFloor('g', 1);
      assert.equal(spool.durableSeq('g'), 1, 'a lowered floor makes the tap resend from seq:2');
      assert.equal(spool.hasGap('g', 0), true, 'a target at seq:0 needs seq:1, which left the spool');
      assert.equal(spool.hasGap('g', 1), false, 'a target at the floor needs nothing the tap will not resend');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
