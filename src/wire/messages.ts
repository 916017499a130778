/**
 * The replication protocol's messages: a zod schema per JSON frame (every frame from a
 * peer is parsed here before anything reads it) and the binary codec of `blobs` frames.
 * Sequence of a session, one group per connection (docs/FORMAT.md, "Wire protocol"):
 *
 *   sender → hello {group}           receiver → state {durableSeq}
 *   sender → offer {commit…}         receiver → need {ids}
 *   sender → blobs [needed…, commit]  receiver → ack {seq}   (only once durable)
 *   (a needed chunk may travel as a delta against a base the receiver holds: chunk-delta.ts)
 *   hub → tap: protected {seq}       (every sync target has it durably)
 */
import { z } from 'zod';
import { ByteReader, ByteWriter } from '../common/byte-io.js';
import { TidemarkError } from '../common/errors.js';
import type { Frame } from './frame-codec.js';

export const PROTOCOL_VERSION = 1;
const HEX32 = z.string().regex(/^[0-9a-f]{64}$/);
const SEQ = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const GROUP = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);

export const HelloSchema = z.object({ proto: z.literal(PROTOCOL_VERSION), group: GROUP, node: z.string().max(128) });
export const StateSchema = z.object({ group: GROUP, durableSeq: SEQ, protectedSeq: SEQ.optional() });
export const OfferSchema = z.object({
  commit: HEX32,
  firstSeq: SEQ,
  lastSeq: SEQ,
  /** capture time of the commit's last record, ms since the epoch */
  time: z.number().int().min(0),
  /** every chunk id the commit references (deduplicated) */
  chunks: z.array(HEX32).max(4_000_000),
  /** raw bytes the commit captured (sum of its chunks' raw lengths) */
  rawBytes: z.number().int().min(0),
  /** for some new chunks, a chunk the receiver may hold that a delta can be made against */
  bases: z.record(HEX32, HEX32).optional(),
});
export const NeedSchema = z.object({
  commit: HEX32,
  ids: z.array(HEX32).max(4_000_000),
  /** of `ids`, those the receiver takes as a delta against the offer's base (it holds the base) */
  deltas: z.array(HEX32).max(4_000_000).optional(),
});
export const AckSchema = z.object({ group: GROUP, seq: SEQ });
export const ErrorSchema = z.object({ code: z.string().max(64), message: z.string().max(4096) });

export type Hello = z.infer<typeof HelloSchema>;
export type State = z.infer<typeof StateSchema>;
export type Offer = z.infer<typeof OfferSchema>;
export type Need = z.infer<typeof NeedSchema>;
export type Ack = z.infer<typeof AckSchema>;

/** Parse a JSON frame with its schema; TM_PROTOCOL saying what was wrong. */
export function parseJson<T>(frame: Frame, schema: z.ZodType<T>, what: string): T {
  let json: unknown;
  try {
    json = JSON.parse(frame.payload.toString('utf8'));
  } catch (err) {
    throw new TidemarkError('TM_PROTOCOL', `peer sent a ${what} frame that is not JSON`, { cause: err });
  }
  const r = schema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new TidemarkError('TM_PROTOCOL', `peer sent an invalid ${what} frame: ${i?.path.join('.') ?? ''} ${i?.message ?? ''}`.trim());
  }
  return r.data;
}

/** One sealed blob as it travels: exactly what a pack's blob table says about it, plus its bytes. */
export interface WireBlob {
  type: number;
  flags: number;
  id: Buffer;
  rawLength: number;
  sealed: Buffer;
}

/** blobs payload: count u32, then per blob type u8 | flags u8 | id (32) | raw length u32 | sealed (u32 len + bytes). */
export function encodeBlobs(blobs: readonly WireBlob[]): Buffer {
  const w = new ByteWriter(4 + blobs.reduce((a, b) => a + 42 + b.sealed.length, 0));
  w.u32(blobs.length);
  for (const b of blobs) w.u8(b.type).u8(b.flags).bytes(b.id).u32(b.rawLength).lbytes(b.sealed);
  return Buffer.from(w.view());
}

export function decodeBlobs(payload: Buffer): WireBlob[] {
  const r = new ByteReader(payload, 'blobs frame');
  const count = r.u32();
  if (count * 42 > r.remaining) throw new TidemarkError('TM_PROTOCOL', `blobs frame claims ${count} blobs in ${r.remaining} bytes`);
  const out: WireBlob[] = [];
  for (let i = 0; i < count; i++) {
    const b = { type: r.u8(), flags: r.u8(), id: Buffer.from(r.bytes(32)), rawLength: r.u32(), sealed: Buffer.from(r.lbytes()) };
    if (b.type > 2 || b.flags > 1 || b.sealed.length < (b.type === 2 ? 60 : 28)) throw new TidemarkError('TM_PROTOCOL', `blobs frame: blob ${i} is malformed`);
    out.push(b);
  }
  if (r.remaining !== 0) throw new TidemarkError('TM_PROTOCOL', `blobs frame has ${r.remaining} trailing bytes`);
  return out;
}
