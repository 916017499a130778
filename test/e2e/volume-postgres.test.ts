/**
 * Crash consistency at arbitrary points: PostgreSQL 15 on ext4 on the tapped volume
 * (nbdfuse + losetup), pgbench writing; then, for randomly chosen points of the journal
 * (not bookmarks), a read/write image of that moment is mounted and PostgreSQL started on
 * it: it must recover on its own, with sum(abalance) = sum(delta) (every pgbench
 * transaction updates both atomically).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { makeVault, type TestVault } from '../helpers/cli.js';
import { killAllLive } from '../helpers/live.js';
import type { TimelineJson } from '../helpers/contract.js';
import { attachExport, execFileAsync, startImage, startVolume, waitFolded, type Attached } from '../helpers/volume.js';

const PG_BIN = '/usr/lib/postgresql/15/bin';
const cleanups: (() => Promise<unknown>)[] = [];

after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  await killAllLive();
});

/** Run a PostgreSQL program as the postgres user (initdb refuses root). */
function pg(cmd: string, args: string[], timeout = 120_000): Promise<{ stdout: string; stderr: string }> {
  return execFileAsync('runuser', ['-u', 'postgres', '--', path.join(PG_BIN, cmd), ...args], { timeout });
}

interface Cluster { data: string; sockDir: string; port: number; log: string }

async function startPg(c: Cluster): Promise<void> {
  try {
    await pg('pg_ctl', ['-D', c.data, '-l', c.log, '-w', '-t', '60', '-o',
      `-c listen_addresses='' -c unix_socket_directories=${c.sockDir} -p ${c.port}`, 'start']);
  } catch (err) {
    const log = await fs.readFile(c.log, 'utf8').catch(() => '');
    throw new Error(`PostgreSQL did not start on ${c.data}: ${(err as Error).message}\n${log.slice(-3000)}`, { cause: err });
  }
}

/** Stop the server and wait until its postmaster is really gone (pg_ctl returns when the pid file is). */
async function stopPg(c: Cluster, mode: 'fast' | 'immediate'): Promise<void> {
  const pid = Number((await fs.readFile(path.join(c.data, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  await pg('pg_ctl', ['-D', c.data, '-m', mode, '-w', 'stop']);
  for (let i = 0; i < 500; i++) {
    try { process.kill(pid, 0); } catch { return; }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`the postmaster ${pid} of ${c.data} did not exit`);
}

async function sql(c: Cluster, query: string): Promise<string> {
  return (await pg('psql', ['-h', c.sockDir, '-p', String(c.port), '-At', '-c', query, 'postgres'])).stdout.trim();
}

async function pgDir(root: string, name: string): Promise<string> {
  const d = path.join(root, name);
  await fs.mkdir(d, { recursive: true });
  await execFileAsync('chown', ['postgres:postgres', d]);
  return d;
}

describe('PostgreSQL on the volume tap', () => {
  it('recovers on its own from images of randomly chosen moments, with sum(abalance) = sum(delta)', async () => {
    const tv: TestVault = await makeVault();
    cleanups.push(() => tv.cleanup());
    await fs.chmod(tv.root, 0o755); // the postgres user must reach the mounts below it
    const backing = path.join(tv.root, 'pg.img');
    const { proc, uri } = await startVolume(tv, backing, 'pg', ['--size', '768M']);
    await proc.waitFor((e) => e.event === 'baseline', 60_000, 'the baseline line');
    let live: Attached | null = await attachExport(uri, await tv.tempDir('live'), { mkfs: true });
    cleanups.push(() => live?.detach() ?? Promise.resolve());
    await execFileAsync('chown', ['postgres:postgres', live.mountDir]);
    const cluster: Cluster = {
      data: path.join(live.mountDir, 'pgdata'), sockDir: await pgDir(tv.root, 'sock'), port: 20000 + randomInt(20000), log: path.join(await pgDir(tv.root, 'log'), 'live.log'),
    };
    await pg('initdb', ['-D', cluster.data, '-A', 'trust', '-U', 'postgres']);
    await startPg(cluster);
    cleanups.push(() => stopPg(cluster, 'immediate'));
    await pg('pgbench', ['-h', cluster.sockDir, '-p', String(cluster.port), '-i', '-s', '2', '-q', 'postgres']);
    await sql(cluster, 'CHECKPOINT');
    const lastSeq = async (): Promise<number> => {
      await waitFolded(tv, 'pg');
      return (await tv.json<TimelineJson>(['timeline', 'pg'])).last.seq;
    };
    const runStart = await lastSeq();
    const bench = await pg('pgbench', ['-h', cluster.sockDir, '-p', String(cluster.port), '-n', '-c', '4', '-j', '2', '-T', '10', 'postgres']);
    const tps = /tps = ([\d.]+)/.exec(bench.stdout)?.[1];
    const runEnd = await lastSeq();
    assert.equal(await sql(cluster, 'SELECT sum(abalance) = (SELECT sum(delta) FROM pgbench_history) FROM pgbench_accounts'), 't');
    // The live server crashes (as a machine would); the journal stays as it was.
    await stopPg(cluster, 'immediate');
    await live.detach();
    live = null;
    assert.equal((await proc.stop('SIGINT')).code, 0, proc.describe());
    assert.ok(runEnd - runStart >= 20, `pgbench (${tps} tps) made only ${runEnd - runStart} points`);

    const chosen = new Set<number>();
    for (let i = 0; i < 1000 && chosen.size < 5; i++) chosen.add(runStart + 1 + randomInt(runEnd - runStart));
    const seen: { seq: number; history: number }[] = [];
    for (const seq of [...chosen].sort((a, b) => a - b)) {
      const image = await startImage(tv, 'pg', `seq:${seq}`, ['--rw']);
      const dir = await tv.tempDir(`image-${seq}`);
      const att = await attachExport(image.uri, dir);
      const c: Cluster = { data: path.join(att.mountDir, 'pgdata'), sockDir: cluster.sockDir, port: cluster.port + 1 + seen.length, log: path.join(path.dirname(cluster.log), `seq-${seq}.log`) };
      try {
        await startPg(c);
        const [abalance, delta, history] = (await sql(c, 'SELECT (SELECT sum(abalance) FROM pgbench_accounts), (SELECT coalesce(sum(delta), 0) FROM pgbench_history), (SELECT count(*) FROM pgbench_history)')).split('|');
        assert.equal(abalance, delta, `seq:${seq}: sum(abalance) ${abalance} != sum(delta) ${delta} (${history} history rows)`);
        seen.push({ seq, history: Number(history) });
        await stopPg(c, 'fast');
      } finally {
        await att.detach();
        await image.proc.stop('SIGINT');
      }
    }
    assert.equal(seen.length, chosen.size);
    assert.ok(seen.length >= 5, `only ${seen.length} distinct moments were chosen`);
    // Different moments show different amounts of work done: they really are different points.
    assert.ok(new Set(seen.map((s) => s.history)).size >= 2, `every chosen moment showed the same history: ${JSON.stringify(seen)}`);
  });
});
