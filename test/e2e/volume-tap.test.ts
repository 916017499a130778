/**
 * The volume tap and images, driven by real NBD clients (qemu-io, nbdcopy, qemu-img):
 * every acknowledged write is journaled in order, and an image of any point is exactly
 * the volume as it was then.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { makeVault, type TestVault } from '../helpers/cli.js';
import { killAllLive, sleep } from '../helpers/live.js';
import type { TimelineJson } from '../helpers/contract.js';
import { execFileAsync, qemuIo, readExport, sha256, startImage, startVolume, waitFolded } from '../helpers/volume.js';

const MiB = 1024 * 1024;
const vaults: TestVault[] = [];

after(async () => {
  await killAllLive();
  for (const v of vaults) await v.cleanup();
});

async function vault(): Promise<TestVault> {
  const tv = await makeVault();
  vaults.push(tv);
  return tv;
}

async function lastSeq(tv: TestVault, group: string): Promise<number> {
  await waitFolded(tv, group);
  return (await tv.json<TimelineJson>(['timeline', group])).last.seq;
}

/** `image --to` of a point, as bytes. */
async function imageAt(tv: TestVault, group: string, at: string): Promise<Buffer> {
  await waitFolded(tv, group);
  const out = path.join(tv.root, `image-${group}-${at.replace(/\W/g, '_')}.raw`);
  await tv.json(['image', group, '--at', at, '--to', out]);
  const b = await fs.readFile(out);
  await fs.rm(out);
  return b;
}

/** One write as qemu-io does it, applied to the test's own model of the volume too. */
interface Step { cmd: string; apply(model: Buffer): void }

const write = (pattern: number, offset: number, length: number): Step => ({
  cmd: `write -P ${pattern} ${offset} ${length}`,
  apply: (m) => { m.fill(pattern, offset, offset + length); },
});
const zero = (offset: number, length: number): Step => ({
  cmd: `write -z ${offset} ${length}`,
  apply: (m) => { m.fill(0, offset, offset + length); },
});

