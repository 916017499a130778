/**
 * `tidemark verify`: checks that every pack the index names exists and that its blob
 * table opens; that every chunk a version references is stored; with `readData`, that
 * every pack hashes to its name and every blob decrypts and matches its id. Damage is
 * reported with the files and points it affects.
 */
import { VolumeIndex } from './index/volume-index.js';
import { VOLUME_BLOCK } from './journal/journal-record.js';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TidemarkError } from '../common/errors.js';
import { displayPath } from '../common/rel-path.js';
import { decodeExtents } from './journal/commit-codec.js';
import { packRelPath } from './pack/pack-format.js';
import type { Vault } from './vault.js';

export interface Affected { group: string; path: string; seqs: number[] }

export interface Problem {
  kind: 'missing-pack' | 'unreadable-pack' | 'pack-hash' | 'bad-blob' | 'missing-blob' | 'unindexed-pack';
  pack?: string;
  blob?: string;
  message: string;
  affected: Affected[];
}

export interface VerifyReport {
  ok: boolean;
  packs: number;
  blobs: number;
  blobsRead: number;
  bytesRead: number;
  problems: Problem[];
}

export interface VerifyOptions {
  readData?: boolean;
  onProgress?: (done: number, total: number) => void;
}

/** Map damaged chunk ids to the (group, path, seq) versions whose content uses them. */
function affectedBy(vault: Vault, bad: Set<string>): Map<string, Affected[]> {
  const out = new Map<string, Affected[]>();
  if (bad.size === 0) return out;
  const groups = new Map(vault.index.groups().map((g) => [g.id, g.name]));
  const rows = vault.index.db.prepare('SELECT group_id, path, seq, extents FROM versions WHERE kind = 1 AND extents IS NOT NULL').iterate() as IterableIterator<{ group_id: number; path: Buffer; seq: number; extents: Buffer }>;
  const byKey = new Map<string, Affected>();
  // Volume groups: name the byte ranges (block runs) and the seqs that wrote them.
  const volumes = new VolumeIndex(vault.index);
  for (const hex of bad) {
    const uses = volumes.blocksUsing(Buffer.from(hex, 'hex'));
    const bySeq = new Map<string, Affected>();
    for (const u of uses) {
      const key = `${u.groupId}\0${u.seq}`;
      let a = bySeq.get(key);
      if (!a) {
        a = { group: groups.get(u.groupId) ?? String(u.groupId), path: `(volume bytes ${u.block * VOLUME_BLOCK}+)`, seqs: [u.seq] };
        bySeq.set(key, a);
        const list = out.get(hex) ?? [];
        list.push(a);
        out.set(hex, list);
      }
    }
  }
  for (const r of rows) {
    for (const x of decodeExtents(r.extents)) {
      if (!x.id) continue;
      const hex = x.id.toString('hex');
      if (!bad.has(hex)) continue;
      const key = `${hex}\0${r.group_id}\0${r.path.toString('latin1')}`;
      let a = byKey.get(key);
      if (!a) {
        a = { group: groups.get(r.group_id) ?? String(r.group_id), path: displayPath(r.path), seqs: [] };
        byKey.set(key, a);
        const list = out.get(hex) ?? [];
        list.push(a);
        out.set(hex, list);
      }
      if (!a.seqs.includes(r.seq)) a.seqs.push(r.seq);
    }
  }
  return out;
}

