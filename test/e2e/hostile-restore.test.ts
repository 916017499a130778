/**
 * Acceptance: a crafted vault cannot make `restore` (or `ls`, `cat`) write outside `--to`.
 *
 * Hostile vaults are built with the project's own vault API (compiled in dist/): a normal
 * base commit, then a journal commit whose records name `..`, absolute paths, `.`, NUL
 * bytes, empty components, symlinks pointing out followed by files "below" them, hard-link
 * records pointing out, and renames from/to such paths. Each case is built two ways:
 *
 *  - applied: the records go through `vault.apply` as a capture would apply them;
 *  - rebuilt: the commit is only written into a pack, then `tidemark index rebuild` reads
 *    it back from the pack (which must refuse it with a clear error, or accept or skip it,
 *    and in any case keep the valid point before it);
 *  - index: the hostile rows are written straight into index.sqlite (a tampered cache, which
 *    no journal check guards), so that restore's own defences are what is tested.
 *
 * Then the real CLI runs restore (whole tree, --path variants), cat and ls against it.
 * Whatever the outcome, nothing may appear or change outside the restore targets, the
 * hostile entries must be refused (non-zero exit, clear message) or skipped (never
 * written, even under a rewritten name), and no command may crash with a stack trace.
 *
 * Separately: restoring with --overwrite into a target that already holds symlinks (and a
 * hard link) pointing outside must replace them, never write through them.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, existsSync, lstatSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { describeCall, makeVault, runCli, type RunResult, type TestVault } from '../helpers/cli.js';
import { assertSameTree, snapshotTree } from '../helpers/tree.js';
import { assertNoCrash, fingerprintDir } from '../helpers/chaos.js';
import { Vault, initVault } from '../../src/vault/vault.js';
import { BlobType } from '../../src/vault/pack/pack-format.js';
import { EntryKind, type EntryState, type FileRecord, type RecordDraft } from '../../src/vault/journal/journal-record.js';

const GROUP = 'g';
const PASSPHRASE = 'hostile-test-passphrase';
const MARKER = 'PWNED-BY-A-HOSTILE-VAULT';
const T = { timeout: 120_000 };

const b = (s: string): Buffer => Buffer.from(s, 'utf8');

/** What a case needs to know about where it runs. */
interface Ctx {
  /** a directory outside every restore target, watched for changes */
  outside: string;
  /** an absolute path that must never come to exist */
  nowhere: string;
}

interface Builder {
  dir(p: string | Buffer, mode?: number): RecordDraft;
  file(p: string | Buffer, content?: string, opts?: { ino?: bigint; link?: Buffer }): RecordDraft;
  symlink(p: string | Buffer, target: string): RecordDraft;
  rename(from: string | Buffer, to: string | Buffer): RecordDraft;
  del(p: string | Buffer): RecordDraft;
}

interface HostileCase {
  name: string;
  records(x: Builder, c: Ctx): RecordDraft[];
  /** user paths for `restore --path`, `cat` and `ls` */
  paths?: (c: Ctx) => string[];
}

