import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { FrameDecoder, MAX_FRAME, encodeFrame } from './frame-codec.js';
import { decodeBlobs, encodeBlobs } from './messages.js';

describe('frame codec', () => {
  it('round-trips frames split at every byte boundary, compressed or not', () => {
    const json = Buffer.from(JSON.stringify({ ids: Array.from({ length: 50 }, (_, i) => `${'ab'.repeat(31)}${String(i).padStart(2, '0')}`) }));
    const raw = randomBytes(3000);
    const wire = Buffer.concat([encodeFrame(3, json, true), encodeFrame(5, raw, true)]);
    assert.ok(wire.length < json.length + raw.length, 'the JSON frame was compressed');
    for (let cut = 1; cut < wire.length; cut += 97) {
      const d = new FrameDecoder();
      const frames = [...d.push(wire.subarray(0, cut)), ...d.push(wire.subarray(cut))];
      assert.deepEqual(frames.map((f) => [f.type, f.payload]), [[3, json], [5, raw]]);
      assert.equal(d.pending, 0);
    }
  });

  it('rejects a frame longer than the limit before buffering it', () => {
    const head = Buffer.alloc(6);
    head.writeUInt32LE(MAX_FRAME + 1, 0);
    assert.throws(() => new FrameDecoder().push(head), { code: 'TM_PROTOCOL' });
  });

  it('rejects unknown flags and a compressed frame whose length does not match', () => {
    const f = encodeFrame(1, Buffer.from('x'), false);
    f[5] = 4;
    assert.throws(() => new FrameDecoder().push(f), /unknown flags/);
    const z = encodeFrame(1, Buffer.alloc(1000, 7), true);
    z.writeUInt32LE(999, 6);
    assert.throws(() => new FrameDecoder().push(z), /decompressed to 1000 bytes, header says 999/);
  });
});

describe('blobs payload', () => {
  it('round-trips and refuses truncation, trailing bytes and absurd counts', () => {
    const blobs = [{ type: 0, flags: 1, id: randomBytes(32), rawLength: 100, sealed: randomBytes(60) }, { type: 1, flags: 0, id: randomBytes(32), rawLength: 5, sealed: randomBytes(33) }];
    const enc = encodeBlobs(blobs);
    assert.deepEqual(decodeBlobs(enc), blobs);
    assert.throws(() => decodeBlobs(enc.subarray(0, enc.length - 1)), { code: 'TM_FORMAT' });
    assert.throws(() => decodeBlobs(Buffer.concat([enc, Buffer.alloc(1)])), /trailing/);
    const bad = Buffer.from(enc);
    bad.writeUInt32LE(1_000_000, 0);
    assert.throws(() => decodeBlobs(bad), /claims 1000000 blobs/);
  });
});
