/**
 * Delta blobs: a chunk sent as the difference from another chunk the receiver holds (its
 * *base*, typically the chunk at the same offset in the file's previous version). The
 * delta is a zstd frame compressed with the base's plaintext as a raw-content dictionary
 * ("patch from"), so an edit of a few KiB inside a 1 MiB chunk costs a few KiB on the wire.
 * It is sealed like any blob, under the same key, with associated data binding it to the
 * base and the chunk id:
 *
 *   wire blob type 2: id = the chunk's id · raw length = the chunk's length ·
 *   sealed = base id (32) · seal(AAD = "tidemark-delta-v1" · base id · chunk id, delta)
 *
 * Only nodes with the key make or open deltas (the tap and vaults); a hub stores and
 * forwards them as they are. Opening one MUST end with the chunk id recomputed.
 */
import { Compressor, Decompressor } from 'zstd-napi';
import { TidemarkError } from '../common/errors.js';

/** Wire blob type of a delta (types 0 and 1 are a pack's chunk and commit). */
export const DELTA_BLOB = 2;
const AAD = Buffer.from('tidemark-delta-v1');
/** Chunks are at most 4 MiB (docs/FORMAT.md, "Chunking"): base and target fit a 16 MiB window. */
const WINDOW_LOG = 24;

export function deltaAad(base: Buffer, id: Buffer): Buffer {
  return Buffer.concat([AAD, base, id]);
}

/** zstd of `target` with `base` as dictionary. */
export function encodeDelta(target: Uint8Array, base: Uint8Array): Buffer {
  const c = new Compressor();
  // A hash table as large as the chunk: every position of the base can be found again
  // (with the default table most of a 1 MiB base is missed and the delta is ~15× larger).
  c.setParameters({ compressionLevel: 1, windowLog: WINDOW_LOG, hashLog: 22 });
  c.loadDictionary(base);
  return c.compress(target);
}

/** Rebuild a chunk from its delta and base; TM_CORRUPT when it does not decode to `rawLength` bytes. */
export function decodeDelta(delta: Uint8Array, base: Uint8Array, rawLength: number, what: string): Buffer {
  if (rawLength > 1 << WINDOW_LOG) throw new TidemarkError('TM_PROTOCOL', `${what}: a delta claims ${rawLength} bytes`);
  const d = new Decompressor();
  d.setParameters({ windowLogMax: WINDOW_LOG });
  d.loadDictionary(base);
  let out: Buffer;
  try {
    out = d.decompress(delta);
  } catch (err) {
    throw new TidemarkError('TM_CORRUPT', `${what}: the delta does not decompress against its base`, { cause: err });
  }
  if (out.length !== rawLength) throw new TidemarkError('TM_CORRUPT', `${what}: the delta gives ${out.length} bytes, ${rawLength} expected`);
  return out;
}
