/**
 * PostgreSQL 15 on ext4 on an NBD export (see volume-stack.ts attachExt4): initdb, start,
 * `pgbench -i -s SCALE`, then a timed `pgbench -n -c 4 -j 2 -T SECONDS`; returns its TPS.
 * PostgreSQL refuses to run as root, so every PostgreSQL program runs as the postgres user.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { run, type RunResult } from './proc.js';
import { attachExt4, type Cleanups } from './volume-stack.js';

/** Where the Debian package puts PostgreSQL 15. */
export const PG_BIN = '/usr/lib/postgresql/15/bin';

/** The pgbench workload. */
export interface PgbenchSpec { scale: number; clients: number; threads: number; seconds: number }

/** What one pgbench run measured. */
export interface PgbenchResult { tps: number; transactions: number; latencyMs: number; initSeconds: number }

function pg(cmd: string, args: string[], timeoutMs: number): Promise<RunResult> {
  return run('runuser', ['-u', 'postgres', '--', join(PG_BIN, cmd), ...args], { timeoutMs });
}

/** The pgbench command line the bench runs (without connection options), for the report. */
export function pgbenchCommands(s: PgbenchSpec): string {
  return `pgbench -i -s ${s.scale}; pgbench -n -c ${s.clients} -j ${s.threads} -T ${s.seconds}`;
}

/** Run the workload on a fresh ext4 file system on `uri`; everything is undone before it returns. */
export async function pgbenchOn(uri: string, dir: string, port: number, spec: PgbenchSpec, cleanups: Cleanups): Promise<PgbenchResult> {
  const att = await attachExt4(uri, dir, cleanups);
  try {
    const data = join(att.mountDir, 'pgdata');
    const sockDir = join(dir, 'pgsock');
    const logFile = join(dir, 'postgres.log');
    await fs.mkdir(sockDir, { recursive: true });
    await run('chown', ['postgres:postgres', att.mountDir, sockDir, dir], { timeoutMs: 10_000 });
    await pg('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres'], 5 * 60_000);
    await pg('pg_ctl', ['-D', data, '-l', logFile, '-w', '-t', '120', '-o',
      `-c listen_addresses='' -c unix_socket_directories=${sockDir} -p ${port}`, 'start'], 180_000)
      .catch(async (e: Error) => { throw new Error(`${e.message}\n${(await fs.readFile(logFile, 'utf8').catch(() => '')).slice(-3000)}`); });
    const stopPg = cleanups.add(`pg_ctl stop ${data}`, () => pg('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '120', 'stop'], 180_000));
    try {
      const conn = ['-h', sockDir, '-p', String(port)];
      const init = await pg('pgbench', [...conn, '-i', '-s', String(spec.scale), '-q', 'postgres'], 20 * 60_000);
      // start the timed run from a clean state: no dirty buffers left over from the load
      await pg('psql', [...conn, '-At', '-c', 'CHECKPOINT', 'postgres'], 5 * 60_000);
      const r = await pg('pgbench', [...conn, '-n', '-c', String(spec.clients), '-j', String(spec.threads), '-T', String(spec.seconds), 'postgres'],
        (spec.seconds + 300) * 1000);
      const num = (re: RegExp): number => Number(re.exec(r.stdout)?.[1] ?? NaN);
      const tps = num(/tps = ([\d.]+)/);
      if (!Number.isFinite(tps)) throw new Error(`cannot find the TPS in pgbench's output:\n${r.stdout}`);
      return { tps, transactions: num(/number of transactions actually processed: (\d+)/), latencyMs: num(/latency average = ([\d.]+) ms/), initSeconds: init.seconds };
    } finally {
      await stopPg();
    }
  } finally {
    await att.detach();
  }
}
