/**
 * Volume benchmark: the volume tap (`tidemark protect-volume`) and point-in-time images
 * (`tidemark image`) against `nbdkit file` on the same machine, in the same run.
 *
 *   npm run bench:volume -- [--work DIR] [--size-mib 512] [--out docs/PERFORMANCE.md|-]
 *                           [--repeat 1] [--image-size 4G] [--timeout-min 20] [--quiet-wait-s 20] [--keep]
 *
 * Per run (each in a fresh directory under --work, default the system temp dir; every tap
 * started gets a new, empty vault, so no write is merely deduplicated against an earlier one):
 *  1. nbdcopy throughput: write (`nbdcopy SRC URI`), read (`nbdcopy URI /dev/null`) and write
 *     with `--flush`, each server on fresh sparse backing files of --size-mib MiB;
 *  2. pgbench: ext4 on nbdfuse + losetup of each export, PostgreSQL 15, `pgbench -i -s 10`,
 *     then `pgbench -n -c 4 -j 2 -T 20`;
 *  3. images: a --image-size volume gets the source written; 2000 random 4 KiB reads from the
 *     live tap, then, after stopping it, the time from spawning `image --listen` to a first
 *     4 KiB read (3 attempts), and the same 2000 reads from the image.
 * Prints the figures and PASS/MISS against the targets, and writes them into --out between
 * <!-- bench:volume:start --> and <!-- bench:volume:end --> (`--out -` writes nothing).
 * Needs root (losetup, mount) and nbdkit, libnbd-bin, fuse3, qemu-utils, postgresql-15.
 * Every child is bounded by --timeout-min (servers and waits by their own limits); mounts,
 * loop devices, nbdfuse and servers are undone at the end, on failure and on SIGINT/SIGTERM;
 * the work directory is removed unless --keep.
 */
import { promises as fs, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { killRunning, onPath, run, shellQuote, waitQuiet } from './proc.js';
import { writeSection } from './report.js';
import { describeMachine, filesystemType, versionOf } from './system.js';
import { randomOffsets, writeSourceFile } from './volume-data.js';
import { PG_BIN, pgbenchCommands, pgbenchOn, type PgbenchResult, type PgbenchSpec } from './volume-pg.js';
import { type CopyFigures, type ReadFigures, type VolumeReport, type VolumeRun, VOLUME_MARKS, renderVolumeSection, volumeTables } from './volume-report.js';
import { Cleanups, type Server, type TidemarkEnv, startImage, startNbdkit, startTap } from './volume-stack.js';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(projectRoot, 'bin', 'tidemark.js');
const MiB = 1024 * 1024;
const PGBENCH: PgbenchSpec = { scale: 10, clients: 4, threads: 2, seconds: 20 };
const RANDOM_READS = 2000;
const READY_ATTEMPTS = 3;
/** Below this many cores used by others (over 2 s), the machine counts as quiet. */
const QUIET_CORES = 0.15;

const USAGE = `usage: npm run bench:volume -- [--work DIR] [--size-mib 512] [--out FILE|-] [--repeat 1]
         [--image-size 4G] [--timeout-min 20] [--quiet-wait-s 20] [--keep]`;

interface Options { work: string; sizeMiB: number; out?: string; repeat: number; imageSize: string; timeoutMs: number; quietWaitMs: number; keep: boolean }

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      work: { type: 'string' },
      'size-mib': { type: 'string', default: '512' },
      out: { type: 'string' },
      repeat: { type: 'string', default: '1' },
      'image-size': { type: 'string', default: '4G' },
      'timeout-min': { type: 'string', default: '20' },
      'quiet-wait-s': { type: 'string', default: '20' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) { console.log(USAGE); process.exit(0); }
  const int = (name: string, v: string, lo: number, hi: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < lo || n > hi) throw new Error(`--${name} must be an integer from ${lo} to ${hi}\n${USAGE}`);
    return n;
  };
  if (!/^\d+[KMGT]?$/.test(values['image-size'])) throw new Error(`--image-size: e.g. 4G\n${USAGE}`);
  return {
    work: resolve(values.work ?? os.tmpdir()),
    sizeMiB: int('size-mib', values['size-mib'], 16, 64 * 1024),
    out: values.out === '-' ? undefined : resolve(values.out ?? join(projectRoot, 'docs', 'PERFORMANCE.md')),
    repeat: int('repeat', values.repeat, 1, 10),
    imageSize: values['image-size'],
    timeoutMs: int('timeout-min', values['timeout-min'], 1, 24 * 60) * 60_000,
    quietWaitMs: int('quiet-wait-s', values['quiet-wait-s'], 0, 3600) * 1000,
    keep: values.keep,
  };
}

