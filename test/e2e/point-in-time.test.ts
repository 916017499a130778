/**
 * Acceptance scenario: a directory goes through a scripted sequence of changes, each one
 * recorded with `tidemark protect --once`; afterwards, every recorded point restores to
 * exactly the tree as it was when that point was recorded (content, permission bits,
 * mtimes, symlinks, empty files and dirs, hard links, sparse files, non-UTF-8 names).
 *
 * The expected tree of a step is snapshotted right after the change and before protect
 * runs, so directory mtimes are those the protect run saw.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { assertOk, describeCall, makeVault, type TestVault } from '../helpers/cli.js';
import { assertSameTree, sha256, snapshotTree, subtreeOf, type Snapshot } from '../helpers/tree.js';
import {
  assertLsMatches, assertProtectShape, childrenOf,
  type BookmarkJson, type LsEntry, type ProtectJson, type RestoreJson, type TimelineJson, type VerifyJson,
} from '../helpers/contract.js';

const MiB = 1024 * 1024;
const GROUP = 'g';
const STEP_TIMEOUT = 120_000;

interface ScriptStep {
  id: string;
  /** What changes, as read in the test name. */
  title: string;
  apply(src: string): Promise<void>;
}

interface Recorded {
  id: string;
  seq: number;
  snap: Snapshot;
  result: ProtectJson;
}

/** Content the checks below compare against. */
const NOTES_V1 = 'version one of the notes, 41 bytes long.\n';
const NOTES_V2 = 'version two of the notes, 41 bytes long.\n';
const LOG_V1 = 'line 1\n';
const LOG_V2 = 'line 1\nline 2, appended\n';
const TRUNC_V1 = 'truncate me '.repeat(400);
const TRUNC_V2 = TRUNC_V1.slice(0, 10);
const BLOB = randomBytes(100_000);
const UNICODE_NAME = 'ünïcödé 日本語 🌊.txt';
const NEWLINE_NAME = 'new\nline.txt';
const DASH_NAME = '-leading-dash.txt';
const LONG_NAME = 'n'.repeat(251) + '.txt';
const NON_UTF8_FILE = Buffer.from([0x66, 0xff, 0xfe]);
const NON_UTF8_DIR = Buffer.from([0x64, 0xe9, 0x72]);

function p(src: string, ...parts: string[]): string {
  return path.join(src, ...parts);
}

async function write(file: string, data: string | Buffer, mode?: number): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, data);
  if (mode !== undefined) await fs.chmod(file, mode);
}

