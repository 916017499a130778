import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Vault, initVault } from '../../vault/vault.js';
import { ingestOnce } from './snapshot-ingest.js';
import { ContentStore, idsKnown } from './content-store.js';
import { LiveReads } from './live-reads.js';

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

describe('slice reads of large files', () => {
  it('cut exactly the chunks of a whole read, however the read is split', () => {
    const file = join(root, 'sliced.bin');
    writeFileSync(file, randomBytes(40 * MiB));
    const store = new ContentStore(vault);
    vault.begin();
    const whole = store.capture(file);
    let partial;
    let slices = 0;
    for (;;) {
      // A deadline already past: one read window per call.
      const r = store.captureSlice(file, partial, 0);
      slices++;
      if ('done' in r) {
        assert.equal(r.done.unstable, false);
        // Chunk ids come from the vault's worker threads: compare once all are known.
        // One wait hands over what has arrived, not necessarily every id.
        for (let waits = 0; !idsKnown(r.done.extents) || !idsKnown(whole.extents); waits++) {
          assert.ok(waits < 10_000, 'chunk ids never arrive');
          vault.awaitChunkIds(true);
        }
        assert.deepEqual(r.done.extents, whole.extents);
        break;
      }
      partial = r.partial;
      assert.ok(slices < 100, 'the slice reads never finish');
    }
    vault.commit('unit', []);
    assert.ok(slices >= 5, `only ${slices} slice(s) for 40 MiB read one window at a time`);
  });

  it('the live tap records a large file after a few bounded captures, reading small ones first each time', () => {
    const src = join(root, 'src-sliced');
    mkdirSync(src);
    writeFileSync(join(src, 'big.bin'), randomBytes(24 * MiB));
    writeFileSync(join(src, 'small.txt'), 'small');
    const live = new LiveReads({ sliceMinBytes: 8 * MiB, sliceMs: 0 });
    const first = ingestOnce(vault, { source: src, group: 'live', deferUnstable: true, live });
    assert.deepEqual(first.deferred, [join(src, 'big.bin')]);
    assert.equal(first.records, 2, 'the root and small.txt are recorded at once');
    let captures = 1;
    let last = first;
    while (last.deferred.length > 0) {
      writeFileSync(join(src, 'small.txt'), `small ${captures}`);
      last = ingestOnce(vault, { source: src, group: 'live', deferUnstable: true, live });
      captures++;
      assert.ok(last.records >= 1, 'a small change waited behind the large read');
      assert.ok(captures < 50, 'the large file is never finished');
    }
    assert.ok(captures >= 3, `24 MiB in ${captures} captures of one read window each`);
    assert.deepEqual(last.torn, []);
    assert.equal(live.partial.size, 0);
    const head = vault.index.headAt(vault.index.groupId('live')!, Buffer.from('big.bin'));
    assert.equal(head?.entry.size, 24 * MiB);
    assert.equal(head?.entry.torn, undefined);
  });
});