const CASES: HostileCase[] = [
  {
    name: '.. in paths (unreachable from the root)',
    records: (x) => [x.file('../escape', MARKER), x.file('../../escape2', MARKER), x.dir('a'), x.file('a/../../x', MARKER)],
    paths: () => ['../escape', 'a/../../x', 'a'],
  },
  {
    name: 'a directory named .. at the root',
    records: (x) => [x.dir('..'), x.file('../escape', MARKER), x.dir('../sub'), x.file('../sub/deep', MARKER)],
    paths: () => ['..', '../escape'],
  },
  {
    name: 'a directory named .. below a directory',
    records: (x) => [x.dir('d'), x.dir('d/..'), x.file('d/../pwned', MARKER), x.file('d/../../pwned2', MARKER)],
    paths: () => ['d', 'd/..'],
  },
  {
    name: '. as a name',
    records: (x) => [x.dir('a'), x.dir('a/.'), x.file('a/./b', MARKER), x.dir('.'), x.file('./c', MARKER)],
    paths: () => ['a', 'a/./b', './c'],
  },
  {
    name: 'absolute paths',
    records: (x, c) => [
      x.file(path.join(c.outside, 'abs-pwned'), MARKER), x.file(`${c.nowhere}/pwned`, MARKER),
      x.dir('/x'), x.file('/x/pwned', MARKER), x.file('m.txt', 'm\n'), x.rename('m.txt', '/m-abs'),
    ],
    paths: (c) => [path.join(c.outside, 'abs-pwned'), '/x/pwned', '/m-abs', 'x'],
  },
  {
    name: 'NUL bytes in names',
    records: (x) => [x.file(Buffer.from('evil\0name'), MARKER), x.dir(Buffer.from('d\0')), x.file(Buffer.from('d\0/pwned'), MARKER)],
    paths: () => ['d'],
  },
  {
    name: 'empty name components',
    records: (x) => [x.dir('a'), x.file('a//b', MARKER), x.dir('e'), x.dir('e/'), x.file('e//pwned', MARKER), x.file('/', MARKER)],
    paths: () => ['a//b', 'a', 'e', 'e//pwned'],
  },
  {
    name: 'a symlink pointing out, then a file below it',
    records: (x, c) => [x.symlink('link', c.outside), x.file('link/pwned', MARKER), x.dir('link/sub'), x.file('link/sub/pwned', MARKER)],
    paths: () => ['link/pwned', 'link', 'link/sub'],
  },
  {
    name: 'a symlink to .., then files below it',
    records: (x) => [x.symlink('up', '..'), x.file('up/up/pwned', MARKER), x.file('up/pwned', MARKER), x.dir('up/up')],
    paths: () => ['up/up/pwned', 'up/pwned', 'up/up', 'up'],
  },
  {
    name: 'a directory replaced by a symlink pointing out, its files left behind',
    records: (x, c) => [x.dir('s'), x.file('s/pwned', MARKER), x.symlink('s', c.outside), x.file('s/pwned2', MARKER)],
    paths: () => ['s', 's/pwned', 's/pwned2'],
  },
  {
    name: 'the root itself a symlink pointing out',
    records: (x, c) => [x.symlink('', c.outside), x.file('pwned', MARKER)],
    paths: () => ['pwned'],
  },
  {
    name: 'hard-link records pointing out',
    records: (x, c) => [
      // The link field names the first path of the inode; only the files' own paths are
      // written (as hard links of each other inside the target), never the named paths.
      x.file('hl', 'linked\n', { ino: 4242n, link: b(path.join(c.outside, 'victim.txt')) }),
      x.file('hl2', 'linked\n', { ino: 4242n, link: b('../../outside/victim.txt') }),
      x.file('hl3', 'linked\n', { ino: 4242n, link: b('../hl') }),
    ],
    paths: () => ['hl', 'hl2'],
  },
  {
    name: 'renames from and to hostile paths',
    records: (x) => [
      x.file('m1', 'm\n'), x.rename('m1', '../renamed'), x.rename('dir', '../dir-moved'), x.rename('../nowhere', 'from-nowhere'),
      x.file('m2', 'm\n'), x.rename('m2', 'a/../../m2'), x.dir('q'), x.file('q/m3', 'm\n'), x.rename('q', '..'),
    ],
    paths: () => ['from-nowhere', '..', 'dir'],
  },
  {
    name: 'a rename of a directory into itself',
    records: (x) => [x.file('dir/m', 'm\n'), x.rename('dir', 'dir/sub')],
    paths: () => ['dir', 'dir/sub'],
  },
];

function entry(kind: EntryState['kind'], mode: number): EntryState {
  const now = BigInt(Date.now()) * 1_000_000n;
  return {
    kind, mode, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, mtimeNs: now, ctimeNs: now, ino: 0n, size: 0,
    extents: [], target: null, link: null,
  };
}

function builder(v: Vault): Builder {
  let ino = 1000n;
  const p = (x: string | Buffer): Buffer => (Buffer.isBuffer(x) ? x : b(x));
  return {
    dir: (path, mode = 0o755) => ({ op: 'put', path: p(path), entry: entry(EntryKind.dir, mode) }),
    file: (path, content = '', opts = {}) => {
      const data = b(content);
      const e = { ...entry(EntryKind.file, 0o644), ino: opts.ino ?? ++ino, size: data.length, link: opts.link ?? null };
      if (data.length > 0) {
        const id = v.sealer.id(data);
        if (!v.hasBlob(id)) {
          const s = v.sealer.seal(id, data);
          v.addSealed(BlobType.data, id, s.sealed, s.flags, s.rawLength);
        }
        e.extents = [{ id, length: data.length }];
      }
      return { op: 'put', path: p(path), entry: e };
    },
    symlink: (path, target) => ({ op: 'put', path: p(path), entry: { ...entry(EntryKind.symlink, 0o777), target: b(target) } }),
    rename: (from, to) => ({ op: 'rename', path: p(to), from: p(from) }),
    del: (path) => ({ op: 'delete', path: p(path) }),
  };
}

