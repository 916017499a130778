/**
 * Our NBD server against clients nobody here wrote: nbdinfo and nbdcopy (libnbd) and
 * qemu-img. They negotiate STRUCTURED_REPLY first and must fall back to simple replies.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { FileExport } from '../../src/nbd/file-export.js';
import { startNbdServer, type NbdServer } from '../../src/nbd/nbd-server.js';
import { makeTempDir, nbdUri, runTool, sha256File, waitFor } from './nbd-tools.js';

const MiB = 1024 * 1024;
const T = { timeout: 60_000 };

interface NbdInfoJson {
  protocol: string;
  structured: boolean;
  exports: Array<Record<string, unknown>>;
}

async function nbdinfo(address: string): Promise<NbdInfoJson> {
  const res = await runTool('nbdinfo', ['--json', nbdUri(address)]);
  assert.equal(res.code, 0, `nbdinfo failed: ${res.stderr}`);
  return JSON.parse(res.stdout) as NbdInfoJson;
}

describe('the NBD server with real clients', () => {
  let dir: string;
  let rw: FileExport;
  let ro: FileExport;
  let unix: NbdServer;
  let tcp: NbdServer;
  let roServer: NbdServer;
  const logs: string[] = [];

  before(async () => {
    dir = await makeTempDir('clients');
    rw = await FileExport.open(path.join(dir, 'disk.raw'), { size: 64 * MiB, description: 'test disk' });
    unix = await startNbdServer({ listen: `unix:${path.join(dir, 'rw.sock')}`, exports: [rw], log: (l) => logs.push(l) });
    tcp = await startNbdServer({ listen: 'tcp:127.0.0.1:0', exports: [rw], log: (l) => logs.push(l) });
    await fs.writeFile(path.join(dir, 'ro.raw'), Buffer.alloc(MiB, 7));
    ro = await FileExport.open(path.join(dir, 'ro.raw'), { readOnly: true, name: 'golden' });
    roServer = await startNbdServer({ listen: `unix:${path.join(dir, 'ro.sock')}`, exports: [ro] });
  });

  after(async () => {
    await Promise.all([unix?.close(), tcp?.close(), roServer?.close()]);
    await Promise.all([rw?.close(), ro?.close()]);
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('nbdinfo sees the size and flags over a unix socket, with simple replies', T, async () => {
    const info = await nbdinfo(unix.address);
    assert.equal(info.protocol, 'newstyle-fixed');
    assert.equal(info.structured, false, 'STRUCTURED_REPLY was refused, so libnbd fell back');
    const e = info.exports[0]!;
    assert.equal(e['export-size'], 64 * MiB);
    assert.equal(e.is_read_only, false);
    for (const can of ['can_flush', 'can_fua', 'can_trim', 'can_zero', 'can_multi_conn']) assert.equal(e[can], true, can);
    assert.equal(e.block_size_maximum, 32 * MiB);
  });

  it('nbdinfo sees the same export over TCP on a port the server picked', T, async () => {
    assert.match(tcp.address, /^tcp:127\.0\.0\.1:[1-9]\d*$/);
    const info = await nbdinfo(tcp.address);
    assert.equal(info.exports[0]!['export-size'], 64 * MiB);
  });

  it('nbdcopy writes 64 MiB of random data and reads back the same bytes', T, async () => {
    const src = path.join(dir, 'src.bin');
    const back = path.join(dir, 'back.bin');
    await fs.writeFile(src, randomBytes(64 * MiB));
    const served = (): number => logs.filter((l) => l.includes('serving export')).length;
    const before = served();
    const w = await runTool('nbdcopy', [src, nbdUri(unix.address)]);
    assert.equal(w.code, 0, `nbdcopy write: ${w.stderr}`);
    assert.ok(served() - before >= 2, 'CAN_MULTI_CONN let nbdcopy open several connections at once');
    const r = await runTool('nbdcopy', [nbdUri(tcp.address), back]);
    assert.equal(r.code, 0, `nbdcopy read: ${r.stderr}`);
    const want = await sha256File(src);
    assert.equal(await sha256File(back), want);
    assert.equal(await sha256File(path.join(dir, 'disk.raw')), want, 'the backing file holds the data');
    await fs.rm(src);
    await fs.rm(back);
  });

  it('qemu-img reads the size and converts the export to a raw file', T, async () => {
    const info = await runTool('qemu-img', ['info', '--output=json', nbdUri(unix.address)]);
    assert.equal(info.code, 0, info.stderr);
    assert.equal((JSON.parse(info.stdout) as { 'virtual-size': number })['virtual-size'], 64 * MiB);
    const out = path.join(dir, 'out.raw');
    const conv = await runTool('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', nbdUri(unix.address), out]);
    assert.equal(conv.code, 0, conv.stderr);
    assert.equal(await sha256File(out), await sha256File(path.join(dir, 'disk.raw')));
    await fs.rm(out);
  });

  it('qemu-io writes with FUA, zeroes, discards and flushes, and reads back what it wrote', T, async () => {
    const cmds = ['write -P 0xab 0 1M', 'write -z 4096 8192', 'discard 512k 64k', 'write -f -P 0xcd 2M 4k', 'flush',
      'read -P 0xab 0 4096', 'read -P 0 4096 8192', 'read -P 0 512k 64k', 'read -P 0xcd 2M 4k', 'read -P 0xab 12288 500k'];
    const res = await runTool('qemu-io', ['-f', 'raw', ...cmds.flatMap((c) => ['-c', c]), nbdUri(unix.address)]);
    assert.equal(res.code, 0, res.stderr);
    assert.doesNotMatch(res.stdout + res.stderr, /fail|error/i);
    assert.equal(res.stdout.match(/^read \d+\/\d+ bytes/gm)?.length, 5, res.stdout);
  });

  it('a read-only export says so and refuses writes, and its file is unchanged', T, async () => {
    const before = await sha256File(path.join(dir, 'ro.raw'));
    const e = (await nbdinfo(roServer.address)).exports[0]!;
    assert.equal(e.is_read_only, true);
    assert.equal(e['export-name'], 'golden');
    const src = path.join(dir, 'small.bin');
    await fs.writeFile(src, randomBytes(MiB));
    const w = await runTool('nbdcopy', [src, nbdUri(roServer.address)]);
    assert.notEqual(w.code, 0, 'nbdcopy into a read-only export must fail');
    assert.equal(await sha256File(path.join(dir, 'ro.raw')), before);
  });

  it('counts no connections once the clients are gone', T, async () => {
    assert.ok(await waitFor(() => unix.connections + tcp.connections === 0), 'connections drop to 0');
    assert.ok(logs.some((l) => l.includes('serving export')), 'connections were logged');
  });
});
