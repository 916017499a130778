/**
 * The JSON shapes the CLI prints with `--json`, as the end-to-end tests read them, and
 * checks that a listing printed by `ls --json` agrees with a tree snapshot.
 */
import assert from 'node:assert/strict';
import type { Snapshot } from './tree.js';

/** `tidemark protect DIR --group G --once --json` */
export interface ProtectJson {
  group: string;
  firstSeq: number | null;
  lastSeq: number;
  records: number;
  filesRead: number;
  bytesRead: number;
  bytesNew: number;
}

/** One element of `tidemark ls GROUP --at P [PATH] --json` */
export interface LsEntry {
  path: string;
  name: string;
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  size: number;
  mtime: string;
  target?: string;
}

/** `tidemark restore GROUP --at P --to DIR [--path SUB] --json` */
export interface RestoreJson {
  files: number;
  dirs: number;
  symlinks: number;
  bytes: number;
}

/** `tidemark bookmark GROUP NAME [--at P] --json` */
export interface BookmarkJson {
  name: string;
  seq: number;
  time: string;
}

/** `tidemark timeline GROUP --json` */
export interface TimelineJson {
  group: string;
  first: { seq: number; time: string };
  last: { seq: number; time: string };
  points: number;
  bookmarks: { name: string; seq: number; time: string; consistency: unknown }[];
}

/** `tidemark verify [--read-data] --json` */
export interface VerifyJson {
  ok: boolean;
  problems: {
    kind: string;
    pack?: string;
    message: string;
    affected: { group: string; path: string }[];
  }[];
}

export function assertProtectShape(r: ProtectJson, group: string): void {
  assert.equal(r.group, group, 'protect --json: "group"');
  assert.ok(r.firstSeq === null || Number.isInteger(r.firstSeq), `protect --json: "firstSeq" must be an integer or null, got ${r.firstSeq}`);
  for (const k of ['lastSeq', 'records', 'filesRead', 'bytesRead', 'bytesNew'] as const) {
    assert.ok(Number.isInteger(r[k]) && r[k] >= 0, `protect --json: "${k}" must be a non-negative integer, got ${r[k]}`);
  }
}

/** The snapshot keys of the direct children of `dirKey` ('' for the root). */
export function childrenOf(snap: Snapshot, dirKey: string): string[] {
  return [...snap.keys()].filter((k) => {
    const slash = k.lastIndexOf('/');
    return dirKey === '' ? slash === -1 : slash !== -1 && k.slice(0, slash) === dirKey;
  });
}

function baseName(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}

/**
 * Check an `ls --json` listing of `dirKey` against the snapshot of the same moment: same
 * number of entries and, for every child whose name is valid UTF-8 (JSON cannot carry other
 * names unambiguously, so those are only counted), the same type, permission bits, size
 * (files), mtime (files and dirs, to the millisecond) and target (symlinks). `path` may be
 * written with or without a leading "/".
 */
export function assertLsMatches(entries: LsEntry[], snap: Snapshot, dirKey: string, label: string): void {
  assert.ok(Array.isArray(entries), `${label}: ls --json must print an array`);
  const expected = childrenOf(snap, dirKey);
  const names = entries.map((e) => e.name);
  assert.equal(entries.length, expected.length,
    `${label}: expected ${expected.length} entries [${expected.map(baseName).join(', ')}], got [${names.join(', ')}]`);
  for (const key of expected) {
    const name = baseName(key);
    if (name.startsWith('<hex:')) continue;
    const want = snap.get(key);
    const got = entries.find((e) => e.name === name);
    assert.ok(want);
    assert.ok(got, `${label}: ${JSON.stringify(name)} missing from the listing [${names.join(', ')}]`);
    const what = `${label}: ${JSON.stringify(key)}`;
    assert.equal(got.path.replace(/^\.?\//, ''), key, `${what}: "path"`);
    assert.equal(got.type, want.type, `${what}: "type"`);
    assert.equal(typeof got.mode, 'number', `${what}: "mode" must be a number`);
    if (want.type !== 'symlink') {
      assert.equal((got.mode & 0o7777).toString(8), (want.mode ?? 0).toString(8), `${what}: permission bits of "mode"`);
    }
    if (want.type === 'file') assert.equal(got.size, want.size, `${what}: "size"`);
    if (want.type === 'symlink') {
      assert.equal(got.target, Buffer.from(want.target ?? '', 'hex').toString('utf8'), `${what}: "target"`);
    }
    assert.equal(typeof got.mtime, 'string', `${what}: "mtime" must be an ISO string`);
    const t = Date.parse(got.mtime);
    assert.ok(!Number.isNaN(t), `${what}: "mtime" ${JSON.stringify(got.mtime)} is not an ISO time`);
    if (want.mtimeMs !== undefined) {
      assert.ok(Math.abs(t - want.mtimeMs) <= 1,
        `${what}: "mtime" expected ${new Date(want.mtimeMs).toISOString()}, got ${got.mtime}`);
    }
  }
}