type Way = 'apply' | 'raw' | 'index';

/**
 * One journal commit of group g: applied to the index as a capture would ('apply'), only
 * written to a pack ('raw'), or written straight into index.sqlite as version rows with no
 * journal commit behind them ('index': a tampered index, which no journal check guards).
 */
function writeCommit(v: Vault, drafts: (x: Builder) => RecordDraft[], way: Way): void {
  v.begin();
  try {
    const gid = v.index.ensureGroup(GROUP);
    let seq = v.index.lastSeq(gid);
    const time = Date.now();
    const x = builder(v);
    const records = drafts(x).map((d) => ({ ...d, seq: ++seq, time }) as FileRecord);
    if (way === 'apply') for (const r of records) v.apply(gid, r);
    if (way === 'index') {
      for (const r of records) {
        // A rename lands as a file at its destination (with ordinary content: a safe
        // destination is not hostile).
        const put = r.op === 'put' ? r : r.op === 'rename' ? x.file(r.path, 'moved\n') : undefined;
        if (put?.op === 'put') v.index.putVersion(gid, r.path, r.seq, put.entry);
        v.index.addPoint(gid, r.seq, r.time);
      }
    }
    v.commit(GROUP, way === 'index' ? [] : records);
  } catch (err) {
    v.rollback();
    throw err;
  }
}

const BASE = (x: Builder): RecordDraft[] => [x.dir(''), x.file('ok.txt', 'fine\n'), x.dir('dir'), x.file('dir/inner.txt', 'inner\n')];

interface Built {
  root: string;
  vault: string;
  ctx: Ctx;
  env: Record<string, string>;
  /** set when vault.apply refused a hostile record */
  applyError?: string;
}

type Mode = 'applied' | 'rebuilt' | 'index';

async function buildHostileVault(c: HostileCase, mode: Mode): Promise<Built> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'tidemark-hostile-'));
  const vault = path.join(root, 'vault');
  const outside = path.join(root, 'outside');
  await fs.mkdir(outside);
  await fs.writeFile(path.join(outside, 'victim.txt'), 'victim\n');
  await fs.mkdir(path.join(root, 'sentinel'));
  const ctx: Ctx = { outside, nowhere: `/tidemark-hostile-${randomBytes(6).toString('hex')}` };
  const env = { TIDEMARK_VAULT: vault, TIDEMARK_PASSPHRASE: PASSPHRASE };
  initVault(vault, { env });
  const v = Vault.open(vault, { write: true, env, command: 'hostile-restore test' });
  let applyError: string | undefined;
  try {
    writeCommit(v, BASE, 'apply');
    const hostile = (x: Builder): RecordDraft[] => c.records(x, ctx);
    if (mode === 'applied') {
      try {
        writeCommit(v, hostile, 'apply');
      } catch (err) {
        // Refusing a hostile record while capturing is fine: nothing of it is written.
        applyError = err instanceof Error ? err.message : String(err);
      }
    } else {
      writeCommit(v, hostile, mode === 'rebuilt' ? 'raw' : 'index');
    }
  } finally {
    v.close();
  }
  return { root, vault, ctx, env, applyError };
}

/** The content of a small regular file ('' for anything else; symlinks are not followed). */
function readSmall(file: string): string {
  const st = lstatSync(file);
  return st.isFile() && st.size < 1024 ? readFileSync(file, 'utf8') : '';
}

/** Every file below `dir` (symlinks not followed) whose content is the hostile marker. */
async function markerFiles(dir: string): Promise<string[]> {
  const files = (await fingerprintDir(dir)).map((l) => l.split('\t')).filter((f) => f[1] === 'file').map((f) => f[0]!);
  return files.filter((rel) => readSmall(path.join(dir, rel)) === MARKER);
}

