/**
 * Turns a range of volume bytes into a `vwrite` record: the range is cut at fixed
 * CHUNK-aligned offsets of the volume's address space (so rewriting the same region with
 * the same bytes dedups), all-zero pieces become holes, and pieces the vault lacks are
 * stored (sealed on worker threads).
 */
import { isZero } from '../../common/zero-bytes.js';
import { VOLUME_BLOCK, type Extent } from './journal-record.js';
import type { Vault } from '../vault.js';

/** Bytes per chunk of volume data: a multiple of VOLUME_BLOCK. */
export const VOLUME_CHUNK = 64 * 1024;

/** The block-aligned range covering [offset, offset + length). */
export function alignedRange(offset: number, length: number): { start: number; end: number } {
  return { start: Math.floor(offset / VOLUME_BLOCK) * VOLUME_BLOCK, end: Math.ceil((offset + length) / VOLUME_BLOCK) * VOLUME_BLOCK };
}

/** One piece of an aligned range, ready to compare or store. */
export interface Piece { offset: number; data: Buffer; id: Buffer | null }

/** Cut `data` (which starts at the aligned `offset`) into CHUNK-aligned pieces with their ids. */
export function pieces(vault: Vault, offset: number, data: Buffer): Piece[] {
  const out: Piece[] = [];
  let pos = offset;
  const end = offset + data.length;
  while (pos < end) {
    const stop = Math.min(end, (Math.floor(pos / VOLUME_CHUNK) + 1) * VOLUME_CHUNK);
    const piece = data.subarray(pos - offset, stop - offset);
    out.push({ offset: pos, data: piece, id: isZero(piece) ? null : vault.sealer.id(piece) });
    pos = stop;
  }
  return out;
}

/** Store the pieces the vault lacks and return their extents, adjacent holes merged. */
export function storePieces(vault: Vault, list: readonly Piece[]): Extent[] {
  const extents: Extent[] = [];
  for (const p of list) {
    const last = extents[extents.length - 1];
    if (p.id === null) {
      if (last && last.id === null) last.length += p.data.length;
      else extents.push({ id: null, length: p.data.length });
      continue;
    }
    if (!vault.hasBlob(p.id)) vault.storeChunk(p.id, p.data);
    extents.push({ id: p.id, length: p.data.length });
  }
  return extents;
}