const log = (msg: string): void => { process.stderr.write(`bench:volume: ${msg}\n`); };

/** Fail early, naming the Debian packages, rather than halfway through a run. */
async function checkPrerequisites(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the volume bench needs root (losetup, mount, runuser)');
  const need: [string, string][] = [['nbdkit', 'nbdkit'], ['nbdcopy', 'libnbd-bin'], ['nbdinfo', 'libnbd-bin'], ['nbdfuse', 'libnbd-bin'],
    ['fusermount3', 'fuse3'], ['qemu-io', 'qemu-utils'], ['losetup', 'mount'], ['mkfs.ext4', 'e2fsprogs'], ['runuser', 'util-linux'], ['/usr/bin/time', 'time']];
  const missing = new Set<string>();
  for (const [cmd, pkg] of need) if (!(await onPath(cmd))) missing.add(pkg);
  if (!(await fs.access(join(PG_BIN, 'pgbench')).then(() => true, () => false))) missing.add('postgresql-15');
  if (missing.size > 0) throw new Error(`missing: apt-get install ${[...missing].join(' ')}`);
  await fs.access(join(projectRoot, 'dist', 'src', 'cli', 'main.js')).catch(() => { throw new Error('tidemark is not built: run `npm run build`'); });
}

/** What every timed step shares. */
interface Ctx { o: Options; dir: string; cleanups: Cleanups; src: string; otherLoad: number[] }

/**
 * A new, empty vault for one tap: the source is the same bytes every time, so a tap writing
 * into a vault that already holds them would only deduplicate and look faster than it is.
 */
async function freshVault(c: Ctx, name: string): Promise<TidemarkEnv> {
  const tm: TidemarkEnv = { cli: CLI, env: { ...process.env, TIDEMARK_VAULT: join(c.dir, `vault-${name}`), TIDEMARK_PASSPHRASE: 'tidemark-vbench-passphrase' } };
  await run(process.execPath, [CLI, 'init', '--json'], { env: tm.env, timeoutMs: 120_000 });
  return tm;
}

/** Let the page cache write back and background work (a tap still committing) finish, so steps do not slow each other down. */
async function settle(c: Ctx): Promise<void> {
  await run('sync', [], { timeoutMs: 10 * 60_000 });
  const q = await waitQuiet(QUIET_CORES, c.o.quietWaitMs);
  c.otherLoad.push(q.load);
  if (q.load >= QUIET_CORES) log(`machine still busy (${q.load.toFixed(2)} cores) after ${(q.waitedMs / 1000).toFixed(0)} s; measuring anyway`);
}

async function timedCopy(c: Ctx, args: string[]): Promise<number> {
  await settle(c);
  const r = await run('nbdcopy', args, { timeoutMs: c.o.timeoutMs });
  log(`  nbdcopy ${args.join(' ')}: ${r.seconds.toFixed(2)} s (${(c.o.sizeMiB / r.seconds).toFixed(0)} MiB/s)`);
  return r.seconds;
}

