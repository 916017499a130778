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
  it('reads small changes first, leaves a large file for later, and reads it when told to whatever the budget', () => {
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
    const two = ingestOnce(vault, { source: src, group: 'g', readBudget: MiB });
    assert.deepEqual(two.deferred, [join(src, 'big.bin')], 'the small new file goes first, the large one waits again');
    assert.ok(vault.index.headAt(gid, Buffer.from('c.txt')));
    writeFileSync(join(src, 'd.txt'), 'd');
    const three = ingestOnce(vault, { source: src, group: 'g', readBudget: MiB, mustRead: new Set(two.deferred) });
    assert.deepEqual(three.deferred, []);
    assert.equal(three.filesRead, 2, 'the small file and the one that must be read');
    assert.equal(vault.index.headAt(gid, Buffer.from('big.bin'))?.entry.size, 3 * MiB);
    assert.ok(vault.index.headAt(gid, Buffer.from('d.txt')));
  });
});

