/**
 * Resolves a recovery point spec (`latest`, an ISO-8601 time, `seq:N`, `bookmark:NAME`)
 * to a (group, seq). A time selects the last point captured at or before it.
 */
import { TidemarkError } from '../common/errors.js';
import type { Vault } from '../vault/vault.js';

export interface ResolvedPoint {
  group: string;
  groupId: number;
  seq: number;
  /** capture time of that point, ms since the epoch */
  time: number;
  /**
   * Read torn versions as they were captured. By default a file whose version at the point
   * is torn reads as its last clean version at or before it (absent when it has none).
   */
  includeTorn?: boolean;
}

export function requireGroup(vault: Vault, group: string): number {
  const gid = vault.index.groupId(group);
  if (gid === undefined || vault.index.lastSeq(gid) === 0) {
    const known = vault.index.groups().map((g) => g.name);
    throw new TidemarkError('TM_NOT_FOUND', `No group "${group}" in the vault ${vault.dir}`, {
      hint: known.length ? `known groups: ${known.join(', ')}` : 'nothing is protected yet: run `tidemark protect DIR`',
    });
  }
  return gid;
}

export function resolvePoint(vault: Vault, group: string, spec: string | undefined): ResolvedPoint {
  const groupId = requireGroup(vault, group);
  const at = (spec ?? 'latest').trim();
  const first = vault.index.firstPoint(groupId)!;
  const last = vault.index.lastPoint(groupId)!;
  const out = (p: { seq: number; time: number }): ResolvedPoint => ({ group, groupId, seq: p.seq, time: p.time });
  if (at === 'latest' || at === 'now') return out(last);
  const seqMatch = /^seq:(\d+)$/.exec(at);
  if (seqMatch) {
    const seq = Number(seqMatch[1]);
    const p = vault.index.point(groupId, seq);
    if (!p) {
      throw new TidemarkError('TM_BAD_POINT', `Group "${group}" has no point seq:${seq}`, {
        hint: `points run from seq:${first.seq} to seq:${last.seq} (see \`tidemark timeline ${group}\`)`,
      });
    }
    return out(p);
  }
  if (at.startsWith('bookmark:')) {
    const name = at.slice('bookmark:'.length);
    const b = vault.index.bookmark(groupId, name);
    if (!b) {
      const names = vault.index.bookmarks(groupId).map((x) => x.name);
      throw new TidemarkError('TM_BAD_POINT', `Group "${group}" has no bookmark "${name}"`, { hint: names.length ? `bookmarks: ${names.join(', ')}` : 'create one with `tidemark bookmark GROUP NAME`' });
    }
    const p = vault.index.point(groupId, b.seq);
    if (!p) throw new TidemarkError('TM_BAD_POINT', `Bookmark "${name}" points at seq:${b.seq}, which is no longer retained`);
    return out(p);
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(at)) {
    const t = Date.parse(at);
    if (Number.isNaN(t)) throw new TidemarkError('TM_BAD_POINT', `"${at}" is not a valid ISO-8601 time`);
    const p = vault.index.pointAtTime(groupId, t);
    if (!p) {
      throw new TidemarkError('TM_BAD_POINT', `Group "${group}" has no point at or before ${new Date(t).toISOString()}`, {
        hint: `the first point is seq:${first.seq} at ${new Date(first.time).toISOString()}`,
      });
    }
    return out(p);
  }
  throw new TidemarkError('TM_BAD_POINT', `"${at}" is not a recovery point`, { hint: 'use latest, an ISO-8601 time, seq:N or bookmark:NAME' });
}