/** Write, read, and write with --flush through one kind of server; `serve` starts it on a fresh backing file. */
async function copyFigures(c: Ctx, serve: (backing: string, sock: string, n: number) => Promise<Server>, name: string): Promise<{ f: CopyFigures; multiConn: string }> {
  const fresh = async (n: number): Promise<Server> => {
    const backing = join(c.dir, `${name}-${n}.raw`);
    await fs.rm(backing, { force: true });
    return serve(backing, join(c.dir, `${name}-${n}.sock`), n);
  };
  const a = await fresh(1);
  const mc = await run('nbdinfo', ['--can', 'multi-conn', a.uri], { timeoutMs: 30_000 }).then(() => 'yes', () => 'no');
  log(`${name}: ${a.uri} (multi-conn: ${mc})`);
  const write = await timedCopy(c, [c.src, a.uri]);
  const folded = write + (a.runStatus ? await untilFolded(a.runStatus, c.o.timeoutMs) : 0);
  if (a.runStatus) log(`  folded into the journal ${folded.toFixed(2)} s after nbdcopy started (${(c.o.sizeMiB / folded).toFixed(0)} MiB/s)`);
  const read = await timedCopy(c, [a.uri, '/dev/null']);
  await a.stop();
  await fs.rm(join(c.dir, `${name}-1.raw`), { force: true });
  const b = await fresh(2);
  const writeFlush = await timedCopy(c, ['--flush', c.src, b.uri]);
  await b.stop();
  await fs.rm(join(c.dir, `${name}-2.raw`), { force: true });
  return { f: { write: [write], read: [read], writeFlush: [writeFlush], folded: [folded] }, multiConn: mc };
}

/**
 * Seconds until a tap's run status (rewritten every second) says every logged write is
 * folded into the journal; the status is polled every 50 ms, so this is at most ~1 s late.
 */
