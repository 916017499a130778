/**
 * The volume tap's write log, in-process against a real vault: random writes (aligned,
 * unaligned, zeroes) logged after the baseline; the tap is then abandoned without
 * folding (as a killed process would leave it) and the next writer of the vault folds
 * the log. Every point up to the last FLUSH must read exactly as the volume was after
 * that write; torn tails are dropped with a warning; a missing segment is an error
 * that names the gap.
 */
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { initVault, Vault } from '../../vault/vault.js';
import { VolumeTap } from './volume-tap.js';
import { VolumeImage } from '../../image/volume-image.js';
import { resolvePoint } from '../../image/point.js';
import { WriteLog, WRITE_LOG_DIR } from '../../vault/write-log/write-log.js';
import { FrameOp } from '../../vault/write-log/write-log-frame.js';
import { TidemarkError } from '../../common/errors.js';

const ENV = { TIDEMARK_PASSPHRASE: 'volume-tap-test' };
const SIZE = 4 * 1024 * 1024;
const dirs: string[] = [];

afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

function rng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

function sha(b: Buffer): string { return createHash('sha256').update(b).digest('hex'); }

function imageAt(vault: Vault, seq: number): Buffer {
  const img = new VolumeImage(vault, resolvePoint(vault, 'vol', `seq:${seq}`));
  const out = Buffer.alloc(img.size);
  img.read(0, out);
  return out;
}

async function setup(): Promise<{ dir: string; vault: Vault; tap: VolumeTap; model: Buffer }> {
  const dir = mkdtempSync(join(tmpdir(), 'tm-voltap-'));
  dirs.push(dir);
  initVault(join(dir, 'vault'), { env: ENV });
  const vault = Vault.open(join(dir, 'vault'), { env: ENV, write: true });
  const tap = VolumeTap.open({ vault, group: 'vol', backing: join(dir, 'backing.img'), size: SIZE, commitIntervalMs: 60_000 });
  await tap.baseline();
  return { dir, vault, tap, model: Buffer.alloc(SIZE) };
}

/** Random writes through the tap, mirrored in `model`; the volume's hash after each seq. */
async function randomWrites(tap: VolumeTap, model: Buffer, n: number, seed: number): Promise<Map<number, string>> {
  const r = rng(seed);
  const hashes = new Map<number, string>();
  for (let i = 0; i < n; i++) {
    const kind = r(4);
    const len = kind === 0 ? 4096 * (1 + r(40)) : 1 + r(200_000);
    const off = kind === 0 ? 4096 * r((SIZE - len) / 4096) : r(SIZE - len);
    if (kind === 3) {
      await tap.writeZeroes(off, len, false);
      model.fill(0, off, off + len);
    } else {
      const data = Buffer.alloc(len, 1 + r(250));
      data.writeUInt32LE(i, 0);
      await tap.write(off, data, false);
      data.copy(model, off);
      data.fill(0xee); // the NBD server reuses its buffers once a write is acknowledged
    }
    hashes.set(tap.status().lastSeq, sha(model));
  }
  return hashes;
}