describe('protect-volume journals every acknowledged write in order', () => {
  it('an image of each point reproduces the volume of that moment, byte for byte', async () => {
    const tv = await vault();
    const backing = path.join(tv.root, 'vol.img');
    const size = 8 * MiB;
    const { proc, uri } = await startVolume(tv, backing, 'vol', ['--size', String(size)]);
    await proc.waitFor((e) => e.event === 'baseline', 30_000, 'the baseline line');
    const model = Buffer.alloc(size);
    const steps: Step[] = [
      write(0x11, 0, 1 * MiB),
      write(0x22, 4096 * 3, 4096),
      write(0x33, 1000, 3000), // inside one block, unaligned at both ends
      write(0x44, 2 * MiB - 700, 9000), // across blocks and a chunk boundary, unaligned
      zero(512 * 1024, 256 * 1024),
      write(0x55, size - 4096, 4096), // the last block
      zero(100, 200), // unaligned zeroing inside a block
    ];
    const points: { seq: number; sum: string }[] = [{ seq: await lastSeq(tv, 'vol'), sum: sha256(model) }];
    for (const s of steps) {
      await qemuIo(uri, [s.cmd, 'flush']);
      s.apply(model);
      points.push({ seq: await lastSeq(tv, 'vol'), sum: sha256(model) });
    }
    for (let i = 1; i < points.length; i++) assert.ok(points[i]!.seq > points[i - 1]!.seq, `step ${i} (${steps[i - 1]!.cmd}) made no new point`);
    const st = await tv.json<{ groups: { group: string; kind: string; watching: boolean; protectedBytes: number; lastPoint: { seq: number } }[] }>(['status']);
    const vg = st.groups.find((g) => g.group === 'vol');
    assert.ok(vg, 'status does not list the volume group');
    assert.deepEqual([vg.kind, vg.watching, vg.protectedBytes], ['volume', true, size], `status of the volume group: ${JSON.stringify(vg)}`);
    assert.ok(vg.lastPoint.seq >= points[points.length - 1]!.seq);
    // The live export reads back what was written.
    assert.equal(sha256(await readExport(uri)), sha256(model), 'the live export differs from what was written');
    for (const [i, p] of points.entries()) {
      assert.equal(sha256(await imageAt(tv, 'vol', `seq:${p.seq}`)), p.sum, `image at seq:${p.seq} (after step ${i}) differs from the volume at that moment`);
    }
    const stop = await proc.stop('SIGINT');
    assert.equal(stop.code, 0, `protect-volume did not exit 0 on SIGINT: ${proc.describe()}`);
    assert.equal(sha256(await fs.readFile(backing)), sha256(model), 'the backing file differs from what was written');
    const verify = await tv.run(['verify', '--read-data', '--json']);
    assert.equal(verify.code, 0, `verify --read-data failed on a volume journal: ${verify.stdout.toString()}${verify.stderr}`);
  });

  it('serves images over NBD to qemu-img and nbdcopy: read-only by default, copy-on-write with --rw', async () => {
    const tv = await vault();
    const backing = path.join(tv.root, 'vol.img');
    const data = Buffer.alloc(4 * MiB);
    for (let i = 0; i < data.length; i += 4) data.writeUInt32LE(i * 2654435761 >>> 0, i);
    await fs.writeFile(backing, data);
    const { proc } = await startVolume(tv, backing, 'img');
    await proc.waitFor((e) => e.event === 'baseline', 30_000, 'the baseline line');
    assert.equal((await proc.stop('SIGTERM')).code, 0);
    const seq = await lastSeq(tv, 'img');

    const ro = await startImage(tv, 'img', `seq:${seq}`);
    const info = JSON.parse((await execFileAsync('qemu-img', ['info', '--output=json', ro.uri])).stdout) as { 'virtual-size': number };
    assert.equal(info['virtual-size'], data.length);
    const converted = path.join(tv.root, 'converted.raw');
    await execFileAsync('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', ro.uri, converted]);
    assert.equal(sha256(await fs.readFile(converted)), sha256(data), 'qemu-img convert of the image differs from the volume');
    await assert.rejects(qemuIo(ro.uri, ['write -P 1 0 4096']), 'a read-only image accepted a write');
    assert.equal((await ro.proc.stop('SIGINT')).code, 0);

    const overlay = path.join(tv.root, 'overlay.img');
    const rw = await startImage(tv, 'img', `seq:${seq}`, ['--rw', '--overlay', overlay]);
    await qemuIo(rw.uri, ['write -P 0x77 8192 4096', 'write -P 0x78 100 10', 'flush']);
    const expected = Buffer.from(data);
    expected.fill(0x77, 8192, 8192 + 4096);
    expected.fill(0x78, 100, 110);
    assert.equal(sha256(await readExport(rw.uri)), sha256(expected), 'the read/write image does not show its own writes over the point');
    assert.equal((await rw.proc.stop('SIGINT')).code, 0);
    // The journal is untouched; the kept overlay is reused by the next start.
    assert.equal(await lastSeq(tv, 'img'), seq, 'writing to an image changed the journal');
    assert.equal(sha256(await imageAt(tv, 'img', `seq:${seq}`)), sha256(data), 'the point changed after writes to its image');
    const again = await startImage(tv, 'img', `seq:${seq}`, ['--rw', '--overlay', overlay]);
    assert.equal(sha256(await readExport(again.uri)), sha256(expected), 'the kept overlay was not reused');
    assert.equal((await again.proc.stop('SIGINT')).code, 0);
  });

  it('an existing volume in use during its baseline: nothing written meanwhile is lost; a restart records only what changed', async () => {
    const tv = await vault();
    const backing = path.join(tv.root, 'busy.img');
    const size = 64 * MiB;
    const initial = Buffer.alloc(size);
    for (let i = 0; i < size; i += 8192) initial.writeUInt32LE((i / 8192) * 40503 >>> 0, i + 17);
    await fs.writeFile(backing, initial);
    const model = Buffer.from(initial);
    const { proc, uri } = await startVolume(tv, backing, 'busy');
    // Writes spread over the whole volume, racing the baseline's regions.
    const cmds: string[] = [];
    for (let k = 0; k < 64; k++) {
      const off = ((k * 37) % 64) * MiB + (k % 5) * 4096 + 300;
      cmds.push(`write -P ${(k % 250) + 1} ${off} 5000`);
      model.fill((k % 250) + 1, off, off + 5000);
    }
    await qemuIo(uri, [...cmds, 'flush']);
    await proc.waitFor((e) => e.event === 'baseline', 60_000, 'the baseline line');
    await qemuIo(uri, ['flush']);
    const afterBaseline = await lastSeq(tv, 'busy');
    assert.equal(sha256(await imageAt(tv, 'busy', 'latest')), sha256(model), 'writes made during the baseline are missing or reordered');
    assert.equal((await proc.stop('SIGINT')).code, 0);

    // Changed while nobody watched: the next start records just that chunk.
    const fh = await fs.open(backing, 'r+');
    await fh.write(Buffer.alloc(4096, 0xee), 0, 4096, 10 * MiB);
    await fh.close();
    model.fill(0xee, 10 * MiB, 10 * MiB + 4096);
    const second = await startVolume(tv, backing, 'busy');
    const base = await second.proc.waitFor((e) => e.event === 'baseline', 60_000, 'the second baseline');
    const b = base as unknown as { startSeq: number; endSeq: number; bytesChanged: number };
    assert.equal(b.bytesChanged, 64 * 1024, 'a restart re-recorded more than the one changed chunk');
    assert.equal((await second.proc.stop('SIGINT')).code, 0);
    assert.equal(sha256(await imageAt(tv, 'busy', 'latest')), sha256(model));
    const old = model.subarray(0); // the earlier point still shows the old bytes
    const before = Buffer.from(old);
    before.set(initial.subarray(10 * MiB, 10 * MiB + 4096), 10 * MiB);
    assert.equal(sha256(await imageAt(tv, 'busy', `seq:${afterBaseline}`)), sha256(before), 'an earlier point changed after the restart');
    // A point inside the baseline window is not a state the volume was in: refused.
    const inside = await tv.run(['image', 'busy', '--at', `seq:${b.startSeq}`, '--to', path.join(tv.root, 'no.raw')]);
    assert.notEqual(inside.code, 0, 'an image inside a baseline window was served');
    assert.match(inside.stderr, /inside a baseline/);
  });

  it('--sync: every write qemu-io saw acknowledged is in the journal after SIGKILL', async () => {
    const tv = await vault();
    const backing = path.join(tv.root, 'sync.img');
    const { proc, uri } = await startVolume(tv, backing, 'sync', ['--size', '16M', '--sync']);
    await proc.waitFor((e) => e.event === 'baseline', 30_000, 'the baseline line');
    const cmds: string[] = [];
    for (let k = 0; k < 3000; k++) cmds.push(`write -P ${(k % 254) + 1} ${(k % 4096) * 4096} 4096`);
    const io = spawn('qemu-io', ['-f', 'raw', ...cmds.flatMap((c) => ['-c', c]), uri], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    io.stdout.setEncoding('utf8');
    io.stdout.on('data', (s: string) => { out += s; });
    const ioDone = new Promise<void>((r) => io.on('close', () => r()));
    for (let i = 0; i < 200 && (out.match(/^wrote /gm)?.length ?? 0) < 100; i++) await sleep(20);
    await proc.kill();
    await ioDone;
    const acked = out.match(/^wrote 4096\/4096 bytes at offset (\d+)$/gm) ?? [];
    assert.ok(acked.length >= 100, `qemu-io saw only ${acked.length} acknowledged writes before the kill`);
    const img = await imageAt(tv, 'sync', 'latest');
    acked.forEach((line, k) => {
      const off = Number(/offset (\d+)/.exec(line)![1]);
      assert.equal(off, (k % 4096) * 4096);
      const block = img.subarray(off, off + 4096);
      assert.ok(block.every((x) => x === (k % 254) + 1), `acknowledged write #${k} at ${off} is not in the journal`);
    });
  });

  it('retention thins old volume points; prune frees their chunks; the kept points and index rebuild stay exact', async () => {
    const tv = await vault();
    const backing = path.join(tv.root, 'ret.img');
    const now = Date.now();
    const at = (ms: number): TestVault => ({ ...tv, env: { ...tv.env, TIDEMARK_NOW: String(ms) } });
    const oldTime = now - 10 * 24 * 3600_000;
    const model = Buffer.alloc(4 * MiB);
    const first = await startVolume(at(oldTime), backing, 'ret', ['--size', '4M']);
    await first.proc.waitFor((e) => e.event === 'baseline', 30_000, 'the baseline line');
    await qemuIo(first.uri, ['write -P 1 0 256k', 'flush']);
    const seqA = await lastSeq(tv, 'ret');
    await qemuIo(first.uri, ['write -P 2 0 256k', 'flush']);
    await qemuIo(first.uri, ['write -P 3 1M 64k', 'flush']);
    model.fill(2, 0, 256 * 1024).fill(3, MiB, MiB + 64 * 1024);
    const oldState = sha256(model);
    assert.equal((await first.proc.stop('SIGINT')).code, 0);
    const second = await startVolume(at(now - 3600_000), backing, 'ret');
    await second.proc.waitFor((e) => e.event === 'baseline', 30_000, 'the second baseline');
    await qemuIo(second.uri, ['write -P 4 2M 64k', 'flush']);
    model.fill(4, 2 * MiB, 2 * MiB + 64 * 1024);
    assert.equal((await second.proc.stop('SIGINT')).code, 0);

    const report = await tv.json<{ bytesDeleted: number; groups: { group: string; pointsDropped: number; versionsDropped: number; dropped: number[] }[] }>(['prune'], { env: { TIDEMARK_NOW: String(now) } });
    const g = report.groups.find((x) => x.group === 'ret')!;
    assert.ok(g.pointsDropped > 0 && g.dropped.includes(seqA), `prune kept the old point seq:${seqA}: ${JSON.stringify(g)}`);
    assert.ok(g.versionsDropped > 0, 'no block version was dropped');
    assert.ok(report.bytesDeleted > 0, 'prune freed nothing although the first write is referenced by no kept point');
    const gone = await tv.run(['image', 'ret', '--at', `seq:${seqA}`, '--to', path.join(tv.root, 'gone.raw')]);
    assert.notEqual(gone.code, 0, 'a dropped point is still served');
    const oldIso = new Date(oldTime + 1000).toISOString();
    const check = async (when: string): Promise<void> => {
      assert.equal(sha256(await imageAt(tv, 'ret', 'latest')), sha256(model), `${when}: the latest point changed`);
      assert.equal(sha256(await imageAt(tv, 'ret', oldIso)), oldState, `${when}: the kept old point changed`);
    };
    await check('after prune');
    const verify = await tv.run(['verify', '--read-data', '--json']);
    assert.equal(verify.code, 0, `verify after prune: ${verify.stdout.toString()}`);
    await tv.json(['index', 'rebuild']);
    await check('after index rebuild');
  });

  it('a client that dies mid-write leaves no trace in the journal; the tap keeps serving others', async () => {
    const tv = await vault();
    const backing = path.join(tv.root, 'hostile.img');
    const { proc, uri } = await startVolume(tv, backing, 'hostile', ['--size', '4M']);
    await proc.waitFor((e) => e.event === 'baseline', 30_000, 'the baseline line');
    await qemuIo(uri, ['write -P 9 0 64k', 'flush']);
    const before = await lastSeq(tv, 'hostile');
    const sock = uri.slice(uri.indexOf('socket=') + 'socket='.length);
    const c = net.createConnection(sock);
    const got: Buffer[] = [];
    c.on('data', (b: Buffer) => got.push(b));
    const bytes = (): number => got.reduce((a, b) => a + b.length, 0);
    await once(c, 'connect');
    for (let i = 0; i < 100 && bytes() < 18; i++) await sleep(10);
    c.write(Buffer.from([0, 0, 0, 3])); // client flags: fixed newstyle, no zeroes
    const opt = Buffer.alloc(16 + 6);
    opt.write('IHAVEOPT', 0);
    opt.writeUInt32BE(7, 8); // NBD_OPT_GO
    opt.writeUInt32BE(6, 12);
    c.write(opt); // export name '' and no info requests
    for (let i = 0; i < 200 && !Buffer.concat(got).subarray(18).toString('latin1').includes('\x00\x00\x00\x01\x00\x00\x00\x00'); i++) await sleep(10);
    const req = Buffer.alloc(28);
    req.writeUInt32BE(0x25609513, 0);
    req.writeUInt16BE(1, 6); // WRITE
    req.writeBigUInt64BE(7n, 8);
    req.writeBigUInt64BE(0n, 16);
    req.writeUInt32BE(1024 * 1024, 24);
    c.write(Buffer.concat([req, Buffer.alloc(1000, 0x66)]));
    await sleep(100);
    c.destroy();
    await sleep(300);
    assert.equal(proc.stderr.match(/serving export "hostile"/g)?.length, 2, `the raw client never reached the transmission phase: ${proc.stderr}`);
    await qemuIo(uri, ['flush']);
    assert.equal(await lastSeq(tv, 'hostile'), before, 'a half-sent write was journaled');
    const img = await imageAt(tv, 'hostile', 'latest');
    assert.ok(img.subarray(0, 65536).every((x) => x === 9), 'a half-sent write reached the journal');
    await qemuIo(uri, ['write -P 10 64k 4k', 'flush']);
    assert.equal((await proc.stop('SIGINT')).code, 0, proc.describe());
  });

  it('refuses bad input clearly: a file group, a point that is not a volume, a missing backing file', async () => {
    const tv = await vault();
    const missing = await tv.run(['protect-volume', path.join(tv.root, 'nope.img'), '--group', 'v', '--listen', `unix:${tv.root}/s`]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /does not exist[\s\S]*--size/);
    const badListen = await tv.run(['protect-volume', path.join(tv.root, 'x.img'), '--size', '1M', '--group', 'v', '--listen', 'http://x']);
    assert.equal(badListen.code, 2);
    assert.match(badListen.stderr, /listen address/);
    const src = await tv.tempDir('src');
    await fs.writeFile(path.join(src, 'f'), 'x');
    await tv.json(['protect', src, '--group', 'files', '--once']);
    const asVolume = await tv.run(['protect-volume', path.join(tv.root, 'y.img'), '--size', '1M', '--group', 'files', '--listen', `unix:${tv.root}/s2`]);
    assert.notEqual(asVolume.code, 0);
    assert.match(asVolume.stderr, /holds a directory tree/);
    const img = await tv.run(['image', 'files', '--to', path.join(tv.root, 'z.raw')]);
    assert.notEqual(img.code, 0);
    assert.match(img.stderr, /not a volume/);
    // And the other way round: a volume is not listed as a tree.
    await fs.writeFile(path.join(tv.root, 'v.img'), Buffer.alloc(65536, 7));
    const { proc } = await startVolume(tv, path.join(tv.root, 'v.img'), 'vol');
    await proc.waitFor((e) => e.event === 'baseline', 30_000, 'the baseline line');
    assert.equal((await proc.stop('SIGINT')).code, 0);
    const ls = await tv.run(['ls', 'vol']);
    assert.equal(ls.code, 2);
    assert.match(ls.stderr, /is a volume[\s\S]*tidemark image/);
  });
});
