import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Vault, initVault } from '../../vault/vault.js';
import { ingestOnce } from './snapshot-ingest.js';

const MiB = 1024 * 1024;
let root: string;
let vault: Vault;

before(() => {
  root = mkdtempSync(join(tmpdir(), 'tidemark-ingest-'));
  const env = { TIDEMARK_PASSPHRASE: 'unit-test' };
  initVault(join(root, 'vault'), { env });
  vault = Vault.open(join(root, 'vault'), { env, write: true });
});

after(() => {
  vault.close();
  rmSync(root, { recursive: true, force: true });
});

describe('ingestOnce with a read budget', () => {
  it('reads small changes first, leaves a large file for the next capture, then reads it first', () => {
    const src = join(root, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'big.bin'), Buffer.alloc(3 * MiB, 1));
    writeFileSync(join(src, 'a.txt'), 'a');
    writeFileSync(join(src, 'b.txt'), 'b');
    const one = ingestOnce(vault, { source: src, group: 'g', readBudget: MiB });
    assert.deepEqual(one.deferred, [join(src, 'big.bin')]);
    assert.equal(one.filesRead, 2);
    const gid = vault.index.groupId('g')!;
    assert.equal(vault.index.headAt(gid, Buffer.from('big.bin')), undefined, 'a deferred file was recorded');
    assert.ok(vault.index.headAt(gid, Buffer.from('a.txt')));
    writeFileSync(join(src, 'c.txt'), 'c');
    const two = ingestOnce(vault, { source: src, group: 'g', readBudget: MiB, readFirst: new Set(one.deferred) });
    assert.equal(vault.index.headAt(gid, Buffer.from('big.bin'))?.entry.size, 3 * MiB, 'the deferred file was not read first');
    assert.deepEqual(two.deferred, [join(src, 'c.txt')], 'after a large file, the budget leaves the rest for later');
    const three = ingestOnce(vault, { source: src, group: 'g', readBudget: MiB, readFirst: new Set(two.deferred) });
    assert.deepEqual(three.deferred, []);
    assert.ok(vault.index.headAt(gid, Buffer.from('c.txt')));
  });
});