describe('volume tap write log', () => {
  it('a tap abandoned without folding leaves a log the next writer folds: every flushed point reads exactly', async () => {
    const { dir, vault, tap, model } = await setup();
    const hashes = await randomWrites(tap, model, 120, 7);
    await tap.flush();
    const flushed = tap.status().lastSeq;
    assert.ok(tap.status().foldedSeq < flushed, 'with a 60 s commit interval most writes are still unfolded');
    assert.ok(readdirSync(join(dir, 'vault', WRITE_LOG_DIR)).length > 0);
    // No tap.close(): the process "dies" here with its log on disk.
    await tap.abandon();
    vault.close();
    const again = Vault.open(join(dir, 'vault'), { env: ENV, write: true });
    try {
      assert.equal(again.index.lastSeq(again.index.groupId('vol')!), flushed);
      assert.deepEqual(readdirSync(join(dir, 'vault', WRITE_LOG_DIR)), [], 'folded segments are deleted');
      for (const [seq, h] of hashes) assert.equal(sha(imageAt(again, seq)), h, `seq:${seq}`);
    } finally {
      again.close();
    }
  });

  it('concurrent overlapping writes land in seq order: the journal at latest equals the backing store', async () => {
    const { dir, vault, tap } = await setup();
    const r = rng(23);
    for (let round = 0; round < 20; round++) {
      const writes: Promise<void>[] = [];
      for (let i = 0; i < 64; i++) {
        // A few hot 64 KiB regions, aligned and unaligned, so writes in flight overlap.
        const base = 65536 * r(4);
        const aligned = r(3) > 0;
        const len = aligned ? 4096 * (1 + r(24)) : 1 + r(90_000);
        const off = aligned ? base + 4096 * r(8) : base + r(60_000);
        const data = Buffer.alloc(len, 1 + r(250));
        writes.push(r(5) === 0 ? tap.writeZeroes(off, len, false) : tap.write(off, data, false));
      }
      await Promise.all(writes);
    }
    await tap.flush();
    const last = tap.status().lastSeq;
    await tap.close();
    assert.equal(sha(imageAt(vault, last)), sha(readFileSync(join(dir, 'backing.img'))));
    vault.close();
  });

  it('a clean close folds everything and leaves no log', async () => {
    const { dir, vault, tap, model } = await setup();
    const hashes = await randomWrites(tap, model, 40, 11);
    await tap.close();
    assert.equal(tap.status().foldedSeq, tap.status().lastSeq);
    assert.deepEqual(readdirSync(join(dir, 'vault', WRITE_LOG_DIR)), []);
    for (const [seq, h] of hashes) assert.equal(sha(imageAt(vault, seq)), h, `seq:${seq}`);
    vault.close();
  });

  it('a torn tail is dropped with a warning; the flushed writes before it survive', async () => {
    const { dir, vault, tap, model } = await setup();
    const hashes = await randomWrites(tap, model, 30, 3);
    await tap.flush();
    const flushed = tap.status().lastSeq;
    await tap.abandon();
    vault.close();
    const logDir = join(dir, 'vault', WRITE_LOG_DIR);
    const [seg] = readdirSync(logDir);
    // Half a frame: a length field and some bytes that never got their tag.
    const torn = Buffer.alloc(300, 0x5a);
    torn.writeUInt32LE(4096, 0);
    appendFileSync(join(logDir, seg!), torn);
    const warnings: string[] = [];
    const onWarning = (w: Error): void => { warnings.push(w.message); };
    process.on('warning', onWarning);
    try {
      const again = Vault.open(join(dir, 'vault'), { env: ENV, write: true });
      await new Promise((r) => setImmediate(r));
      assert.equal(again.index.lastSeq(again.index.groupId('vol')!), flushed);
      assert.equal(sha(imageAt(again, flushed)), hashes.get(flushed));
      again.close();
    } finally {
      process.off('warning', onWarning);
    }
    assert.ok(warnings.some((m) => m.includes('300 bytes') && m.includes(`seq:${flushed}`)), warnings.join('\n'));
  });

  it('a damaged frame in the middle ends the log there (later frames are not replayed as if nothing happened)', async () => {
    const { dir, vault, tap, model } = await setup();
    await randomWrites(tap, model, 20, 5);
    await tap.flush();
    const baselineEnd = tap.status().foldedSeq;
    await tap.abandon();
    vault.close();
    const logDir = join(dir, 'vault', WRITE_LOG_DIR);
    const [seg] = readdirSync(logDir);
    const bytes = readFileSync(join(logDir, seg!));
    bytes[bytes.length >> 1] ^= 0x40;
    writeFileSync(join(logDir, seg!), bytes);
    const again = Vault.open(join(dir, 'vault'), { env: ENV, write: true });
    try {
      const last = again.index.lastSeq(again.index.groupId('vol')!);
      assert.ok(last >= baselineEnd && last < tap.status().lastSeq, `replay stopped at seq:${last}`);
    } finally {
      again.close();
    }
  });

  it('a missing segment is a gap: TM_CORRUPT naming the seqs, and the vault is left as it was', async () => {
    const { dir, vault, tap } = await setup();
    await tap.close();
    const vdir = join(dir, 'vault');
    const s = tap.status().lastSeq;
    const block = Buffer.alloc(4096, 9);
    const first = WriteLog.create(vdir, vault.sealer, 'vol', s + 1);
    first.append({ op: FrameOp.write, seq: s + 1, time: 1000, offset: 0, length: 4096 }, block);
    const second = WriteLog.create(vdir, vault.sealer, 'vol', s + 4);
    second.append({ op: FrameOp.write, seq: s + 4, time: 2000, offset: 4096, length: 4096 }, block);
    await Promise.all([first.sync(), second.sync()]);
    vault.close();
    assert.throws(() => Vault.open(vdir, { env: ENV, write: true }), (err: unknown) => {
      assert.ok(err instanceof TidemarkError && err.code === 'TM_CORRUPT', String(err));
      assert.match(err.message, new RegExp(`jumps from seq ${s + 1} to seq ${s + 4}`));
      return true;
    });
    assert.equal(readdirSync(join(vdir, WRITE_LOG_DIR)).length, 2, 'nothing deleted');
    const reader = Vault.open(vdir, { env: ENV, write: false });
    assert.equal(reader.index.lastSeq(reader.index.groupId('vol')!), s, 'the failed replay left no records behind');
    reader.close();
  });
});
