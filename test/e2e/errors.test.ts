/**
 * Failures the user will meet: wrong or missing passphrase, a directory that is not a
 * vault, a point or group that does not exist. Each must exit non-zero with a clear
 * message on stderr (no stack trace, nothing on stdout), and must not change the vault.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describeCall, makeVault, type RunResult, type TestVault } from '../helpers/cli.js';
import type { LsEntry, ProtectJson } from '../helpers/contract.js';

const GROUP = 'g';
const WRONG = 'definitely-not-the-passphrase';

/** Every file and directory below `dir`, with file sizes: "path<TAB>size" or "path/". */
async function listing(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(abs: string, rel: string): Promise<void> {
    for (const d of await fs.readdir(abs, { withFileTypes: true })) {
      const a = path.join(abs, d.name);
      const r = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) {
        out.push(`${r}/`);
        await walk(a, r);
      } else {
        const st = await fs.lstat(a);
        out.push(`${r}\t${st.size}`);
      }
    }
  }
  await walk(dir, '');
  return out.sort();
}

/** Non-zero exit, stderr matching `pattern`, no stack trace, nothing on stdout. */
function assertCleanFailure(res: RunResult, args: string[], pattern: RegExp): void {
  const call = describeCall(args);
  assert.equal(res.signal, null, `${call} was killed by ${res.signal}: ${res.stderr}`);
  assert.notEqual(res.code, 0, `${call} must fail; stdout: ${res.stdout.toString().slice(0, 500)}`);
  assert.match(res.stderr, pattern, `${call}: stderr must match ${pattern}`);
  assert.doesNotMatch(res.stderr, /^\s+at .+:\d+:\d+\)?$/m, `${call}: stderr must be a message, not a stack trace`);
  assert.equal(res.stdout.length, 0, `${call}: errors go to stderr, stdout must be empty; got ${res.stdout.toString().slice(0, 500)}`);
}

