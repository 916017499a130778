import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { randomBytes } from 'node:crypto';
import { unitVault } from '../helpers/unit-vault.js';

const MiB = 1024 * 1024;
const v = unitVault('tidemark-store-');

describe('Vault.storeContent', () => {
  it('stores each distinct chunk once, whether a worker or this thread (workers behind) seals it', () => {
    const vault = v.vault();
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
