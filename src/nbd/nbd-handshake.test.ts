import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TidemarkError } from '../common/errors.js';
import type { NbdExport } from './nbd-export.js';
import type { NbdRequest } from './nbd-decoder.js';
import { answerOption, parseInfoRequest, transmissionFlags, type HandshakeContext } from './nbd-handshake.js';
import { checkRequest, errorValueOf } from './nbd-request-check.js';
import * as P from './nbd-protocol.js';

function fakeExport(over: Partial<NbdExport> = {}): NbdExport {
  const fail = (): Promise<void> => Promise.reject(new Error('not called in these tests'));
  return { name: 'disk', size: 1 << 20, readOnly: false, multiConn: false,
    read: fail, write: fail, flush: fail, trim: fail, writeZeroes: fail, ...over };
}

function ctx(exports: NbdExport[], over: Partial<HandshakeContext> = {}): HandshakeContext {
  return { lookup: (n) => exports.find((e) => e.name === n), list: () => exports,
    maxRequestBytes: P.DEFAULT_MAX_REQUEST_BYTES, noZeroes: true, ...over };
}

/** Split an option reply: which option, reply type, data. */
function parseReply(b: Buffer): { option: number; type: number; data: Buffer } {
  assert.equal(b.readBigUInt64BE(0), P.NBD_REP_MAGIC);
  assert.equal(b.readUInt32BE(16), b.length - 20, 'length field matches the data');
  return { option: b.readUInt32BE(8), type: b.readUInt32BE(12), data: b.subarray(20) };
}

function infoData(name: string, infos: number[]): Buffer {
  const n = Buffer.from(name);
  const b = Buffer.alloc(4 + n.length + 2 + 2 * infos.length);
  b.writeUInt32BE(n.length, 0);
  n.copy(b, 4);
  b.writeUInt16BE(infos.length, 4 + n.length);
  infos.forEach((t, i) => b.writeUInt16BE(t, 6 + n.length + 2 * i));
  return b;
}