describe('errors are reported clearly and change nothing', () => {
  let tv: TestVault;
  let src: string;

  before(async () => {
    tv = await makeVault();
    src = await tv.tempDir('src');
    await fs.writeFile(path.join(src, 'hello.txt'), 'hello\n');
    await fs.mkdir(path.join(src, 'sub'));
    await fs.writeFile(path.join(src, 'sub', 'world.txt'), 'world\n');
    const r = await tv.json<ProtectJson>(['protect', src, '--group', GROUP, '--once']);
    assert.ok(r.records > 0);
    // A successful read first, so that anything a first read may set up is already there.
    await tv.json<LsEntry[]>(['ls', GROUP]);
  });
  after(async () => { await tv?.cleanup(); });

  describe('passphrase', () => {
    it('a wrong passphrase on ls fails, mentions the passphrase, and leaves the vault unchanged', async () => {
      const beforeList = await listing(tv.vault);
      const args = ['ls', GROUP];
      const res = await tv.run(args, { env: { TIDEMARK_PASSPHRASE: WRONG } });
      assertCleanFailure(res, args, /passphrase/i);
      assert.deepEqual(await listing(tv.vault), beforeList, 'vault directory changed');
    });

    it('a wrong passphrase with --json fails the same way, the error on stderr', async () => {
      const beforeList = await listing(tv.vault);
      const args = ['ls', GROUP, '--json'];
      const res = await tv.run(args, { env: { TIDEMARK_PASSPHRASE: WRONG } });
      assertCleanFailure(res, args, /passphrase/i);
      assert.deepEqual(await listing(tv.vault), beforeList, 'vault directory changed');
    });

    it('a wrong passphrase on protect fails and writes nothing to the vault', async () => {
      await fs.writeFile(path.join(src, 'new.txt'), 'a change that must not be recorded\n');
      const beforeList = await listing(tv.vault);
      const args = ['protect', src, '--group', GROUP, '--once'];
      const res = await tv.run(args, { env: { TIDEMARK_PASSPHRASE: WRONG } });
      assertCleanFailure(res, args, /passphrase/i);
      assert.deepEqual(await listing(tv.vault), beforeList, 'vault directory changed');
      const entries = await tv.json<LsEntry[]>(['ls', GROUP]);
      assert.ok(!entries.some((e) => e.name === 'new.txt'), 'nothing was recorded');
      await fs.unlink(path.join(src, 'new.txt'));
    });

    it('no passphrase at all (no env, no file, stdin closed) fails and mentions the passphrase', async () => {
      const args = ['ls', GROUP];
      const res = await tv.run(args, { env: { TIDEMARK_PASSPHRASE: undefined } });
      assertCleanFailure(res, args, /passphrase/i);
    });

    it('--passphrase-file reads the passphrase from a file, and takes precedence over the environment', async () => {
      const dir = await tv.tempDir('pass');
      const good = path.join(dir, 'good');
      const bad = path.join(dir, 'bad');
      await fs.writeFile(good, tv.passphrase, { mode: 0o600 });
      await fs.writeFile(bad, WRONG, { mode: 0o600 });
      const ok = await tv.json<LsEntry[]>(['ls', GROUP, '--passphrase-file', good],
        { env: { TIDEMARK_PASSPHRASE: WRONG } });
      assert.ok(ok.some((e) => e.name === 'hello.txt'));
      const okNoEnv = await tv.json<LsEntry[]>(['ls', GROUP, '--passphrase-file', good],
        { env: { TIDEMARK_PASSPHRASE: undefined } });
      assert.ok(okNoEnv.some((e) => e.name === 'hello.txt'));
      const args = ['ls', GROUP, '--passphrase-file', bad];
      assertCleanFailure(await tv.run(args), args, /passphrase/i);
    });
  });

  describe('vault location', () => {
    it('--vault DIR selects the vault, and takes precedence over TIDEMARK_VAULT', async () => {
      const elsewhere = await tv.tempDir('not-the-vault');
      const viaFlag = await tv.json<LsEntry[]>(['ls', GROUP, '--vault', tv.vault], { env: { TIDEMARK_VAULT: undefined } });
      assert.ok(viaFlag.some((e) => e.name === 'hello.txt'));
      const overEnv = await tv.json<LsEntry[]>(['ls', GROUP, '--vault', tv.vault], { env: { TIDEMARK_VAULT: elsewhere } });
      assert.ok(overEnv.some((e) => e.name === 'hello.txt'));
    });

    it('ls on a directory that is not a vault fails with a clear message and leaves the directory as it was', async () => {
      const dir = await tv.tempDir('plain');
      await fs.writeFile(path.join(dir, 'some-file.txt'), 'not a vault\n');
      const beforeList = await listing(dir);
      const args = ['ls', GROUP, '--vault', dir];
      assertCleanFailure(await tv.run(args), args, /vault/i);
      assert.deepEqual(await listing(dir), beforeList, 'the non-vault directory changed');
    });

    it('ls on an empty directory fails the same way', async () => {
      const dir = await tv.tempDir('empty');
      const args = ['ls', GROUP, '--vault', dir];
      assertCleanFailure(await tv.run(args), args, /vault/i);
      assert.deepEqual(await fs.readdir(dir), [], 'the empty directory changed');
    });

    it('ls on a vault path that does not exist fails and creates nothing', async () => {
      const dir = path.join(tv.root, 'no-such-vault');
      const args = ['ls', GROUP, '--vault', dir];
      assertCleanFailure(await tv.run(args), args, /vault/i);
      await assert.rejects(fs.stat(dir), { code: 'ENOENT' }, 'a vault directory was created by ls');
    });
  });

  describe('points and groups', () => {
    it('--at seq:999999, beyond the end of the journal, fails with a message naming it', async () => {
      const args = ['ls', GROUP, '--at', 'seq:999999'];
      assertCleanFailure(await tv.run(args), args, /999999/);
      const catArgs = ['cat', GROUP, '--at', 'seq:999999', 'hello.txt'];
      assertCleanFailure(await tv.run(catArgs), catArgs, /999999/);
    });

    it('restore to a point beyond the end fails and restores nothing', async () => {
      const to = path.join(tv.root, 'restore-beyond-end');
      const args = ['restore', GROUP, '--at', 'seq:999999', '--to', to];
      assertCleanFailure(await tv.run(args), args, /999999/);
      const left = await fs.readdir(to).catch(() => [] as string[]);
      assert.deepEqual(left, [], 'nothing may be restored');
    });

    it('an unknown bookmark fails with a message naming it', async () => {
      const args = ['ls', GROUP, '--at', 'bookmark:no-such-bookmark'];
      assertCleanFailure(await tv.run(args), args, /no-such-bookmark/);
    });

    it('a malformed point fails', async () => {
      const args = ['ls', GROUP, '--at', 'the-day-before-yesterday'];
      assertCleanFailure(await tv.run(args), args, /the-day-before-yesterday|point|--at/i);
    });

    it('an unknown group fails with a message naming the group', async () => {
      const args = ['ls', 'no-such-group'];
      assertCleanFailure(await tv.run(args), args, /no-such-group/);
      const rArgs = ['restore', 'no-such-group', '--to', path.join(tv.root, 'restore-unknown-group')];
      assertCleanFailure(await tv.run(rArgs), rArgs, /no-such-group/);
    });

    it('a path that does not exist at that point fails on cat', async () => {
      const args = ['cat', GROUP, '--at', 'latest', 'no/such/file.txt'];
      assertCleanFailure(await tv.run(args), args, /no\/such\/file\.txt|not found|no such/i);
    });
  });
});
