import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { NbdDecoder, NbdProtocolError, parseRequestHeader, type NbdClientMessage } from './nbd-decoder.js';
import { MAX_OPTION_BYTES, NBD_CMD_READ, NBD_CMD_WRITE, NBD_OPT_GO, REQUEST_BYTES } from './nbd-protocol.js';
import { option, request as rawRequest } from '../../test/nbd/client-bytes.js';

const MAX = 64 * 1024;

function request(type: number, cookie: bigint, offset: number, length: number, payload?: Buffer): Buffer {
  return rawRequest(type, cookie, offset, length, payload === undefined ? {} : { payload });
}

/** Feed `bytes` in pieces cut at `cuts`, collecting every message; a throw ends the feed. */
function feed(d: NbdDecoder, bytes: Buffer, cuts: number[], transmit = false): NbdClientMessage[] {
  const out: NbdClientMessage[] = [];
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    // A fresh buffer per piece, as the socket delivers (the decoder keeps references to them).
    const piece = Buffer.from(bytes.subarray(prev, p));
    prev = p;
    d.push(piece);
    for (let m = d.next(); m !== undefined; m = d.next()) {
      out.push(m);
      if (transmit && m.kind === 'client-flags') d.enterTransmission();
    }
  }
  return out;
}

describe('NbdDecoder', () => {
  it('yields the client flags, then options with their data', () => {
    const d = new NbdDecoder(MAX);
    const bytes = Buffer.concat([Buffer.from([0, 0, 0, 3]), option(8, Buffer.alloc(0)), option(NBD_OPT_GO, Buffer.from('abc'))]);
    const msgs = feed(d, bytes, [1, 5, 17, 30]);
    assert.deepEqual(msgs, [
      { kind: 'client-flags', flags: 3 },
      { kind: 'option', option: 8, data: Buffer.alloc(0) },
      { kind: 'option', option: NBD_OPT_GO, data: Buffer.from('abc') },
    ]);
  });

  it('rejects an option without the IHAVEOPT magic', () => {
    const d = new NbdDecoder(MAX);
    const bad = option(1, Buffer.alloc(0));
    bad.write('IHAVEOPX', 0, 'latin1');
    assert.throws(() => feed(d, Buffer.concat([Buffer.alloc(4), bad]), []), NbdProtocolError);
  });

  it('rejects an option payload over 64 KiB before buffering it', () => {
    const d = new NbdDecoder(MAX);
    const h = option(7, Buffer.alloc(0));
    h.writeUInt32BE(MAX_OPTION_BYTES + 1, 12);
    assert.throws(() => feed(d, Buffer.concat([Buffer.alloc(4), h]), []), /carries 65537 bytes/);
  });

  it('yields a write only once its whole payload has arrived', () => {
    const d = new NbdDecoder(MAX);
    d.push(Buffer.alloc(4));
    d.next();
    d.enterTransmission();
    const payload = Buffer.from('0123456789');
    const bytes = request(NBD_CMD_WRITE, 7n, 4096, payload.length, payload);
    d.push(bytes.subarray(0, REQUEST_BYTES + 4));
    assert.equal(d.next(), undefined);
    assert.equal(d.midRequest, true);
    d.push(bytes.subarray(REQUEST_BYTES + 4));
    const m = d.next();
    assert.ok(m?.kind === 'request');
    assert.equal(m.request.cookie, 7n);
    assert.equal(m.request.offset, 4096);
    assert.deepEqual(m.request.payload, payload);
    assert.equal(d.midRequest, false);
  });

  it('refuses a write whose payload exceeds the limit, without allocating it', () => {
    const d = new NbdDecoder(MAX);
    d.push(Buffer.alloc(4));
    d.next();
    d.enterTransmission();
    d.push(request(NBD_CMD_WRITE, 1n, 0, MAX + 1));
    assert.throws(() => d.next(), /exceeds the 65536-byte limit/);
  });

  it('parses a 64-bit offset beyond the safe integer range as out of any export', () => {
    const r = parseRequestHeader(request(NBD_CMD_READ, 1n, 0, 1));
    assert.equal(r.offset, 0);
    const h = request(NBD_CMD_READ, 1n, 0, 1);
    h.writeBigUInt64BE(0xffff_ffff_ffff_ffffn, 16);
    assert.ok(parseRequestHeader(h).offset > Number.MAX_SAFE_INTEGER);
  });

  it('round-trips any valid request sequence however it is split (property)', () => {
    const req = fc.record({
      type: fc.constantFrom(NBD_CMD_READ, NBD_CMD_WRITE, 3, 4, 6),
      cookie: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      offset: fc.integer({ min: 0, max: 2 ** 40 }),
      length: fc.integer({ min: 0, max: 300 }),
    });
    fc.assert(fc.property(fc.array(req, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 }), (reqs, cuts) => {
      const payloads = reqs.map((r, i) => (r.type === NBD_CMD_WRITE ? Buffer.alloc(r.length, i + 1) : undefined));
      const bytes = Buffer.concat([Buffer.alloc(4),
        ...reqs.map((r, i) => request(r.type, r.cookie, r.offset, r.length, payloads[i]))]);
      const msgs = feed(new NbdDecoder(MAX), bytes, cuts, true).slice(1);
      assert.equal(msgs.length, reqs.length);
      msgs.forEach((m, i) => {
        assert.ok(m.kind === 'request');
        const { payload, ...header } = m.request;
        assert.deepEqual({ ...header, flags: undefined }, { ...reqs[i], flags: undefined });
        assert.deepEqual(payload, payloads[i]);
      });
    }), { numRuns: 300 });
  });

  it('never throws anything but NbdProtocolError on arbitrary bytes in arbitrary splits (fuzz)', () => {
    // Bias towards the magics so that the fuzzer gets past the first check often.
    const magicish = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.constant(new Uint8Array(option(7, Buffer.alloc(0)).subarray(0, 8))),
      fc.constant(new Uint8Array(request(NBD_CMD_WRITE, 0n, 0, 0).subarray(0, 4))),
    );
    fc.assert(fc.property(fc.array(magicish, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 20 }), fc.boolean(),
      (parts, cuts, transmit) => {
        const bytes = Buffer.concat(parts.map((p) => Buffer.from(p)));
        const d = new NbdDecoder(256);
        try {
          const msgs = feed(d, bytes, cuts, transmit);
          for (const m of msgs) {
            if (m.kind === 'request' && m.request.type === NBD_CMD_WRITE) assert.equal(m.request.payload?.length, m.request.length);
            if (m.kind === 'option') assert.ok(m.data.length <= MAX_OPTION_BYTES);
          }
          assert.ok(d.buffered <= bytes.length);
        } catch (err) {
          if (!(err instanceof NbdProtocolError)) throw err;
        }
      }), { numRuns: 2000 });
  });
});