describe('the NBD handshake', () => {
  const disk = fakeExport({ description: 'the test disk' });

  it('answers GO with the export size and flags, block sizes, asked-for name and description, then ACK', () => {
    const out = answerOption(P.NBD_OPT_GO, infoData('disk', [P.NBD_INFO_NAME, P.NBD_INFO_DESCRIPTION]), ctx([disk]));
    assert.equal(out.next, 'transmit');
    const replies = out.replies.map(parseReply);
    assert.deepEqual(replies.map((r) => r.type), [P.NBD_REP_INFO, P.NBD_REP_INFO, P.NBD_REP_INFO, P.NBD_REP_INFO, P.NBD_REP_ACK]);
    const exp = replies[0]!.data;
    assert.equal(exp.readUInt16BE(0), P.NBD_INFO_EXPORT);
    assert.equal(exp.readBigUInt64BE(2), BigInt(1 << 20));
    assert.equal(exp.readUInt16BE(10), transmissionFlags(disk));
    const bs = replies[1]!.data;
    assert.deepEqual([bs.readUInt16BE(0), bs.readUInt32BE(2), bs.readUInt32BE(6), bs.readUInt32BE(10)],
      [P.NBD_INFO_BLOCK_SIZE, 1, 4096, P.DEFAULT_MAX_REQUEST_BYTES]);
    assert.equal(replies[2]!.data.toString('utf8', 2), 'disk');
    assert.equal(replies[3]!.data.toString('utf8', 2), 'the test disk');
  });

  it('answers INFO like GO but stays in the handshake', () => {
    const out = answerOption(P.NBD_OPT_INFO, infoData('disk', []), ctx([disk]));
    assert.equal(out.next, 'continue');
    assert.equal(parseReply(out.replies.at(-1)!).type, P.NBD_REP_ACK);
  });

  it('refuses an unknown export with NBD_REP_ERR_UNKNOWN and keeps haggling', () => {
    const out = answerOption(P.NBD_OPT_GO, infoData('nope', []), ctx([disk]));
    assert.equal(out.next, 'continue');
    assert.equal(parseReply(out.replies[0]!).type, P.NBD_REP_ERR_UNKNOWN);
  });

  it('refuses malformed INFO/GO data with NBD_REP_ERR_INVALID', () => {
    for (const data of [Buffer.alloc(0), Buffer.from([0, 0, 0, 9, 1, 2]), Buffer.concat([infoData('disk', [1]), Buffer.alloc(1)])]) {
      const out = answerOption(P.NBD_OPT_GO, data, ctx([disk]));
      assert.equal(parseReply(out.replies[0]!).type, P.NBD_REP_ERR_INVALID);
    }
    assert.equal(parseInfoRequest(infoData('disk', [3, 1]))?.name, 'disk');
  });

  it('answers STRUCTURED_REPLY, STARTTLS and unknown options with NBD_REP_ERR_UNSUP', () => {
    for (const o of [P.NBD_OPT_STRUCTURED_REPLY, P.NBD_OPT_STARTTLS, 4242]) {
      const out = answerOption(o, Buffer.alloc(0), ctx([disk]));
      assert.equal(out.next, 'continue');
      const r = parseReply(out.replies[0]!);
      assert.deepEqual([r.option, r.type], [o, P.NBD_REP_ERR_UNSUP]);
    }
  });

  it('lists a fixed set of exports, and refuses LIST when exports are looked up by name', () => {
    const out = answerOption(P.NBD_OPT_LIST, Buffer.alloc(0), ctx([disk, fakeExport({ name: 'b' })]));
    const r = out.replies.map(parseReply);
    assert.deepEqual(r.map((x) => x.type), [P.NBD_REP_SERVER, P.NBD_REP_SERVER, P.NBD_REP_ACK]);
    assert.equal(r[0]!.data.toString('utf8', 4, 4 + r[0]!.data.readUInt32BE(0)), 'disk');
    const refused = answerOption(P.NBD_OPT_LIST, Buffer.alloc(0), ctx([disk], { list: () => undefined }));
    assert.equal(parseReply(refused.replies[0]!).type, P.NBD_REP_ERR_POLICY);
  });

  it('answers EXPORT_NAME with size, flags and padding unless NO_ZEROES, and hangs up on an unknown name', () => {
    assert.equal(answerOption(P.NBD_OPT_EXPORT_NAME, Buffer.from('x'), ctx([disk])).next, 'close');
    const padded = answerOption(P.NBD_OPT_EXPORT_NAME, Buffer.from('disk'), ctx([disk], { noZeroes: false }));
    assert.equal(padded.replies[0]!.length, 10 + 124);
    const bare = answerOption(P.NBD_OPT_EXPORT_NAME, Buffer.from('disk'), ctx([disk]));
    assert.equal(bare.next, 'transmit');
    assert.equal(bare.replies[0]!.length, 10);
  });

  it('answers any option with any data without throwing, in well-formed replies (fuzz)', () => {
    const data = fc.oneof(fc.uint8Array({ maxLength: 40 }),
      fc.tuple(fc.constantFrom('disk', '', 'nope'), fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 4 }))
        .map(([n, infos]) => new Uint8Array(infoData(n, infos))));
    fc.assert(fc.property(fc.integer({ min: 0, max: 12 }), data, fc.boolean(), (opt, bytes, noZeroes) => {
      const out = answerOption(opt, Buffer.from(bytes), ctx([disk], { noZeroes }));
      if (opt === P.NBD_OPT_EXPORT_NAME) return;
      assert.ok(out.replies.length > 0 || out.next === 'close');
      for (const r of out.replies) assert.equal(parseReply(r).option, opt);
    }), { numRuns: 1000 });
  });

  it('advertises READ_ONLY and CAN_MULTI_CONN only when the export says so', () => {
    const base = transmissionFlags(disk);
    assert.equal(base & (P.NBD_FLAG_READ_ONLY | P.NBD_FLAG_CAN_MULTI_CONN), 0);
    assert.ok(base & P.NBD_FLAG_SEND_FLUSH && base & P.NBD_FLAG_SEND_FUA && base & P.NBD_FLAG_SEND_TRIM);
    const ro = transmissionFlags(fakeExport({ readOnly: true, multiConn: true }));
    assert.equal(ro & (P.NBD_FLAG_READ_ONLY | P.NBD_FLAG_CAN_MULTI_CONN), P.NBD_FLAG_READ_ONLY | P.NBD_FLAG_CAN_MULTI_CONN);
  });
});

