/**
 * Hostile and broken clients on raw sockets: bad magic, out-of-range and oversized
 * requests, requests after DISC, a write cut off mid-payload, garbage options, a failing
 * export. After each, the server must still serve a well-behaved client.
 */
import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { TidemarkError } from '../../src/common/errors.js';
import { startNbdServer, type NbdServer } from '../../src/nbd/nbd-server.js';
import * as P from '../../src/nbd/nbd-protocol.js';
import { MemoryExport } from './memory-export.js';
import { option, request, u32 } from './client-bytes.js';
import { RawClient } from './raw-client.js';
import { makeTempDir, nbdUri, runTool, waitFor } from './nbd-tools.js';

const SIZE = 1024 * 1024;
const MAX_REQUEST = 64 * 1024;
const T = { timeout: 20_000 };

describe('the NBD server with hostile clients', () => {
  let dir: string;
  let exp: MemoryExport;
  let server: NbdServer;
  const logs: string[] = [];

  /** A fresh, honest client can still read what the export holds. */
  async function stillServes(): Promise<void> {
    exp.data.write('still here', 100);
    const { client } = await RawClient.open(server.address);
    client.send(request(P.NBD_CMD_READ, 99n, 100, 10));
    assert.deepEqual(await client.readReply(), { error: 0, cookie: 99n });
    assert.equal((await client.read(10)).toString(), 'still here');
    client.destroy();
  }

  before(async () => {
    dir = await makeTempDir('hostile');
    exp = new MemoryExport(SIZE);
    server = await startNbdServer({
      listen: `unix:${path.join(dir, 's.sock')}`, exports: [exp], maxRequestBytes: MAX_REQUEST, handshakeTimeoutMs: 1000,
      log: (l) => logs.push(l),
    });
  });

  beforeEach(() => {
    exp.calls.length = 0;
    exp.gate = () => Promise.resolve();
    exp.failWith = undefined;
  });

  after(async () => {
    await server?.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('closes a connection whose request has a bad magic', T, async () => {
    const { client } = await RawClient.open(server.address);
    const bad = request(P.NBD_CMD_READ, 1n, 0, 512);
    bad.writeUInt32BE(0xdeadbeef, 0);
    client.send(bad);
    assert.equal(await client.closesWithin(3000), true);
    assert.equal(client.pending, 0, 'no reply to a request that could not be parsed');
    await stillServes();
  });

  it('answers out-of-range requests with EINVAL or ENOSPC and keeps the connection', T, async () => {
    const { client } = await RawClient.open(server.address);
    client.send(request(P.NBD_CMD_READ, 1n, SIZE - 10, 11));
    assert.deepEqual(await client.readReply(), { error: P.NBD_EINVAL, cookie: 1n });
    client.send(request(P.NBD_CMD_READ, 2n, 2 ** 50, 1));
    assert.deepEqual(await client.readReply(), { error: P.NBD_EINVAL, cookie: 2n });
    client.send(request(P.NBD_CMD_WRITE, 3n, SIZE, 4, { payload: Buffer.from('abcd') }));
    assert.deepEqual(await client.readReply(), { error: P.NBD_ENOSPC, cookie: 3n });
    client.send(request(P.NBD_CMD_READ, 4n, 0, 4));
    assert.deepEqual(await client.readReply(), { error: 0, cookie: 4n });
    await client.read(4);
    assert.equal(exp.calls.filter((c) => c.op === 'write').length, 0, 'nothing out of range reached the export');
    client.destroy();
  });

  it('refuses an oversized read with EINVAL, and hangs up on an oversized write it cannot skip', T, async () => {
    const { client } = await RawClient.open(server.address);
    client.send(request(P.NBD_CMD_READ, 5n, 0, MAX_REQUEST + 1));
    assert.deepEqual(await client.readReply(), { error: P.NBD_EINVAL, cookie: 5n });
    client.send(request(P.NBD_CMD_WRITE, 6n, 0, MAX_REQUEST + 1));
    assert.equal(await client.closesWithin(3000), true);
    await stillServes();
  });

  it('ignores requests sent after DISC and closes once earlier requests are answered', T, async () => {
    const { client } = await RawClient.open(server.address);
    client.send(Buffer.concat([
      request(P.NBD_CMD_READ, 7n, 0, 8),
      request(P.NBD_CMD_DISC, 8n, 0, 0),
      request(P.NBD_CMD_WRITE, 9n, 0, 4, { payload: Buffer.from('evil') }),
    ]));
    assert.deepEqual(await client.readReply(), { error: 0, cookie: 7n });
    await client.read(8);
    assert.equal(await client.closesWithin(3000), true);
    assert.equal(client.pending, 0, 'nothing is answered after DISC');
    assert.deepEqual(exp.calls.map((c) => c.op), ['read']);
  });

  it('never passes a write to the export when the socket closes mid-payload', T, async () => {
    const { client } = await RawClient.open(server.address);
    const full = request(P.NBD_CMD_WRITE, 10n, 0, 4096, { payload: Buffer.alloc(4096, 0x5a) });
    client.send(full.subarray(0, P.REQUEST_BYTES + 1000));
    await new Promise((r) => setTimeout(r, 50));
    const closedBefore = exp.closedConnections;
    client.destroy();
    assert.ok(await waitFor(() => exp.closedConnections > closedBefore), 'the export hears the connection close');
    assert.deepEqual(exp.calls, []);
    assert.equal(exp.data.indexOf(0x5a), -1);
    await stillServes();
  });

  it('hangs up on garbage instead of an option, and on an option payload over 64 KiB', T, async () => {
    const garbage = await RawClient.connect(server.address);
    await garbage.read(18);
    garbage.send(Buffer.concat([u32(3), Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')]));
    assert.equal(await garbage.closesWithin(3000), true);
    const big = await RawClient.connect(server.address);
    await big.read(18);
    const h = option(P.NBD_OPT_GO, Buffer.alloc(0));
    h.writeUInt32BE(P.MAX_OPTION_BYTES + 1, 12);
    big.send(Buffer.concat([u32(3), h]));
    assert.equal(await big.closesWithin(3000), true);
    const flags = await RawClient.connect(server.address);
    await flags.read(18);
    flags.send(u32(0x80));
    assert.equal(await flags.closesWithin(3000), true, 'unknown client flags end the handshake');
    await stillServes();
  });

  it('refuses unknown options and a zero-length STRUCTURED_REPLY, then still accepts GO', T, async () => {
    const c = await RawClient.connect(server.address);
    await c.read(18);
    c.send(Buffer.concat([u32(3), option(P.NBD_OPT_STRUCTURED_REPLY, Buffer.alloc(0)), option(77, Buffer.from('xyz'))]));
    assert.equal((await c.readOptionReply()).type, P.NBD_REP_ERR_UNSUP);
    const r = await c.readOptionReply();
    assert.deepEqual([r.option, r.type], [77, P.NBD_REP_ERR_UNSUP]);
    c.send(option(P.NBD_OPT_GO, Buffer.from([0, 0, 0, 4, 0x6e, 0x6f, 0x70, 0x65, 0, 0])));
    assert.equal((await c.readOptionReply()).type, P.NBD_REP_ERR_UNKNOWN, 'export "nope" does not exist');
    c.send(option(P.NBD_OPT_ABORT, Buffer.alloc(0)));
    assert.equal((await c.readOptionReply()).type, P.NBD_REP_ACK);
    assert.equal(await c.closesWithin(3000), true);
  });

  it('answers EIO when the export fails, logs why, and keeps serving', T, async () => {
    const { client } = await RawClient.open(server.address);
    exp.failWith = new Error('disk on fire');
    client.send(request(P.NBD_CMD_WRITE, 11n, 0, 4, { payload: Buffer.from('abcd') }));
    assert.deepEqual(await client.readReply(), { error: P.NBD_EIO, cookie: 11n });
    client.send(request(P.NBD_CMD_READ, 12n, 0, 4));
    assert.deepEqual(await client.readReply(), { error: P.NBD_EIO, cookie: 12n }, 'a failed read sends no data');
    exp.failWith = undefined;
    client.send(request(P.NBD_CMD_FLUSH, 13n, 0, 0));
    assert.deepEqual(await client.readReply(), { error: 0, cookie: 13n });
    assert.ok(logs.some((l) => l.includes('disk on fire')));
    client.destroy();
  });

  it('issues writes in arrival order and replies as each completes, matched by cookie', T, async () => {
    const { client } = await RawClient.open(server.address);
    // Complete the calls in reverse: the first write is held until the last one has finished.
    const release: Array<() => void> = [];
    exp.gate = () => new Promise((resolve) => release.push(resolve));
    const n = 20;
    client.send(Buffer.concat(Array.from({ length: n }, (_, i) =>
      request(P.NBD_CMD_WRITE, BigInt(1000 + i), i * 512, 512, { payload: Buffer.alloc(512, i), flags: i % 2 ? P.NBD_CMD_FLAG_FUA : 0 }))));
    assert.ok(await waitFor(() => release.length === n), 'all writes were issued without waiting for replies');
    assert.deepEqual(exp.calls.map((c) => c.offset), Array.from({ length: n }, (_, i) => i * 512));
    assert.deepEqual(exp.calls.map((c) => c.fua), Array.from({ length: n }, (_, i) => i % 2 === 1));
    const cookies: bigint[] = [];
    for (let i = n - 1; i >= 0; i--) {
      release[i]!();
      cookies.push((await client.readReply()).cookie);
    }
    assert.deepEqual(cookies, Array.from({ length: n }, (_, i) => BigInt(1000 + n - 1 - i)));
    client.destroy();
  });

  it('stops reading requests while too many bytes are in flight, and resumes', T, async () => {
    const { client } = await RawClient.open(server.address);
    const release: Array<() => void> = [];
    exp.gate = () => new Promise((resolve) => release.push(resolve));
    const n = 40;
    client.send(Buffer.concat(Array.from({ length: n }, (_, i) => request(P.NBD_CMD_READ, BigInt(i), 0, MAX_REQUEST))));
    await waitFor(() => release.length >= 3, 500);
    await new Promise((r) => setTimeout(r, 100));
    // The server's limit is two maximal requests; it takes the one that crosses it, then stops.
    assert.ok(release.length <= 3, `${release.length} reads in flight`);
    let replies = 0;
    for (let rounds = 0; replies < n && rounds < 10 * n; rounds++) {
      release.splice(0).forEach((r) => r());
      await client.readReply();
      await client.read(MAX_REQUEST);
      replies++;
    }
    assert.equal(replies, n);
    client.destroy();
  });

  it('passes TRIM, WRITE_ZEROES and FLUSH through and answers CACHE and BLOCK_STATUS itself', T, async () => {
    const { client } = await RawClient.open(server.address);
    client.send(Buffer.concat([
      request(P.NBD_CMD_TRIM, 1n, 0, 4096),
      request(P.NBD_CMD_WRITE_ZEROES, 2n, 4096, 4096, { flags: P.NBD_CMD_FLAG_NO_HOLE }),
      request(P.NBD_CMD_WRITE_ZEROES, 3n, 4096, 4096, { flags: P.NBD_CMD_FLAG_FAST_ZERO }),
      request(P.NBD_CMD_CACHE, 4n, 0, 4096),
      request(P.NBD_CMD_BLOCK_STATUS, 5n, 0, 4096),
      request(P.NBD_CMD_FLUSH, 6n, 0, 0),
    ]));
    const got = new Map<bigint, number>();
    for (let i = 0; i < 6; i++) {
      const r = await client.readReply();
      got.set(r.cookie, r.error);
    }
    assert.deepEqual([...got.entries()].sort((a, b) => Number(a[0] - b[0])),
      [[1n, 0], [2n, 0], [3n, P.NBD_ENOTSUP], [4n, 0], [5n, P.NBD_EINVAL], [6n, 0]]);
    assert.deepEqual(exp.calls.map((c) => c.op), ['trim', 'writeZeroes', 'flush']);
    client.destroy();
  });

  it('serves an old-style EXPORT_NAME client, with the 124 zero bytes it did not refuse', T, async () => {
    const c = await RawClient.connect(server.address);
    await c.read(18);
    c.send(Buffer.concat([u32(P.NBD_FLAG_C_FIXED_NEWSTYLE), option(P.NBD_OPT_EXPORT_NAME, Buffer.alloc(0))]));
    const reply = await c.read(10 + P.EXPORT_NAME_PADDING);
    assert.equal(reply.readBigUInt64BE(0), BigInt(SIZE));
    assert.ok(reply.subarray(10).every((b) => b === 0));
    exp.data.write('old', 0);
    c.send(request(P.NBD_CMD_READ, 3n, 0, 3));
    assert.deepEqual(await c.readReply(), { error: 0, cookie: 3n });
    assert.equal((await c.read(3)).toString(), 'old');
    c.destroy();
  });

  it('cuts off a client that never finishes the handshake, but not an idle one that did', T, async () => {
    const silent = await RawClient.connect(server.address);
    await silent.read(18);
    const { client: idle } = await RawClient.open(server.address);
    assert.equal(await silent.closesWithin(3000), true);
    assert.equal(await idle.closesWithin(300), false);
    idle.send(request(P.NBD_CMD_FLUSH, 1n, 0, 0));
    assert.deepEqual(await idle.readReply(), { error: 0, cookie: 1n });
    idle.destroy();
  });

  it('serves several connections at once, each getting its own replies', T, async () => {
    const clients = await Promise.all([0, 1, 2].map(async () => (await RawClient.open(server.address)).client));
    exp.data.write('AAAABBBBCCCC', 0);
    clients.forEach((c, i) => c.send(request(P.NBD_CMD_READ, BigInt(i), i * 4, 4)));
    const got = await Promise.all(clients.map(async (c) => [(await c.readReply()).cookie, (await c.read(4)).toString()]));
    assert.deepEqual(got, [[0n, 'AAAA'], [1n, 'BBBB'], [2n, 'CCCC']]);
    clients.forEach((c) => c.destroy());
  });

  it('close() lets requests in flight finish and answers them before hanging up', T, async () => {
    const other = new MemoryExport(SIZE);
    const s2 = await startNbdServer({ listen: `unix:${path.join(dir, 'close.sock')}`, exports: [other] });
    const { client } = await RawClient.open(s2.address);
    const release: Array<() => void> = [];
    other.gate = () => new Promise((resolve) => release.push(resolve));
    client.send(request(P.NBD_CMD_WRITE, 5n, 0, 3, { payload: Buffer.from('end') }));
    assert.ok(await waitFor(() => release.length === 1));
    let closed = false;
    const closing = s2.close().then(() => { closed = true; });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(closed, false, 'close() waits for the write in flight');
    release[0]!();
    assert.deepEqual(await client.readReply(), { error: 0, cookie: 5n });
    await closing;
    assert.equal(await client.closesWithin(3000), true);
    assert.equal(other.data.toString('latin1', 0, 3), 'end');
    assert.equal(other.closedConnections, 1);
  });

  it('refuses to start on an address already in use, saying what to do', T, async () => {
    await assert.rejects(startNbdServer({ listen: server.address, exports: [exp] }),
      (err: unknown) => err instanceof TidemarkError && err.code === 'TM_IO' &&
        /Cannot listen for NBD/.test(err.message) && /stale unix socket/.test(err.hint ?? ''));
  });

  it('still serves nbdinfo after all of the above', T, async () => {
    const res = await runTool('nbdinfo', ['--size', nbdUri(server.address)]);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout.trim(), String(SIZE));
  });
});