function sha(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** A refused operation: non-zero exit with a message on stderr. */
function assertCleanOutcome(res: RunResult, args: string[]): void {
  assertNoCrash(res, args);
  if (res.code !== 0) assert.ok(res.stderr.trim().length > 0, `${describeCall(args)} failed (exit ${res.code}) without a message`);
}

async function attack(c: HostileCase, mode: Mode): Promise<string[]> {
  const built = await buildHostileVault(c, mode);
  const notes: string[] = [];
  const { root, ctx, env } = built;
  const run = (args: string[]): Promise<RunResult> => runCli(args, { env });
  const label = `[${c.name}, ${mode}]`;
  try {
    if (built.applyError) notes.push(`vault.apply refused the records: ${built.applyError}`);
    const watchedBefore = await fingerprintDir(root, ['vault', 'sentinel']);
    const sentinelBefore = await fs.readdir(path.join(root, 'sentinel'));
    /** restore targets, with the one entry each may hold as asked for by --path */
    const outs: { dir: string; asked?: string }[] = [];
    const target = (asked?: string): string => {
      const dir = path.join(root, 'sentinel', `out-${outs.length}`);
      outs.push({ dir, asked });
      return dir;
    };

    if (mode === 'rebuilt') {
      const args = ['index', 'rebuild', '--json'];
      const res = await run(args);
      assertCleanOutcome(res, args);
      const skipped = /not applied|skipp/i.test(res.stderr) || /"skipped":\s*\[\s*\{/.test(res.stdout.toString());
      notes.push(res.code !== 0 ? `index rebuild refused: ${res.stderr.trim().split('\n')[0]}`
        : skipped ? 'index rebuild skipped the hostile commit' : 'index rebuild applied the hostile commit');
      // Refusing a bad commit must not cost the points before it: the base commit still restores.
      const out = target();
      const bargs = ['restore', GROUP, '--at', 'seq:4', '--to', out];
      const bres = await run(bargs);
      assertCleanOutcome(bres, bargs);
      assert.equal(bres.code, 0, `${label} after \`index rebuild\` (${notes.at(-1)}), the valid base point seq:4 must still restore:\n${bres.stderr}`);
      assertSameTree(await snapshotTree(out), new Map([
        ['dir', { type: 'dir', mode: 0o755 }], ['dir/inner.txt', { type: 'file', mode: 0o644, size: 6, sha256: sha('inner\n') }],
        ['ok.txt', { type: 'file', mode: 0o644, size: 5, sha256: sha('fine\n') }],
      ]), { label: `${label} base point after index rebuild`, dirMtimes: false });
    }

    // The whole tree, at the last point.
    const full = target();
    const fargs = ['restore', GROUP, '--to', full];
    const fres = await run(fargs);
    assertCleanOutcome(fres, fargs);
    notes.push(fres.code === 0 ? 'full restore succeeded' : `full restore refused: ${fres.stderr.trim().split('\n')[0]}`);
    if (fres.code !== 0) {
      assert.match(fres.stderr, /unsafe|refus|escape|hostile/i, `${describeCall(fargs)}: the message must say why:\n${fres.stderr}`);
    } else {
      const ok = path.join(full, 'ok.txt');
      assert.ok(existsSync(ok) && readSmall(ok) === 'fine\n', `${label} a restore that succeeds must still restore ok.txt`);
    }
    // --path variants, cat and ls, against the index that holds the hostile rows for sure.
    if (mode === 'index') {
      const paths = c.paths?.(ctx) ?? [];
      for (const p of paths) {
        const rargs = ['restore', GROUP, '--path', p, '--to', target(p)];
        assertCleanOutcome(await run(rargs), rargs);
      }
      for (const args of [['cat', GROUP, paths[0] ?? 'ok.txt'], ['ls', GROUP, '--json'], ['ls', GROUP, paths.at(-1) ?? '', '--json']]) {
        assertCleanOutcome(await run(args), args);
      }
    }

    // Nothing outside the targets appeared or changed.
    assert.deepEqual(await fingerprintDir(root, ['vault', 'sentinel']), watchedBefore, `${label} something outside the restore targets changed`);
    const sentinelAfter = (await fs.readdir(path.join(root, 'sentinel'))).filter((n) => !outs.some((o) => o.dir === path.join(root, 'sentinel', n)));
    assert.deepEqual(sentinelAfter.sort(), sentinelBefore.sort(), `${label} entries appeared beside the restore targets`);
    assert.ok(!existsSync(ctx.nowhere), `${label} ${ctx.nowhere} was created`);
    // Hostile entries were refused or skipped by the whole-tree restore: never written,
    // not even under a rewritten name. (`restore --path P` may write what the journal
    // holds at P, e.g. a file recorded below a symlink, into its target: that stays inside.)
    for (const out of outs) {
      if (out.asked !== undefined || !existsSync(out.dir)) continue;
      const found = await markerFiles(out.dir);
      assert.deepEqual(found, [], `${label} hostile entries were restored into ${path.relative(root, out.dir)} (${notes.join('; ')})`);
    }
    return notes;
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}

describe('restore never writes outside its target, whatever the vault holds', { concurrency: 2 }, () => {
  for (const c of CASES) {
    for (const mode of ['applied', 'rebuilt', 'index'] as const) {
      it(`${c.name} (${mode})`, T, async (t) => {
        const notes = await attack(c, mode);
        t.diagnostic(notes.join('; '));
      });
    }
  }
});

describe('restore --overwrite into a target holding links that point outside', () => {
  let tv: TestVault;
  let src: string;

  before(async () => {
    tv = await makeVault();
    src = await tv.tempDir('src');
    await fs.mkdir(path.join(src, 'dir'));
    await fs.writeFile(path.join(src, 'dir', 'a.txt'), 'restored a\n');
    await fs.mkdir(path.join(src, 'dir', 'sub'));
    await fs.writeFile(path.join(src, 'dir', 'sub', 'b.txt'), 'restored b\n');
    await fs.writeFile(path.join(src, 'file.txt'), 'restored file\n');
    await fs.writeFile(path.join(src, 'hard.txt'), 'restored hard\n');
    await fs.mkdir(path.join(src, 'nested', 'deeper'), { recursive: true });
    await fs.writeFile(path.join(src, 'nested', 'deeper', 'c.txt'), 'restored c\n');
    await tv.json(['protect', src, '--group', GROUP, '--once']);
  });

  after(async () => {
    await tv?.cleanup();
  });

  it('replaces the links and leaves what they point to untouched', T, async () => {
    const elsewhere = await tv.tempDir('elsewhere');
    await fs.mkdir(path.join(elsewhere, 'sub'));
    await fs.writeFile(path.join(elsewhere, 'a.txt'), 'outside a\n');
    await fs.writeFile(path.join(elsewhere, 'sub', 'b.txt'), 'outside b\n');
    await fs.writeFile(path.join(elsewhere, 'keep.txt'), 'keep\n');
    await fs.writeFile(path.join(elsewhere, 'target.txt'), 'outside target\n');
    await fs.writeFile(path.join(elsewhere, 'hard-victim.txt'), 'outside hard\n');
    await fs.mkdir(path.join(elsewhere, 'deeper'));
    await fs.writeFile(path.join(elsewhere, 'deeper', 'c.txt'), 'outside c\n');
    const out = await tv.tempDir('out');
    await fs.symlink(elsewhere, path.join(out, 'dir'));
    await fs.symlink(path.join(elsewhere, 'target.txt'), path.join(out, 'file.txt'));
    await fs.link(path.join(elsewhere, 'hard-victim.txt'), path.join(out, 'hard.txt'));
    await fs.mkdir(path.join(out, 'nested'));
    await fs.symlink(path.join(elsewhere, 'deeper'), path.join(out, 'nested', 'deeper'));
    // Content, modes and names; not link counts (replacing OUT/hard.txt drops one).
    const look = async (): Promise<string[]> => (await fingerprintDir(elsewhere)).map((l) => l.replace(/\tnlink=\d+$/, ''));
    const before = await look();

    const args = ['restore', GROUP, '--to', out, '--overwrite'];
    const res = await tv.run(args);
    assertNoCrash(res, args);
    assert.equal(res.code, 0, `${describeCall(args)}:\n${res.stderr}`);
    assert.deepEqual(await look(), before, 'restore --overwrite wrote through a link into the directory it points to');
    assertSameTree(await snapshotTree(out), await snapshotTree(src), { label: 'restore --overwrite over links', dirMtimes: false });

    // The same through --path: the subtree's target holds a link where a directory goes.
    const out2 = await tv.tempDir('out');
    await fs.symlink(path.join(elsewhere, 'sub'), path.join(out2, 'sub'));
    await fs.symlink(path.join(elsewhere, 'a.txt'), path.join(out2, 'a.txt'));
    const args2 = ['restore', GROUP, '--path', 'dir', '--to', out2, '--overwrite'];
    const res2 = await tv.run(args2);
    assertNoCrash(res2, args2);
    assert.equal(res2.code, 0, `${describeCall(args2)}:\n${res2.stderr}`);
    assert.deepEqual(await look(), before, 'restore --path --overwrite wrote through a link');
    assertSameTree(await snapshotTree(out2), await snapshotTree(path.join(src, 'dir')), { label: 'restore --path dir --overwrite over links', dirMtimes: false });
  });
});
