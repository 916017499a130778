import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Vault, initVault } from './vault.js';

const MiB = 1024 * 1024;
let root: string;
let vault: Vault;

before(() => {
  root = mkdtempSync(join(tmpdir(), 'tidemark-store-'));
  const env = { TIDEMARK_PASSPHRASE: 'unit-test' };
  initVault(join(root, 'vault'), { env });
  vault = Vault.open(join(root, 'vault'), { env, write: true });
});

after(() => {
  vault.close();
  rmSync(root, { recursive: true, force: true });
});

describe('Vault.storeContent', () => {
  it('stores each distinct chunk once, whether a worker or this thread (workers behind) seals it', () => {
    // 48 MiB at once is three times the workers' in-flight bound: this thread seals part itself.
    const distinct = Array.from({ length: 32 }, () => randomBytes(MiB));
    const sent = [...distinct, ...distinct.slice(0, 16)];
    const ids: (Buffer | undefined)[] = new Array<Buffer | undefined>(sent.length);
    let stored = 0;
    vault.begin();
    sent.forEach((data, i) => vault.storeContent(data, (id, isNew) => { ids[i] = id; if (isNew) stored++; }));
    for (let waits = 0; ids.some((x) => x === undefined); waits++) {
      assert.ok(waits < 100_000, 'chunk ids never arrive');
      vault.awaitChunkIds(true);
    }
    vault.commit('unit', []);
    assert.equal(stored, distinct.length, 'a chunk sent twice is stored once');
    if (availableParallelism() > 1) assert.ok(vault.sealedHere > 0, 'with the workers behind, this thread sealed some chunks itself');
    sent.forEach((data, i) => assert.ok(vault.readBlob(ids[i]!).equals(data), `chunk ${i} reads back`));
    assert.ok(ids[32]!.equals(ids[0]!));
  });
});