const SCRIPT: ScriptStep[] = [
  {
    id: 'initial',
    title: 'initial tree: text, random binary, empty file, empty dir, nested dirs',
    apply: async (src) => {
      await write(p(src, 'docs', 'readme.txt'), 'Tidemark test tree.\nSecond line.\n');
      await write(p(src, 'docs', 'guide.md'), '# Guide\n\n' + 'Some words. '.repeat(200) + '\n');
      await write(p(src, 'data', 'blob.bin'), BLOB);
      await write(p(src, 'empty.txt'), '');
      await fs.mkdir(p(src, 'emptydir'));
      await write(p(src, 'a', 'b', 'c', 'deep.txt'), 'deep down\n');
      await write(p(src, 'a', 'b', 'other.txt'), 'other\n');
      await write(p(src, 'a', 'top.txt'), 'top\n');
      await write(p(src, 'notes.txt'), NOTES_V1);
      await write(p(src, 'log.txt'), LOG_V1);
      await write(p(src, 'trunc.txt'), TRUNC_V1);
      await write(p(src, 'victim.txt'), 'I will be deleted\n');
      await write(p(src, 'old-name.txt'), 'I will be renamed\n');
      await write(p(src, 'olddir', 'top.txt'), 'in the dir that gets renamed\n');
      await write(p(src, 'olddir', 'inner', 'file.txt'), 'inner file\n');
      await write(p(src, 'olddir', 'inner', 'deeper', 'leaf.bin'), randomBytes(5000));
      await fs.mkdir(p(src, 'olddir', 'inner', 'empty'));
      await write(p(src, 'perm.txt'), 'permissions change\n', 0o600);
      await write(p(src, 'permdir', 'file.txt'), 'in permdir\n');
      await fs.chmod(p(src, 'permdir'), 0o755);
      await write(p(src, 'thing'), 'a file that becomes a directory\n');
      await write(p(src, 'dir2file', 'x.txt'), 'x\n');
      await write(p(src, 'dir2file', 'sub', 'y.txt'), 'y\n');
    },
  },
  {
    id: 'overwrite',
    title: 'a file overwritten with different bytes of the same size',
    apply: async (src) => {
      assert.equal(NOTES_V1.length, NOTES_V2.length);
      await fs.writeFile(p(src, 'notes.txt'), NOTES_V2);
    },
  },
  {
    id: 'append',
    title: 'bytes appended to a file',
    apply: async (src) => { await fs.appendFile(p(src, 'log.txt'), LOG_V2.slice(LOG_V1.length)); },
  },
  {
    id: 'truncate',
    title: 'a file truncated',
    apply: async (src) => { await fs.truncate(p(src, 'trunc.txt'), TRUNC_V2.length); },
  },
  {
    id: 'delete-file',
    title: 'a file deleted',
    apply: async (src) => { await fs.unlink(p(src, 'victim.txt')); },
  },
  {
    id: 'rename-file',
    title: 'a file renamed',
    apply: async (src) => { await fs.rename(p(src, 'old-name.txt'), p(src, 'new-name.txt')); },
  },
  {
    id: 'rename-dir',
    title: 'a directory with contents renamed',
    apply: async (src) => { await fs.rename(p(src, 'olddir'), p(src, 'newdir')); },
  },
  {
    id: 'chmod-file',
    title: 'a file chmod-ed from 0600 to 0755',
    apply: async (src) => { await fs.chmod(p(src, 'perm.txt'), 0o755); },
  },
  {
    id: 'chmod-dir',
    title: 'a directory chmod-ed from 0755 to 0700',
    apply: async (src) => { await fs.chmod(p(src, 'permdir'), 0o700); },
  },
  {
    id: 'symlink',
    title: 'symlinks created to a file and to a directory',
    apply: async (src) => {
      await fs.symlink('notes.txt', p(src, 'link-to-notes'));
      await fs.symlink('docs', p(src, 'docs-link'));
    },
  },
  {
    id: 'dangling-symlink',
    title: 'a dangling symlink created',
    apply: async (src) => { await fs.symlink('does/not/exist', p(src, 'dangling')); },
  },
  {
    id: 'retarget-symlink',
    title: 'a symlink retargeted',
    apply: async (src) => {
      await fs.symlink('docs/readme.txt', p(src, 'link-to-notes.tmp'));
      await fs.rename(p(src, 'link-to-notes.tmp'), p(src, 'link-to-notes'));
    },
  },
  {
    id: 'deep-empty-dir',
    title: 'an empty directory added deep in new directories',
    apply: async (src) => { await fs.mkdir(p(src, 'x', 'y', 'z', 'w', 'empty-deep'), { recursive: true }); },
  },
  {
    id: 'file-to-dir',
    title: 'a file replaced by a directory of the same name',
    apply: async (src) => {
      await fs.unlink(p(src, 'thing'));
      await write(p(src, 'thing', 'inside.txt'), 'now thing is a directory\n');
    },
  },
  {
    id: 'dir-to-file',
    title: 'a directory replaced by a file of the same name',
    apply: async (src) => {
      await fs.rm(p(src, 'dir2file'), { recursive: true });
      await write(p(src, 'dir2file'), 'now dir2file is a file\n');
    },
  },
  {
    id: 'big-file',
    title: 'a 20 MiB file of random bytes created',
    apply: async (src) => { await write(p(src, 'big', 'huge.bin'), randomBytes(20 * MiB)); },
  },
  {
    id: 'big-file-edit',
    title: '4 KiB rewritten in the middle of the 20 MiB file',
    apply: async (src) => {
      const fh = await fs.open(p(src, 'big', 'huge.bin'), 'r+');
      try {
        await fh.write(randomBytes(4096), 0, 4096, 10 * MiB);
      } finally {
        await fh.close();
      }
    },
  },
  {
    id: 'many-files',
    title: '1,000 small files created in one directory',
    apply: async (src) => {
      await fs.mkdir(p(src, 'many'));
      for (let i = 0; i < 1000; i++) {
        await fs.writeFile(p(src, 'many', `f${String(i).padStart(4, '0')}.txt`), `small file number ${i}\n`);
      }
    },
  },
  {
    id: 'many-files-half-deleted',
    title: 'half of the 1,000 small files deleted',
    apply: async (src) => {
      for (let i = 1; i < 1000; i += 2) await fs.unlink(p(src, 'many', `f${String(i).padStart(4, '0')}.txt`));
    },
  },
  {
    id: 'sparse-file',
    title: 'a 64 MiB sparse file with 1 MiB of data at 32 MiB',
    apply: async (src) => {
      const fh = await fs.open(p(src, 'sparse.img'), 'w');
      try {
        await fh.truncate(64 * MiB);
        await fh.write(randomBytes(MiB), 0, MiB, 32 * MiB);
      } finally {
        await fh.close();
      }
    },
  },
  {
    id: 'hard-link',
    title: 'hard links made to an existing file',
    apply: async (src) => {
      await fs.link(p(src, 'data', 'blob.bin'), p(src, 'blob-hardlink.bin'));
      await fs.link(p(src, 'data', 'blob.bin'), p(src, 'docs', 'blob-link.bin'));
    },
  },
  {
    id: 'odd-names',
    title: 'files with odd names: spaces, newline, leading dash, unicode, non-UTF-8 bytes, 255 bytes',
    apply: async (src) => {
      const odd = p(src, 'odd');
      await fs.mkdir(odd);
      await fs.writeFile(path.join(odd, 'with space.txt'), 'space\n');
      await fs.writeFile(path.join(odd, NEWLINE_NAME), 'newline\n');
      await fs.writeFile(path.join(odd, DASH_NAME), 'dash\n');
      await fs.writeFile(path.join(odd, UNICODE_NAME), 'unicode\n');
      await fs.writeFile(path.join(odd, 'quote"back\\slash*?.txt'), 'quotes\n');
      assert.equal(Buffer.byteLength(LONG_NAME), 255);
      await fs.writeFile(path.join(odd, LONG_NAME), 'long name\n');
      const oddBuf = Buffer.from(odd + '/');
      await fs.writeFile(Buffer.concat([oddBuf, NON_UTF8_FILE]), 'non-utf8 name\n');
      await fs.mkdir(Buffer.concat([oddBuf, NON_UTF8_DIR]));
      await fs.writeFile(Buffer.concat([oddBuf, NON_UTF8_DIR, Buffer.from('/inner.txt')]), 'inside a non-utf8 dir\n');
    },
  },
  {
    id: 'past-mtime',
    title: 'mtimes set into the past with utimes (a file and a directory)',
    apply: async (src) => {
      const t = new Date('2001-02-03T04:05:06.789Z');
      await fs.utimes(p(src, 'docs', 'readme.txt'), t, t);
      const d = new Date('1999-12-31T23:59:59.000Z');
      await fs.utimes(p(src, 'emptydir'), d, d);
    },
  },
  {
    id: 'delete-tree',
    title: 'whole directory trees deleted',
    apply: async (src) => {
      await fs.rm(p(src, 'a'), { recursive: true });
      await fs.rm(p(src, 'many'), { recursive: true });
    },
  },
];

