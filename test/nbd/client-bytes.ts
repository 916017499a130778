/**
 * The bytes an NBD client sends (client flags, options, requests), built by hand so that
 * tests can also build what a well-behaved client never would.
 */
import * as P from '../../src/nbd/nbd-protocol.js';

/** A big-endian u32, e.g. the client flags. */
export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

/** An option as a client sends it. */
export function option(code: number, data: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeBigUInt64BE(P.NBD_OPTS_MAGIC, 0);
  h.writeUInt32BE(code, 8);
  h.writeUInt32BE(data.length, 12);
  return Buffer.concat([h, data]);
}

/** A request as a client sends it, with its payload for writes. */
export function request(type: number, cookie: bigint, offset: number, length: number,
  opts: { payload?: Buffer; flags?: number } = {}): Buffer {
  const h = Buffer.alloc(P.REQUEST_BYTES);
  h.writeUInt32BE(P.NBD_REQUEST_MAGIC, 0);
  h.writeUInt16BE(opts.flags ?? 0, 4);
  h.writeUInt16BE(type, 6);
  h.writeBigUInt64BE(cookie, 8);
  h.writeBigUInt64BE(BigInt(offset), 16);
  h.writeUInt32BE(length, 24);
  return opts.payload === undefined ? h : Buffer.concat([h, opts.payload]);
}