describe('request checks', () => {
  const size = 8192;
  const rw = fakeExport({ size });
  const ro = fakeExport({ size, readOnly: true });
  const req = (type: number, offset: number, length: number, flags = 0): NbdRequest => ({ type, offset, length, flags, cookie: 1n });

  it('accepts requests inside the export and refuses those that run past its end', () => {
    assert.equal(checkRequest(req(P.NBD_CMD_READ, 4096, 4096), rw, 1 << 20), 0);
    assert.equal(checkRequest(req(P.NBD_CMD_READ, 4097, 4096), rw, 1 << 20), P.NBD_EINVAL);
    assert.equal(checkRequest(req(P.NBD_CMD_READ, 2 ** 64, 1), rw, 1 << 20), P.NBD_EINVAL);
    assert.equal(checkRequest(req(P.NBD_CMD_WRITE, 8192, 1), rw, 1 << 20), P.NBD_ENOSPC);
    assert.equal(checkRequest(req(P.NBD_CMD_WRITE_ZEROES, 0, 8193), rw, 1 << 20), P.NBD_ENOSPC);
    assert.equal(checkRequest(req(P.NBD_CMD_TRIM, 1, 8192), rw, 1 << 20), P.NBD_EINVAL);
    assert.equal(checkRequest(req(P.NBD_CMD_CACHE, 0, 9000), rw, 1 << 20), P.NBD_EINVAL);
  });

  it('refuses reads over the size limit, but not trims or zeroes (they carry no payload)', () => {
    const big = fakeExport({ size: 1 << 30 });
    assert.equal(checkRequest(req(P.NBD_CMD_READ, 0, 4097), big, 4096), P.NBD_EINVAL);
    assert.equal(checkRequest(req(P.NBD_CMD_TRIM, 0, 1 << 29), big, 4096), 0);
    assert.equal(checkRequest(req(P.NBD_CMD_WRITE_ZEROES, 0, 1 << 29), big, 4096), 0);
  });

  it('refuses every change to a read-only export with EPERM, and reads and flushes nothing else', () => {
    for (const t of [P.NBD_CMD_WRITE, P.NBD_CMD_TRIM, P.NBD_CMD_WRITE_ZEROES]) assert.equal(checkRequest(req(t, 0, 1), ro, 4096), P.NBD_EPERM);
    assert.equal(checkRequest(req(P.NBD_CMD_READ, 0, 1), ro, 4096), 0);
    assert.equal(checkRequest(req(P.NBD_CMD_FLUSH, 0, 0), ro, 4096), 0);
  });

  it('refuses FAST_ZERO, BLOCK_STATUS and unknown commands', () => {
    assert.equal(checkRequest(req(P.NBD_CMD_WRITE_ZEROES, 0, 1, P.NBD_CMD_FLAG_FAST_ZERO), rw, 4096), P.NBD_ENOTSUP);
    assert.equal(checkRequest(req(P.NBD_CMD_WRITE_ZEROES, 0, 1, P.NBD_CMD_FLAG_NO_HOLE), rw, 4096), 0);
    assert.equal(checkRequest(req(P.NBD_CMD_BLOCK_STATUS, 0, 1), rw, 4096), P.NBD_EINVAL);
    assert.equal(checkRequest(req(99, 0, 1), rw, 4096), P.NBD_EINVAL);
  });

  it('maps a full disk to ENOSPC, a refusal to EPERM and anything else to EIO', () => {
    const errno = (code: string): Error => Object.assign(new Error(code), { code });
    assert.equal(errorValueOf(errno('ENOSPC')), P.NBD_ENOSPC);
    assert.equal(errorValueOf(new TidemarkError('TM_DISK_FULL', 'full')), P.NBD_ENOSPC);
    assert.equal(errorValueOf(errno('EROFS')), P.NBD_EPERM);
    assert.equal(errorValueOf(errno('EIO')), P.NBD_EIO);
    assert.equal(errorValueOf('a string'), P.NBD_EIO);
  });
});
