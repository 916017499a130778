import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkRestoreTarget } from './restore-target.js';

describe('checkRestoreTarget', () => {
  let root: string;
  let sources: Map<string, string>;
  const check = (target: string, o: { overwrite?: boolean; confirmProduction?: boolean } = {}): string =>
    checkRestoreTarget({ target, vaultDir: join(root, 'vault'), sources, overwrite: o.overwrite ?? false, confirmProduction: o.confirmProduction ?? false });
  const code = (fn: () => unknown): string => {
    try { fn(); } catch (err) { return (err as { code: string }).code; }
    return 'accepted';
  };

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'tm-target-'));
    mkdirSync(join(root, 'vault'));
    mkdirSync(join(root, 'prod', 'data'), { recursive: true });
    writeFileSync(join(root, 'prod', 'data', 'f'), 'x');
    mkdirSync(join(root, 'restores'));
    symlinkSync(join(root, 'prod', 'data'), join(root, 'restores', 'link-to-prod'));
    sources = new Map([['g', join(root, 'prod')]]);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('accepts a new directory outside the vault and every source', () => {
    assert.equal(check(join(root, 'restores', 'new', 'deeper')), join(root, 'restores', 'new', 'deeper'));
  });
  it('refuses the source, a path inside it, a path above it, and a symlink into it', () => {
    for (const t of [join(root, 'prod'), join(root, 'prod', 'data', 'new'), join(root, 'restores', 'link-to-prod', 'x')]) {
      assert.equal(code(() => check(t, { overwrite: true })), 'TM_PRODUCTION_TARGET', t);
    }
    sources = new Map([['g', join(root, 'prod', 'data')]]);
    assert.equal(code(() => check(join(root, 'prod'), { overwrite: true })), 'TM_PRODUCTION_TARGET', 'a directory holding the source');
    sources = new Map([['g', join(root, 'prod')]]);
  });
  it('accepts production only when confirmed explicitly (and then still wants overwrite when not empty)', () => {
    assert.equal(code(() => check(join(root, 'prod'), { confirmProduction: true })), 'TM_CONFLICT');
    assert.equal(code(() => check(join(root, 'prod'), { confirmProduction: true, overwrite: true })), 'accepted');
  });
  it('keeps targets inside the restore root when one is set', () => {
    const inRoot = (target: string): string => code(() => checkRestoreTarget({ target, vaultDir: join(root, 'vault'), sources, overwrite: false, confirmProduction: false, restoreRoot: join(root, 'restores') }));
    assert.equal(inRoot(join(root, 'restores', 'fresh')), 'accepted');
    assert.equal(inRoot(join(root, 'elsewhere')), 'TM_USAGE');
    assert.equal(inRoot(join(root, 'restores', '..', 'elsewhere')), 'TM_USAGE');
    assert.equal(inRoot(join(root, 'restores', 'link-to-prod', 'x')), 'TM_USAGE', 'a symlink out of the root is followed before the check');
  });
  it('refuses relative paths, the vault, files and non-empty directories', () => {
    assert.equal(code(() => check('restores/x')), 'TM_USAGE');
    assert.equal(code(() => check(join(root, 'vault', 'x'))), 'TM_USAGE');
    assert.equal(code(() => check(root, { overwrite: true })), 'TM_USAGE');
    assert.equal(code(() => check(join(root, 'prod', 'data', 'f'), { confirmProduction: true, overwrite: true })), 'TM_USAGE');
    assert.equal(code(() => check(join(root, 'restores'))), 'TM_CONFLICT');
  });
});