async function untilFolded(runStatus: string, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  for (let waited = 0; waited < timeoutMs; waited += 50) {
    try {
      const s = JSON.parse(await fs.readFile(runStatus, 'utf8')) as { updated: string; writeLog?: { durableSeq: number; foldedSeq: number; unfoldedBytes: number } };
      const w = s.writeLog;
      if (Date.parse(s.updated) > Date.now() - (performance.now() - t0) && w && w.unfoldedBytes === 0 && w.foldedSeq >= w.durableSeq) break;
    } catch { /* being rewritten */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  return (performance.now() - t0) / 1000;
}

async function sparseFile(path: string, bytes: number): Promise<void> {
  await fs.rm(path, { force: true });
  await run('truncate', ['-s', String(bytes), path], { timeoutMs: 30_000 });
}

/** 2000 random 4 KiB reads in one qemu-io process; per-read times from qemu-io's own ops/sec. */
async function randomReads(c: Ctx, uri: string, offsets: number[]): Promise<ReadFigures> {
  await settle(c);
  const args = ['-f', 'raw', '-r', ...offsets.flatMap((off) => ['-c', `read ${off} 4k`]), uri];
  const r = await run('qemu-io', args, { timeoutMs: c.o.timeoutMs });
  const rates = [...r.stdout.matchAll(/and ([\d.]+) ops\/sec/g)].map((m) => Number(m[1]));
  if (rates.length !== offsets.length || (r.stdout.match(/^read 4096\/4096 bytes/gm) ?? []).length !== offsets.length) {
    throw new Error(`qemu-io did not complete ${offsets.length} reads of 4096 bytes:\n${r.stdout.slice(0, 2000)}\n${r.stderr.slice(-2000)}`);
  }
  const f = { count: offsets.length, opsSeconds: rates.reduce((s, x) => s + 1 / x, 0), wallSeconds: r.seconds };
  log(`  ${f.count} random reads: ${(f.count / f.opsSeconds).toFixed(0)} reads/s (qemu-io wall ${f.wallSeconds.toFixed(2)} s)`);
  return f;
}

/** Spawn `image --listen`, then poll `qemu-io read 0 4k` until it succeeds. */
async function timeImageReady(c: Ctx, tm: TidemarkEnv, group: string, sock: string): Promise<{ server: Server; readyLine: number; firstRead: number }> {
  const t0 = process.hrtime.bigint();
  const since = (): number => Number(process.hrtime.bigint() - t0) / 1e9;
  const server = await startImage(tm, group, 'latest', sock, c.cleanups);
  const readyLine = since();
  for (;;) {
    try {
      await run('qemu-io', ['-f', 'raw', '-r', '-c', 'read 0 4k', server.uri], { timeoutMs: 30_000 });
      break;
    } catch (e) {
      if (since() > 60) { await server.stop(); throw new Error(`no successful read from the image within 60 s: ${(e as Error).message}`, { cause: e }); }
    }
  }
  return { server, readyLine, firstRead: since() };
}

async function oneRun(c: Ctx, i: number, multiConn: VolumeReport['multiConn']): Promise<VolumeRun> {
  const bytes = c.o.sizeMiB * MiB;
  log(`run ${i}: nbdcopy throughput`);
  const nbdkit = await copyFigures(c, async (backing, sock) => { await sparseFile(backing, bytes); return startNbdkit(backing, sock, c.cleanups); }, 'nbdkit');
  const tap = await copyFigures(c, async (backing, sock, n) => startTap(await freshVault(c, `tput-${n}`), backing, `tput-${i}-${n}`, sock, ['--size', `${c.o.sizeMiB}M`], c.cleanups), 'tap');
  multiConn.nbdkit = nbdkit.multiConn;
  multiConn.tap = tap.multiConn;

  log(`run ${i}: pgbench`);
  const port = 20000 + Math.floor(Math.random() * 20000);
  const pgOn = async (name: string, serve: (backing: string, sock: string) => Promise<Server>): Promise<PgbenchResult> => {
    const backing = join(c.dir, `pg-${name}.raw`);
    const server = await serve(backing, join(c.dir, `pg-${name}.sock`));
    try {
      await settle(c);
      const r = await pgbenchOn(server.uri, join(c.dir, `pg-${name}`), port, PGBENCH, c.cleanups);
      log(`  ${name}: ${r.tps.toFixed(1)} tps`);
      return r;
    } finally {
      await server.stop();
      await fs.rm(backing, { force: true });
    }
  };
  const pgNbdkit = await pgOn('nbdkit', async (backing, sock) => { await sparseFile(backing, 2048 * MiB); return startNbdkit(backing, sock, c.cleanups); });
  const pgTap = await pgOn('tap', async (backing, sock) => startTap(await freshVault(c, 'pg'), backing, `pg-${i}`, sock, ['--size', '2G'], c.cleanups));

  log(`run ${i}: images of a ${c.o.imageSize} volume`);
  const group = `img-${i}`;
  const tm = await freshVault(c, 'img');
  const live = await startTap(tm, join(c.dir, 'img.raw'), group, join(c.dir, 'img.sock'), ['--size', c.o.imageSize], c.cleanups);
  await run('nbdcopy', ['--flush', c.src, live.uri], { timeoutMs: c.o.timeoutMs });
  const offsets = randomOffsets(bytes, RANDOM_READS, 7 + i);
  const liveReads = await randomReads(c, live.uri, offsets);
  await live.stop();
  const imageReady: VolumeRun['imageReady'] = [];
  let imageReads: ReadFigures | undefined;
  for (let a = 1; a <= READY_ATTEMPTS; a++) {
    await settle(c);
    const t = await timeImageReady(c, tm, group, join(c.dir, `image-${a}.sock`));
    imageReady.push({ readyLine: t.readyLine, firstRead: t.firstRead });
    log(`  image --listen attempt ${a}: ready line ${t.readyLine.toFixed(3)} s, first read ${t.firstRead.toFixed(3)} s`);
    try {
      if (a === READY_ATTEMPTS) imageReads = await randomReads(c, t.server.uri, offsets);
    } finally {
      await t.server.stop();
    }
  }
  return { nbdkit: nbdkit.f, tap: tap.f, pg: { nbdkit: pgNbdkit, tap: pgTap }, imageReady, reads: { live: liveReads, image: imageReads! } };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const o = parseOptions(argv);
  const command = `npm run bench:volume -- ${argv.map(shellQuote).join(' ')}`.trim();
  await checkPrerequisites();
  await fs.mkdir(o.work, { recursive: true });
  const need = (o.sizeMiB * 6 + 4096) * MiB; // source, backing files, vault, PostgreSQL volumes
  const free = await fs.statfs(o.work).then((s) => s.bavail * s.bsize);
  if (free < need) throw new Error(`not enough space in ${o.work}: ${(free / 2 ** 30).toFixed(1)} GiB free, about ${(need / 2 ** 30).toFixed(1)} GiB needed`);

  const cleanups = new Cleanups();
  let work = await fs.mkdtemp(join(o.work, 'tidemark-vbench-'));
  const removeWork = (): void => {
    if (!work) return;
    if (o.keep) log(`keeping work directory ${work}`); else rmSync(work, { recursive: true, force: true });
    work = '';
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      log(`${sig}: cleaning up`);
      void cleanups.runAll(log).finally(() => { killRunning(); removeWork(); process.exit(130); });
    });
  }
  const runs: VolumeRun[] = [];
  const multiConn = { nbdkit: '?', tap: '?' };
  const otherLoad: number[] = [];
  const loadBefore = os.loadavg()[0];
  try {
    await fs.chmod(work, 0o755); // the postgres user must reach the mounts below it
    const src = join(work, 'source.bin');
    log(`writing the ${o.sizeMiB} MiB source file`);
    await writeSourceFile(src, o.sizeMiB, 42);
    for (let i = 1; i <= o.repeat; i++) {
      const dir = join(work, `run-${i}`);
      await fs.mkdir(dir, { recursive: true });
      await fs.chmod(dir, 0o755);
      runs.push(await oneRun({ o, dir, cleanups, src, otherLoad }, i, multiConn));
    }
  } finally {
    await cleanups.runAll(log);
    removeWork();
  }

  const report: VolumeReport = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    revision: (await run('git', ['rev-parse', '--short', 'HEAD'], { cwd: projectRoot, timeoutMs: 10_000 }).catch(() => ({ stdout: 'unknown' }))).stdout.trim(),
    command, machine: await describeMachine(), workFs: await filesystemType(o.work),
    versions: {
      nbdkit: await versionOf('nbdkit', ['--version']), nbdcopy: await versionOf('nbdcopy', ['--version']),
      'qemu-io': await versionOf('qemu-io', ['--version']), PostgreSQL: await versionOf(join(PG_BIN, 'postgres'), ['--version']),
    },
    sizeMiB: o.sizeMiB, imageVolume: o.imageSize, pgbench: pgbenchCommands(PGBENCH), multiConn, runs,
    notes: [
      `Before every measured step the bench runs \`sync\` and waits (at most ${o.quietWaitMs / 1000} s) until the machine uses under ${QUIET_CORES} core, so a tap still committing its journal does not slow the next step. ` +
        `Busy cores just before the steps (other processes included): ${otherLoad.length > 0 ? `${Math.min(...otherLoad).toFixed(2)} to ${Math.max(...otherLoad).toFixed(2)}` : '-'}; 1-minute load average ${loadBefore.toFixed(2)} before the bench, ${os.loadavg()[0].toFixed(2)} after.` +
        (Math.max(...otherLoad) > 0.5 ? ' **The machine was shared with other work during this run: all figures are disturbed, ratios less so than absolute figures (both servers ran under the same conditions, one after the other).**' : ''),
      'Reads use `qemu-io -f raw -r` (read-only open; the image export is read-only, and the live tap is read the same way).',
      ...(o.repeat > 1 ? [`${o.repeat} runs: throughput shows the fastest run, pgbench and random reads the best run, image readiness the slowest attempt.`] : []),
    ],
  };
  console.log(`\n${volumeTables(report)}\n`);
  if (o.out) {
    await writeSection(o.out, renderVolumeSection(report), VOLUME_MARKS);
    log(`wrote ${o.out}`);
  }
}

await main().catch((e: unknown) => {
  killRunning();
  process.stderr.write(`bench:volume: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
