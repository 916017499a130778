/**
 * The byte layout of a volume write log segment (docs/FORMAT.md, "Volume write logs"):
 * a 32-byte plaintext header, then frames, each sealed with AES-256-GCM under a key of
 * the segment's own (HKDF of the vault key and the segment id) and a nonce that is the
 * frame's number in the segment, so frames cannot be reordered, dropped from the middle
 * or moved to another segment without failing authentication.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { TidemarkError } from '../../common/errors.js';

export const SEGMENT_MAGIC = Buffer.from('TMWL', 'latin1');
export const SEGMENT_VERSION = 1;
export const SEGMENT_HEADER_BYTES = 32;
export const FRAME_HEADER_BYTES = 40;
/** length field before the ciphertext, tag after it */
export const FRAME_OVERHEAD = 4 + 16;
export const WRITE_LOG_KEY_INFO = 'tidemark volume write log v1';
/** the largest frame payload a reader accepts (a write of up to 32 MiB plus its header) */
export const MAX_FRAME_PAYLOAD = 64 * 1024 * 1024;

export const enum FrameOp { group = 1, write = 2, zero = 3 }

export interface FrameHead {
  op: FrameOp;
  seq: number;
  time: number;
  offset: number;
  length: number;
}

export interface SegmentHeader { id: Buffer; firstSeq: number }

export function encodeSegmentHeader(h: SegmentHeader): Buffer {
  const b = Buffer.alloc(SEGMENT_HEADER_BYTES);
  SEGMENT_MAGIC.copy(b, 0);
  b[4] = SEGMENT_VERSION;
  h.id.copy(b, 8, 0, 16);
  b.writeBigUInt64LE(BigInt(h.firstSeq), 24);
  return b;
}

export function decodeSegmentHeader(b: Buffer, what: string): SegmentHeader {
  if (b.length < SEGMENT_HEADER_BYTES || !b.subarray(0, 4).equals(SEGMENT_MAGIC)) {
    throw new TidemarkError('TM_CORRUPT', `${what}: not a Tidemark write log segment (bad magic)`);
  }
  if (b[4] !== SEGMENT_VERSION) {
    throw new TidemarkError('TM_CORRUPT', `${what}: write log version ${b[4]} is not supported (this tidemark reads version ${SEGMENT_VERSION})`, {
      hint: 'use the tidemark version that wrote this vault',
    });
  }
  return { id: Buffer.from(b.subarray(8, 24)), firstSeq: Number(b.readBigUInt64LE(24)) };
}

function nonce(index: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64LE(BigInt(index), 0);
  return n;
}

/** Seal one frame: [u32 payload length][ciphertext][tag], as parts ready for writev. */
export function sealFrame(key: Buffer, index: number, head: FrameHead, payload: Uint8Array | null): Buffer[] {
  const h = Buffer.alloc(FRAME_HEADER_BYTES);
  h[0] = head.op;
  h.writeBigUInt64LE(BigInt(head.seq), 8);
  h.writeBigUInt64LE(BigInt(Math.round(head.time)), 16);
  h.writeBigUInt64LE(BigInt(head.offset), 24);
  h.writeBigUInt64LE(BigInt(head.length), 32);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(FRAME_HEADER_BYTES + (payload?.length ?? 0), 0);
  const c = createCipheriv('aes-256-gcm', key, nonce(index));
  c.setAAD(len);
  const parts = [len, c.update(h)];
  if (payload && payload.length > 0) parts.push(c.update(payload));
  c.final();
  parts.push(c.getAuthTag());
  return parts;
}

/** Open a frame's sealed bytes (ciphertext and tag, without the length field). */
export function openFrame(key: Buffer, index: number, sealed: Buffer, what: string): { head: FrameHead; payload: Buffer } {
  if (sealed.length < FRAME_HEADER_BYTES + 16) throw new TidemarkError('TM_CORRUPT', `${what}: frame ${index} is too short`);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(sealed.length - 16, 0);
  const d = createDecipheriv('aes-256-gcm', key, nonce(index));
  d.setAAD(len);
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  let plain: Buffer;
  try {
    plain = Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]);
  } catch (err) {
    throw new TidemarkError('TM_CORRUPT', `${what}: frame ${index} failed authentication (altered, damaged or torn)`, { cause: err });
  }
  const op = plain[0] as FrameOp;
  if (op !== FrameOp.group && op !== FrameOp.write && op !== FrameOp.zero) throw new TidemarkError('TM_CORRUPT', `${what}: frame ${index} has unknown op ${op}`);
  const head: FrameHead = {
    op,
    seq: Number(plain.readBigUInt64LE(8)),
    time: Number(plain.readBigUInt64LE(16)),
    offset: Number(plain.readBigUInt64LE(24)),
    length: Number(plain.readBigUInt64LE(32)),
  };
  const payload = plain.subarray(FRAME_HEADER_BYTES);
  if (op === FrameOp.write && payload.length !== head.length) throw new TidemarkError('TM_CORRUPT', `${what}: frame ${index} carries ${payload.length} bytes, says ${head.length}`);
  return { head, payload };
}
