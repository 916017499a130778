/**
 * Frames of the replication protocol (docs/FORMAT.md, "Wire protocol"):
 *
 *   length u32 (of what follows) | type u8 | flags u8 | payload
 *
 * flags bit 0: the payload is a zstd frame, preceded by its raw length u32. Metadata
 * frames (JSON) are compressed when that helps; blob frames carry sealed blobs, which are
 * already compressed and encrypted, and are sent as they are. A frame longer than
 * MAX_FRAME, or decompressing to more than it, is a protocol error.
 */
import { compress, decompress } from 'zstd-napi';
import { TidemarkError } from '../common/errors.js';

export const MAX_FRAME = 64 * 1024 * 1024;
const FLAG_ZSTD = 1;
const HEADER = 6;

/** Frame types, in the order they appear in a session. */
export const FrameType = {
  hello: 1,
  state: 2,
  offer: 3,
  need: 4,
  blobs: 5,
  ack: 6,
  protected: 7,
  error: 8,
  enroll: 9,
  enrolled: 10,
} as const;
export type FrameTypeCode = (typeof FrameType)[keyof typeof FrameType];

export interface Frame {
  type: number;
  payload: Buffer;
  /** bytes this frame took on the wire (header included) */
  wireBytes: number;
}

/** Encode one frame; `tryCompress` compresses the payload when that saves at least 1/8. */
export function encodeFrame(type: number, payload: Buffer, tryCompress: boolean): Buffer {
  let body = payload;
  let flags = 0;
  if (tryCompress && payload.length >= 128) {
    const z = compress(payload);
    if (z.length + 4 < payload.length - payload.length / 8) {
      const raw = Buffer.allocUnsafe(4);
      raw.writeUInt32LE(payload.length, 0);
      body = Buffer.concat([raw, z]);
      flags = FLAG_ZSTD;
    }
  }
  if (body.length + 2 > MAX_FRAME) throw new TidemarkError('TM_INTERNAL', `frame of ${body.length} bytes exceeds the ${MAX_FRAME}-byte limit`);
  const head = Buffer.allocUnsafe(HEADER);
  head.writeUInt32LE(body.length + 2, 0);
  head[4] = type;
  head[5] = flags;
  return Buffer.concat([head, body]);
}

/** Incremental decoder: push socket data, take whole frames. */
export class FrameDecoder {
  private parts: Buffer[] = [];
  private buffered = 0;

  /** Bytes received but not yet part of a returned frame. */
  get pending(): number { return this.buffered; }

  push(chunk: Buffer): Frame[] {
    this.parts.push(chunk);
    this.buffered += chunk.length;
    const out: Frame[] = [];
    for (;;) {
      if (this.buffered < HEADER) break;
      const head = this.peek(HEADER);
      const len = head.readUInt32LE(0);
      if (len < 2 || len > MAX_FRAME) throw new TidemarkError('TM_PROTOCOL', `peer sent a frame of ${len} bytes (limit ${MAX_FRAME})`);
      if (this.buffered < 4 + len) break;
      const whole = this.take(4 + len);
      out.push(decodeBody(whole[4]!, whole[5]!, whole.subarray(HEADER), 4 + len));
    }
    return out;
  }

  private peek(n: number): Buffer {
    if (this.parts[0]!.length < n) this.parts = [Buffer.concat(this.parts)];
    return this.parts[0]!.subarray(0, n);
  }

  private take(n: number): Buffer {
    if (this.parts[0]!.length < n) this.parts = [Buffer.concat(this.parts)];
    const first = this.parts[0]!;
    const out = first.subarray(0, n);
    if (first.length === n) this.parts.shift();
    else this.parts[0] = first.subarray(n);
    this.buffered -= n;
    return out;
  }
}

function decodeBody(type: number, flags: number, body: Buffer, wireBytes: number): Frame {
  if (flags & ~FLAG_ZSTD) throw new TidemarkError('TM_PROTOCOL', `frame type ${type} has unknown flags ${flags}`);
  if (!(flags & FLAG_ZSTD)) return { type, payload: body, wireBytes };
  if (body.length < 4) throw new TidemarkError('TM_PROTOCOL', `compressed frame type ${type} is too short`);
  const raw = body.readUInt32LE(0);
  if (raw > MAX_FRAME) throw new TidemarkError('TM_PROTOCOL', `compressed frame claims ${raw} bytes (limit ${MAX_FRAME})`);
  let payload: Buffer;
  try {
    payload = decompress(body.subarray(4));
  } catch (err) {
    throw new TidemarkError('TM_PROTOCOL', `frame type ${type} does not decompress`, { cause: err });
  }
  if (payload.length !== raw) throw new TidemarkError('TM_PROTOCOL', `frame type ${type} decompressed to ${payload.length} bytes, header says ${raw}`);
  return { type, payload, wireBytes };
}