export function verifyVault(vault: Vault, opts: VerifyOptions = {}): VerifyReport {
  const problems: Problem[] = [];
  const badBlobs = new Map<string, Problem>();
  const packRows = vault.index.db.prepare('SELECT id, name FROM packs ORDER BY name').all() as { id: number; name: string }[];
  const onDisk = new Set(vault.listPackFiles());
  let blobs = 0;
  let blobsRead = 0;
  let bytesRead = 0;
  const blobsOf = vault.index.db.prepare('SELECT id, type, flags, offset, length, raw_length AS rawLength FROM blobs WHERE pack = ?');
  const markPack = (pack: string, kind: Problem['kind'], message: string): void => {
    const p: Problem = { kind, pack, message, affected: [] };
    problems.push(p);
    for (const b of blobsOf.all(packRows.find((r) => r.name === pack)?.id ?? -1) as { id: Buffer }[]) badBlobs.set(b.id.toString('hex'), p);
  };
  packRows.forEach((row, i) => {
    opts.onProgress?.(i, packRows.length);
    if (!onDisk.has(row.name)) { markPack(row.name, 'missing-pack', `pack ${row.name} is missing`); return; }
    let table;
    try {
      table = vault.packs.readTable(row.name);
    } catch (err) {
      markPack(row.name, 'unreadable-pack', err instanceof Error ? err.message : String(err));
      return;
    }
    const indexed = blobsOf.all(row.id) as { id: Buffer; type: number; flags: number; offset: number; length: number; rawLength: number }[];
    blobs += indexed.length;
    if (opts.readData) {
      const bytes = readFileSync(join(vault.dir, packRelPath(row.name)));
      bytesRead += bytes.length;
      if (createHash('sha256').update(bytes).digest('hex') !== row.name) {
        problems.push({ kind: 'pack-hash', pack: row.name, message: `pack ${row.name} does not hash to its name (its content changed)`, affected: [] });
      }
      for (const e of table.blobs) {
        blobsRead++;
        try {
          vault.sealer.open(e.id, bytes.subarray(e.offset, e.offset + e.length), e.flags, e.rawLength, `blob ${e.id.toString('hex').slice(0, 16)} in pack ${row.name}`);
        } catch (err) {
          if (!(err instanceof TidemarkError)) throw err;
          const p: Problem = { kind: 'bad-blob', pack: row.name, blob: e.id.toString('hex'), message: err.message, affected: [] };
          problems.push(p);
          badBlobs.set(e.id.toString('hex'), p);
        }
      }
    }
  });
  for (const name of onDisk) {
    if (!packRows.some((r) => r.name === name)) problems.push({ kind: 'unindexed-pack', pack: name, message: `pack ${name} is not in the index (left by an interrupted run; \`tidemark prune\` removes it if unused)`, affected: [] });
  }
  // Every chunk a version references must be stored.
  const hasBlob = vault.index.db.prepare('SELECT 1 FROM blobs WHERE id = ?');
  const seen = new Set<string>();
  const mustBeStored = (id: Buffer): void => {
    const hex = id.toString('hex');
    if (seen.has(hex)) return;
    seen.add(hex);
    if (!hasBlob.get(id)) {
      const p: Problem = { kind: 'missing-blob', blob: hex, message: `chunk ${hex.slice(0, 16)} is referenced but not stored`, affected: [] };
      problems.push(p);
      badBlobs.set(hex, p);
    }
  };
  for (const r of vault.index.db.prepare('SELECT extents FROM versions WHERE kind = 1 AND extents IS NOT NULL').iterate() as IterableIterator<{ extents: Buffer }>) {
    for (const x of decodeExtents(r.extents)) if (x.id) mustBeStored(x.id);
  }
  // A damaged journal commit affects points, not files: name the seq range it holds.
  const commitOf = vault.index.db.prepare('SELECT g.name AS grp, c.first_seq AS a, c.last_seq AS b FROM commits c JOIN groups g ON g.id = c.group_id WHERE c.blob = ?');
  for (const [hex, p] of badBlobs) {
    const c = commitOf.get(Buffer.from(hex, 'hex')) as { grp: string; a: number; b: number } | undefined;
    if (c) p.affected.push({ group: c.grp, path: `(journal records seq:${c.a}..seq:${c.b}; the index still has them, \`index rebuild\` would lose them)`, seqs: [c.a, c.b] });
  }
  for (const r of vault.index.db.prepare('SELECT DISTINCT chunk FROM vblocks WHERE chunk IS NOT NULL').all() as { chunk: Buffer }[]) mustBeStored(r.chunk);
  const affected = affectedBy(vault, new Set(badBlobs.keys()));
  for (const [hex, p] of badBlobs) for (const a of affected.get(hex) ?? []) if (!p.affected.includes(a)) p.affected.push(a);
  const serious = problems.filter((p) => p.kind !== 'unindexed-pack');
  return { ok: serious.length === 0, packs: packRows.length, blobs, blobsRead, bytesRead, problems };
}
