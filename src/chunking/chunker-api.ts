/**
 * The contract of the content-defined chunker (implemented in chunker.ts).
 * Boundaries depend only on content and on the vault's gear seed, so an insert shifts
 * only the chunks around it.
 */

/** Chunk size limits in bytes. Defaults: min 256 KiB, average 1 MiB, max 4 MiB. */
export interface ChunkerParams {
  minSize: number;
  avgSize: number;
  maxSize: number;
}

export const DEFAULT_CHUNKER_PARAMS: ChunkerParams = {
  minSize: 256 * 1024,
  avgSize: 1024 * 1024,
  maxSize: 4 * 1024 * 1024,
};