describe('point-in-time recovery of a protected directory', () => {
  let tv: TestVault;
  let src: string;
  const recorded = new Map<string, Recorded>();
  let restoreCount = 0;

  before(async () => {
    tv = await makeVault();
    src = await tv.tempDir('src');
  });
  after(async () => { await tv?.cleanup(); });

  function step(id: string): Recorded {
    const r = recorded.get(id);
    if (!r) assert.fail(`step "${id}" was not recorded (its protect run failed), so there is nothing to check it against`);
    return r;
  }
  function last(): Recorded {
    return step(SCRIPT[SCRIPT.length - 1].id);
  }

  /** Restore at `at` into a fresh directory (every other call: one that does not exist yet). */
  async function restoreInto(at: string, extra: string[] = []): Promise<{ dir: string; result: RestoreJson }> {
    restoreCount++;
    const dir = restoreCount % 2 === 0 ? await tv.tempDir('restore') : path.join(tv.root, `restore-new-${restoreCount}`);
    const result = await tv.json<RestoreJson>(['restore', GROUP, '--at', at, '--to', dir, ...extra]);
    for (const k of ['files', 'dirs', 'symlinks', 'bytes'] as const) {
      assert.ok(Number.isInteger(result[k]) && result[k] >= 0, `restore --json: "${k}" must be a non-negative integer, got ${result[k]}`);
    }
    return { dir, result };
  }

  async function cat(at: string, file: string): Promise<Buffer> {
    const args = ['cat', GROUP, '--at', at, file];
    return assertOk(await tv.run(args), args).stdout;
  }

  describe('protect --once records each change as a new recovery point', () => {
    for (const s of SCRIPT) {
      it(`records: ${s.title}`, { timeout: STEP_TIMEOUT }, async () => {
        await s.apply(src);
        const snap = await snapshotTree(src);
        const result = await tv.json<ProtectJson>(['protect', src, '--group', GROUP, '--once']);
        assertProtectShape(result, GROUP);
        const previous = [...recorded.values()].at(-1);
        assert.ok(result.records > 0, `a change must produce records, got ${result.records}`);
        assert.ok(result.firstSeq !== null, 'firstSeq must be a number when records were written');
        assert.ok(result.firstSeq <= result.lastSeq, `firstSeq ${result.firstSeq} > lastSeq ${result.lastSeq}`);
        if (previous) {
          assert.ok(result.firstSeq > previous.seq,
            `new records must come after the previous point: firstSeq ${result.firstSeq}, previous lastSeq ${previous.seq}`);
        }
        recorded.set(s.id, { id: s.id, seq: result.lastSeq, snap, result });
      });
    }

    it('the first run reads every file of the initial tree', () => {
      const first = step('initial');
      const files = [...first.snap.values()].filter((e) => e.type === 'file');
      const bytes = files.reduce((n, e) => n + (e.size ?? 0), 0);
      assert.ok(first.result.filesRead >= files.length, `filesRead ${first.result.filesRead} < ${files.length} files`);
      assert.ok(first.result.bytesRead >= bytes, `bytesRead ${first.result.bytesRead} < ${bytes} bytes of content`);
      assert.ok(first.result.bytesNew > 0, 'bytesNew must count the new content of the first run');
    });

    it('stores the 20 MiB of new random content as new bytes', () => {
      const r = step('big-file').result;
      assert.ok(r.bytesNew >= 10 * MiB, `bytesNew ${r.bytesNew} for 20 MiB of random bytes`);
    });

    it('stores only the changed part of the 20 MiB file after a 4 KiB edit (bytesNew < 6 MiB)', () => {
      const r = step('big-file-edit').result;
      assert.ok(r.bytesNew < 6 * MiB, `bytesNew ${r.bytesNew} >= 6 MiB: unchanged chunks were stored again`);
    });

    it('a run with nothing changed records nothing and keeps the same lastSeq', { timeout: STEP_TIMEOUT }, async () => {
      const before = last();
      const result = await tv.json<ProtectJson>(['protect', src, '--group', GROUP, '--once']);
      assertProtectShape(result, GROUP);
      assert.equal(result.records, 0, 'records');
      assert.equal(result.lastSeq, before.seq, 'lastSeq');
      assert.equal(result.firstSeq, null, 'firstSeq with no records');
      assert.equal(result.bytesNew, 0, 'bytesNew with no records');
      assertSameTree(await snapshotTree(src), before.snap, { label: 'source tree (unchanged by protect)' });
    });
  });

  describe('restore --at seq:N gives back the exact tree of every recorded point', () => {
    for (const s of SCRIPT) {
      it(`restores the tree after: ${s.title}`, { timeout: STEP_TIMEOUT }, async () => {
        const r = step(s.id);
        const { dir, result } = await restoreInto(`seq:${r.seq}`);
        try {
          assertSameTree(await snapshotTree(dir), r.snap, { label: `restore --at seq:${r.seq} (${s.id})` });
          const entries = [...r.snap.values()];
          const count = (t: string): number => entries.filter((e) => e.type === t).length;
          assert.equal(result.symlinks, count('symlink'), 'restore --json: "symlinks"');
          const filePaths = count('file');
          const fileInodes = filePaths - entries.filter((e) => e.links && e.links.length > 1).length +
            new Set(entries.filter((e) => e.links).map((e) => e.links?.join('\n'))).size;
          assert.ok(result.files >= fileInodes && result.files <= filePaths,
            `restore --json: "files" ${result.files}, expected ${filePaths} paths (${fileInodes} distinct files)`);
          assert.ok(result.dirs === count('dir') || result.dirs === count('dir') + 1,
            `restore --json: "dirs" ${result.dirs}, expected ${count('dir')} (or +1 for the target)`);
          if (!r.snap.has('sparse.img') && filePaths === fileInodes) {
            const bytes = entries.reduce((n, e) => n + (e.type === 'file' ? e.size ?? 0 : 0), 0);
            assert.equal(result.bytes, bytes, 'restore --json: "bytes" (total file content)');
          }
        } finally {
          await fs.rm(dir, { recursive: true, force: true });
        }
      });
    }

    it('restore --path SUB writes only that subtree, its content directly under --to', { timeout: STEP_TIMEOUT }, async () => {
      const r = step('rename-dir');
      const { dir } = await restoreInto(`seq:${r.seq}`, ['--path', 'newdir']);
      try {
        assertSameTree(await snapshotTree(dir), subtreeOf(r.snap, 'newdir'), { label: 'restore --path newdir' });
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    });

    it('restore --path of a nested subtree at a later point', { timeout: STEP_TIMEOUT }, async () => {
      const r = step('odd-names');
      const { dir } = await restoreInto(`seq:${r.seq}`, ['--path', 'newdir/inner']);
      try {
        assertSameTree(await snapshotTree(dir), subtreeOf(r.snap, 'newdir/inner'), { label: 'restore --path newdir/inner' });
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    });
  });

  describe('cat and ls read files and listings as of an earlier point', () => {
    it('cat returns the old bytes of a file at the point before it was overwritten', async () => {
      assert.equal((await cat(`seq:${step('initial').seq}`, 'notes.txt')).toString(), NOTES_V1);
      assert.equal((await cat(`seq:${step('overwrite').seq}`, 'notes.txt')).toString(), NOTES_V2);
    });

    it('cat follows appends and truncations point by point', async () => {
      assert.equal((await cat(`seq:${step('overwrite').seq}`, 'log.txt')).toString(), LOG_V1);
      assert.equal((await cat(`seq:${step('append').seq}`, 'log.txt')).toString(), LOG_V2);
      assert.equal((await cat(`seq:${step('append').seq}`, 'trunc.txt')).toString(), TRUNC_V1);
      assert.equal((await cat(`seq:${step('truncate').seq}`, 'trunc.txt')).toString(), TRUNC_V2);
    });

    it('cat writes binary content unchanged, and an empty file as nothing', async () => {
      assert.ok((await cat('latest', 'data/blob.bin')).equals(BLOB), 'data/blob.bin at latest');
      assert.equal((await cat('latest', 'empty.txt')).length, 0, 'empty.txt');
    });

    it('cat of the 20 MiB file gives its content before and after the edit', { timeout: STEP_TIMEOUT }, async () => {
      const before = step('big-file');
      const afterEdit = step('big-file-edit');
      assert.equal(sha256(await cat(`seq:${before.seq}`, 'big/huge.bin')), before.snap.get('big/huge.bin')?.sha256);
      assert.equal(sha256(await cat(`seq:${afterEdit.seq}`, 'big/huge.bin')), afterEdit.snap.get('big/huge.bin')?.sha256);
    });

    it('cat reads files with unicode, newline, leading-dash and 255-byte names', async () => {
      const at = `seq:${step('odd-names').seq}`;
      assert.equal((await cat(at, `odd/${UNICODE_NAME}`)).toString(), 'unicode\n');
      assert.equal((await cat(at, `odd/${NEWLINE_NAME}`)).toString(), 'newline\n');
      assert.equal((await cat(at, `odd/${DASH_NAME}`)).toString(), 'dash\n');
      assert.equal((await cat(at, `odd/${LONG_NAME}`)).toString(), 'long name\n');
    });

    it('cat of a file that no longer exists at that point fails', async () => {
      const args = ['cat', GROUP, '--at', `seq:${step('delete-file').seq}`, 'victim.txt'];
      const res = await tv.run(args);
      assert.notEqual(res.code, 0, `${describeCall(args)} must fail; stdout: ${res.stdout.toString().slice(0, 200)}`);
    });

    it('ls at the point before a delete lists the deleted file, and not after it', async () => {
      const before = step('truncate');
      const afterDelete = step('delete-file');
      const l1 = await tv.json<LsEntry[]>(['ls', GROUP, '--at', `seq:${before.seq}`]);
      assertLsMatches(l1, before.snap, '', `ls --at seq:${before.seq}`);
      assert.ok(l1.some((e) => e.name === 'victim.txt'), 'victim.txt listed before its deletion');
      const l2 = await tv.json<LsEntry[]>(['ls', GROUP, '--at', `seq:${afterDelete.seq}`]);
      assertLsMatches(l2, afterDelete.snap, '', `ls --at seq:${afterDelete.seq}`);
      assert.ok(!l2.some((e) => e.name === 'victim.txt'), 'victim.txt not listed after its deletion');
    });

    it('ls PATH lists a subdirectory with path, name, type, mode, size and mtime', async () => {
      const r = step('initial');
      const entries = await tv.json<LsEntry[]>(['ls', GROUP, '--at', `seq:${r.seq}`, 'docs']);
      assertLsMatches(entries, r.snap, 'docs', 'ls docs');
      const nested = await tv.json<LsEntry[]>(['ls', GROUP, '--at', `seq:${r.seq}`, 'a/b']);
      assertLsMatches(nested, r.snap, 'a/b', 'ls a/b');
    });

    it('ls shows symlinks with their targets, dangling ones included', async () => {
      const r = step('dangling-symlink');
      const entries = await tv.json<LsEntry[]>(['ls', GROUP, '--at', `seq:${r.seq}`]);
      assertLsMatches(entries, r.snap, '', 'ls at dangling-symlink');
      assert.equal(entries.find((e) => e.name === 'dangling')?.target, 'does/not/exist');
      assert.equal(entries.find((e) => e.name === 'link-to-notes')?.target, 'notes.txt');
      const retargeted = step('retarget-symlink');
      const later = await tv.json<LsEntry[]>(['ls', GROUP, '--at', `seq:${retargeted.seq}`]);
      assert.equal(later.find((e) => e.name === 'link-to-notes')?.target, 'docs/readme.txt');
    });

    it('ls shows a name as a file before, and as a directory after, it was replaced', async () => {
      const before = await tv.json<LsEntry[]>(['ls', GROUP, '--at', `seq:${step('dir-to-file').seq}`]);
      assert.equal(before.find((e) => e.name === 'thing')?.type, 'dir');
      assert.equal(before.find((e) => e.name === 'dir2file')?.type, 'file');
      const earlier = await tv.json<LsEntry[]>(['ls', GROUP, '--at', `seq:${step('deep-empty-dir').seq}`]);
      assert.equal(earlier.find((e) => e.name === 'thing')?.type, 'file');
      assert.equal(earlier.find((e) => e.name === 'dir2file')?.type, 'dir');
    });

    it('ls of a directory with odd names lists every entry, non-UTF-8 ones included', async () => {
      const r = step('odd-names');
      const entries = await tv.json<LsEntry[]>(['ls', GROUP, '--at', `seq:${r.seq}`, 'odd']);
      assert.equal(childrenOf(r.snap, 'odd').length, 8);
      assertLsMatches(entries, r.snap, 'odd', 'ls odd');
    });

    it('ls without --at lists the latest state', async () => {
      const entries = await tv.json<LsEntry[]>(['ls', GROUP]);
      assertLsMatches(entries, last().snap, '', 'ls (default --at latest)');
    });
  });

  describe('timeline, bookmarks and time points', () => {
    let timeline: TimelineJson;

    it('timeline reports the first and last points of the group', async () => {
      timeline = await tv.json<TimelineJson>(['timeline', GROUP]);
      assert.equal(timeline.group, GROUP, 'group');
      assert.ok(timeline.points > 0, `points ${timeline.points}`);
      assert.equal(timeline.last.seq, last().seq, 'last.seq is the lastSeq of the last protect run');
      assert.ok(timeline.first.seq <= step('initial').seq, `first.seq ${timeline.first.seq}`);
      assert.ok(!Number.isNaN(Date.parse(timeline.first.time)), `first.time ${timeline.first.time}`);
      assert.ok(!Number.isNaN(Date.parse(timeline.last.time)), `last.time ${timeline.last.time}`);
      assert.ok(Date.parse(timeline.first.time) <= Date.parse(timeline.last.time), 'first.time <= last.time');
      assert.ok(Array.isArray(timeline.bookmarks), 'bookmarks is an array');
    });

    it('a bookmark names a point, and restore --at bookmark:NAME gives that point\'s tree', { timeout: STEP_TIMEOUT }, async () => {
      const r = step('past-mtime');
      const bm = await tv.json<BookmarkJson>(['bookmark', GROUP, 'before-delete', '--at', `seq:${r.seq}`]);
      assert.equal(bm.name, 'before-delete', 'bookmark --json: "name"');
      assert.equal(bm.seq, r.seq, 'bookmark --json: "seq"');
      assert.ok(!Number.isNaN(Date.parse(bm.time)), `bookmark --json: "time" ${bm.time}`);
      const tl = await tv.json<TimelineJson>(['timeline', GROUP]);
      const listed = tl.bookmarks.find((b) => b.name === 'before-delete');
      assert.ok(listed, `timeline lists the bookmark: ${JSON.stringify(tl.bookmarks)}`);
      assert.equal(listed.seq, r.seq, 'timeline bookmark seq');
      assert.ok('consistency' in listed, 'timeline bookmark has "consistency"');
      const { dir } = await restoreInto('bookmark:before-delete');
      try {
        assertSameTree(await snapshotTree(dir), r.snap, { label: 'restore --at bookmark:before-delete' });
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    });

    it('an ISO-8601 time point (the last point\'s time) restores the latest tree', { timeout: STEP_TIMEOUT }, async () => {
      assert.ok(timeline, 'timeline was read');
      const { dir } = await restoreInto(timeline.last.time);
      try {
        assertSameTree(await snapshotTree(dir), last().snap, { label: `restore --at ${timeline.last.time}` });
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    });

    it('restore --at latest gives the latest tree', { timeout: STEP_TIMEOUT }, async () => {
      const { dir } = await restoreInto('latest');
      try {
        assertSameTree(await snapshotTree(dir), last().snap, { label: 'restore --at latest' });
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    });
  });

  describe('vault health after the scenario', () => {
    it('verify --read-data reports a healthy vault', { timeout: STEP_TIMEOUT }, async () => {
      const v = await tv.json<VerifyJson>(['verify', '--read-data']);
      assert.equal(v.ok, true, `verify: ${JSON.stringify(v.problems)}`);
      assert.deepEqual(v.problems, []);
    });
  });
});
