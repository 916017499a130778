/**
 * Pack file layout (docs/FORMAT.md, "Pack files"):
 *
 *   header   "TMPK" | version u8 (=1) | 3 zero bytes
 *   blobs    sealed blobs back to back (nonce | ciphertext | tag)
 *   trailer  sealed blob table, associated data "tidemark-pack-trailer-v1"
 *   footer   trailer length u32 LE | "TMPT"
 *
 * Blob table plaintext: count u32, then per blob
 *   type u8 | flags u8 | id (32) | offset u32 | length u32 | raw length u32.
 * A pack is named by the hex SHA-256 of its whole content.
 */
import { ByteReader, ByteWriter } from '../../common/byte-io.js';
import { TidemarkError } from '../../common/errors.js';

export const PACK_MAGIC = Buffer.from('TMPK');
export const PACK_FOOTER_MAGIC = Buffer.from('TMPT');
export const PACK_VERSION = 1;
export const PACK_HEADER_SIZE = 8;
export const PACK_FOOTER_SIZE = 8;
export const TRAILER_AAD = Buffer.from('tidemark-pack-trailer-v1');
const ENTRY_SIZE = 1 + 1 + 32 + 4 + 4 + 4;

/** What a blob holds. */
export const BlobType = {
  /** a chunk of file or volume content */
  data: 0,
  /** a journal commit (docs/FORMAT.md, "Journal commits") */
  commit: 1,
} as const;
export type BlobTypeCode = (typeof BlobType)[keyof typeof BlobType];

export interface BlobEntry {
  type: number;
  flags: number;
  id: Buffer;
  offset: number;
  length: number;
  rawLength: number;
}

export function packHeader(): Buffer {
  const h = Buffer.alloc(PACK_HEADER_SIZE);
  PACK_MAGIC.copy(h, 0);
  h[4] = PACK_VERSION;
  return h;
}

export function encodeBlobTable(entries: readonly BlobEntry[]): Buffer {
  const w = new ByteWriter(4 + entries.length * ENTRY_SIZE);
  w.u32(entries.length);
  for (const e of entries) w.u8(e.type).u8(e.flags).bytes(e.id).u32(e.offset).u32(e.length).u32(e.rawLength);
  return Buffer.from(w.view());
}

/** Decode and bound-check a blob table against the size of its pack. */
export function decodeBlobTable(plain: Buffer, packSize: number, what: string): BlobEntry[] {
  const r = new ByteReader(plain, `${what} blob table`);
  const count = r.u32();
  if (count * ENTRY_SIZE !== r.remaining) throw new TidemarkError('TM_FORMAT', `${what}: blob table claims ${count} entries but holds ${r.remaining} bytes`);
  const out: BlobEntry[] = [];
  for (let i = 0; i < count; i++) {
    const e: BlobEntry = { type: r.u8(), flags: r.u8(), id: Buffer.from(r.bytes(32)), offset: r.u32(), length: r.u32(), rawLength: r.u32() };
    if (e.offset < PACK_HEADER_SIZE || e.offset + e.length > packSize - PACK_FOOTER_SIZE || e.length < 28) {
      throw new TidemarkError('TM_FORMAT', `${what}: blob ${i} lies outside the pack (offset ${e.offset}, length ${e.length})`);
    }
    out.push(e);
  }
  return out;
}

export function packFooter(trailerLength: number): Buffer {
  const f = Buffer.alloc(PACK_FOOTER_SIZE);
  f.writeUInt32LE(trailerLength, 0);
  PACK_FOOTER_MAGIC.copy(f, 4);
  return f;
}

/** Relative path of a pack inside the vault. */
export function packRelPath(name: string): string {
  return `packs/${name.slice(0, 2)}/${name}.pack`;
}
