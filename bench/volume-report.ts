/**
 * Figures of the volume bench (bench/volume.ts), the acceptance targets they are held to,
 * and the Markdown section written into docs/PERFORMANCE.md between
 * <!-- bench:volume:start --> and <!-- bench:volume:end -->.
 */
import type { Machine } from './system.js';
import type { PgbenchResult } from './volume-pg.js';
import { table } from './report.js';

export const VOLUME_MARKS = { start: '<!-- bench:volume:start -->', end: '<!-- bench:volume:end -->' };

/** Wall seconds of the three nbdcopy runs against one server, in every repetition. */
export interface CopyFigures {
  write: number[]; read: number[]; writeFlush: number[];
  /** write, until the tap's write log is folded into the journal (nbdkit: its write) */
  folded?: number[];
}

/** One qemu-io invocation of many 4 KiB reads. */
export interface ReadFigures {
  count: number;
  /** Sum of the per-read times qemu-io reports (1 / its ops/sec per command): no start-up, no connect. */
  opsSeconds: number;
  /** Wall time of the whole qemu-io process. */
  wallSeconds: number;
}

/** Everything one bench run measured. */
export interface VolumeRun {
  nbdkit: CopyFigures;
  tap: CopyFigures;
  pg: { nbdkit: PgbenchResult; tap: PgbenchResult } | null;
  /** Spawn of `image --listen` to its ready line, and to the first successful qemu-io read, seconds (one per attempt). */
  imageReady: { readyLine: number; firstRead: number }[];
  reads: { live: ReadFigures; image: ReadFigures };
}

/** The report: what ran where, and the runs. */
export interface VolumeReport {
  date: string;
  revision: string;
  command: string;
  machine: Machine;
  workFs: string;
  versions: Record<string, string>;
  sizeMiB: number;
  imageVolume: string;
  pgbench: string;
  multiConn: { nbdkit: string; tap: string };
  runs: VolumeRun[];
  notes: string[];
}

const MiB = 1024 * 1024;
const min = (xs: number[]): number => Math.min(...xs);
const max = (xs: number[]): number => Math.max(...xs);
const fmt = (x: number, d = 2): string => (Number.isFinite(x) ? x.toFixed(d) : '-');
const pct = (x: number): string => (Number.isFinite(x) ? `${(100 * x).toFixed(0)}%` : '-');
const status = (ok: boolean | undefined): string => (ok === undefined ? 'n/a' : ok ? '**PASS**' : '**MISS**');

/** One row of the targets table. */
interface Target { metric: string; tap: string; reference: string; ratio: string; target: string; status: string }

function copyRows(r: VolumeReport): { rows: string[][]; targets: Target[] } {
  const bytes = r.sizeMiB * MiB;
  const all = (pick: (c: CopyFigures) => number[], who: 'nbdkit' | 'tap'): number[] => r.runs.flatMap((x) => pick(x[who]));
  const rate = (s: number): number => bytes / MiB / s;
  const phases: [string, (c: CopyFigures) => number[], number | undefined][] = [
    ['write: nbdcopy SRC URI', (c) => c.write, 0.7],
    ['read: nbdcopy URI /dev/null', (c) => c.read, 0.7],
    ['write with --flush: nbdcopy --flush SRC URI', (c) => c.writeFlush, undefined],
    ['write until in the journal: nbdcopy SRC URI, then until the tap has folded its write log (nbdkit: the write)', (c) => c.folded ?? c.write, undefined],
  ];
  const rows: string[][] = [];
  const targets: Target[] = [];
  for (const [label, pick, goal] of phases) {
    const k = rate(min(all(pick, 'nbdkit')));
    const t = rate(min(all(pick, 'tap')));
    rows.push([label, fmt(min(all(pick, 'nbdkit'))), fmt(k, 0), fmt(min(all(pick, 'tap'))), fmt(t, 0), pct(t / k),
      r.runs.length > 1 ? `${all(pick, 'nbdkit').map((s) => fmt(s)).join(', ')} / ${all(pick, 'tap').map((s) => fmt(s)).join(', ')}` : '']);
    targets.push({ metric: `nbdcopy ${label.split(':')[0]} throughput, tap / nbdkit file`, tap: `${fmt(t, 0)} MiB/s`, reference: `${fmt(k, 0)} MiB/s`, ratio: pct(t / k),
      target: goal === undefined ? '(information)' : `>= ${pct(goal)}`, status: goal === undefined ? '-' : status(t / k >= goal) });
  }
  return { rows, targets };
}

/** The targets of the issue, each with the figures it is judged on. */
export function volumeTargets(r: VolumeReport): Target[] {
  const out = copyRows(r).targets;
  const pgs = r.runs.map((x) => x.pg).filter((p): p is NonNullable<VolumeRun['pg']> => p !== null);
  if (pgs.length > 0) {
    const tap = max(pgs.map((p) => p.tap.tps));
    const ref = max(pgs.map((p) => p.nbdkit.tps));
    out.push({ metric: 'pgbench TPS, tap / nbdkit file', tap: fmt(tap, 0), reference: fmt(ref, 0), ratio: pct(tap / ref), target: '>= 80%', status: status(tap / ref >= 0.8) });
  } else {
    out.push({ metric: 'pgbench TPS, tap / nbdkit file', tap: '-', reference: '-', ratio: '-', target: '>= 80%', status: 'n/a' });
  }
  // the slowest attempt of all counts: "ready in under a second" must hold every time
  const ready = max(r.runs.flatMap((x) => x.imageReady.map((a) => a.firstRead)));
  out.push({ metric: `image --listen of a ${r.imageVolume} volume: spawn to first 4 KiB read (slowest attempt)`, tap: `${fmt(ready, 3)} s`, reference: '-', ratio: '-', target: '< 1 s', status: status(ready < 1) });
  const rate = (f: ReadFigures): number => f.count / f.opsSeconds;
  const live = max(r.runs.map((x) => rate(x.reads.live)));
  const image = max(r.runs.map((x) => rate(x.reads.image)));
  out.push({ metric: 'random 4 KiB reads, image / live tap (reads/s)', tap: fmt(image, 0), reference: fmt(live, 0), ratio: pct(image / live), target: '>= 50%', status: status(image / live >= 0.5) });
  return out;
}

/** The figures and targets as Markdown tables (printed to the terminal too). */
export function volumeTables(r: VolumeReport): string {
  const repeated = r.runs.length > 1;
  const copy = copyRows(r);
  const copyTable = table(['nbdcopy, whole export', 'nbdkit file s', 'nbdkit MiB/s', 'tap s', 'tap MiB/s', 'tap / nbdkit', ...(repeated ? ['all runs, s (nbdkit / tap)'] : [])],
    copy.rows.map((row) => (repeated ? row : row.slice(0, -1))), ['l', 'r', 'r', 'r', 'r', 'r', 'l']);
  const pgRows = r.runs.flatMap((x, i) => (x.pg ? [['nbdkit file', x.pg.nbdkit], ['tidemark tap', x.pg.tap]] as const : []).map(([who, p]) =>
    [`${repeated ? `run ${i + 1}: ` : ''}${who}`, fmt(p.tps, 1), String(p.transactions), fmt(p.latencyMs, 2), fmt(p.initSeconds, 1)]));
  const pgTable = table(['pgbench on ext4 (nbdfuse + losetup)', 'TPS', 'Transactions', 'Latency avg ms', 'pgbench -i s'], pgRows, ['l', 'r', 'r', 'r', 'r']);
  const readyTable = table(['image --listen, attempt', 'spawn to ready line s', 'spawn to first 4 KiB read s'],
    r.runs.flatMap((x, i) => x.imageReady.map((a, j) => [`${repeated ? `run ${i + 1}, ` : ''}${j + 1}`, fmt(a.readyLine, 3), fmt(a.firstRead, 3)])), ['l', 'r', 'r']);
  const readRows = r.runs.flatMap((x, i) => ([['live tap', x.reads.live], ['image --at latest', x.reads.image]] as const).map(([who, f]) =>
    [`${repeated ? `run ${i + 1}: ` : ''}${who}`, String(f.count), fmt(f.count / f.opsSeconds, 0), fmt((1e6 * f.opsSeconds) / f.count, 0), fmt(f.wallSeconds, 2)]));
  const readTable = table(['Random 4 KiB reads (qemu-io)', 'Reads', 'Reads/s (qemu-io per-read times)', 'Mean µs per read', 'qemu-io wall s'], readRows, ['l', 'r', 'r', 'r', 'r']);
  const targets = table(['Target', 'Tidemark', 'Reference', 'Ratio', 'Target', 'Status'],
    volumeTargets(r).map((t) => [t.metric, t.tap, t.reference, t.ratio, t.target, t.status]), ['l', 'r', 'r', 'r', 'l', 'l']);
  return [copyTable, pgTable, readyTable, readTable, '### Targets', targets].join('\n\n');
}

/** The whole section, markers included. */
export function renderVolumeSection(r: VolumeReport): string {
  const m = r.machine;
  return [
    VOLUME_MARKS.start,
    '## Volume tap and images vs nbdkit file',
    '',
    `Measured ${r.date} (tidemark ${r.revision}) by \`bench/volume.ts\` with:`,
    '',
    '```sh',
    r.command,
    '```',
    '',
    `- **Machine:** ${m.nproc} CPU(s) (${m.cpuModel}), ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB memory, ${m.kernel}, Node ${m.node}; work directory (backing files, vault, sockets) on ${r.workFs}.`,
    `- **Tools:** ${Object.entries(r.versions).map(([k, v]) => `${k}: ${v}`).join('; ')}.`,
    `- **Throughput:** a ${r.sizeMiB} MiB source file (even MiB AES-CTR keystream, odd MiB log-like text; deterministic) copied onto a fresh sparse ${r.sizeMiB} MiB backing file served by \`nbdkit file\` and by \`tidemark protect-volume --size ${r.sizeMiB}M\` (default: not --sync, journal committed every 200 ms; each tap in a new, empty vault), in that order, with the same nbdcopy flags: write \`nbdcopy SRC URI\`, read \`nbdcopy URI /dev/null\`, then write \`nbdcopy --flush SRC URI\` onto another fresh backing file. ` +
      'Without --flush, nbdkit\'s write is done once the data is in the page cache; the tap\'s once it is in the page cache and appended to the group\'s write log (synced every 200 ms). ' +
      'With --flush both end only once everything is on disk (nbdkit: fsync of the file; the tap: fsync of the backing file and of its write log); both rows are shown. ' +
      'The tap folds its write log into the journal (chunks, packs, index) after the burst; the last row times the write until that is done (tap status polled; up to ~1 s late). ' +
      `Multi-conn advertised (nbdinfo --can multi-conn): nbdkit ${r.multiConn.nbdkit}, tap ${r.multiConn.tap}. MiB/s = ${r.sizeMiB} MiB / wall seconds of nbdcopy.`,
    `- **PostgreSQL:** ext4 on nbdfuse + losetup of each export (fresh 2 GiB backing file), PostgreSQL 15 \`initdb\` on it, \`${r.pgbench}\` (4 clients over unix sockets), same for both servers.`,
    `- **Images:** a ${r.imageVolume} volume (\`protect-volume --size ${r.imageVolume}\`) gets the ${r.sizeMiB} MiB source written with nbdcopy; 2000 distinct random 4 KiB-aligned offsets in that region are read by one \`qemu-io -f raw -r -c 'read OFF 4k' ...\` (2000 \`-c\`) from the live tap, then the tap is stopped (SIGINT) and the same reads go to \`tidemark image G --at latest --listen\`. ` +
      'Ready time: from spawning `image --listen` until `qemu-io -f raw -r -c \'read 0 4k\' URI`, started once the ready line is printed, first succeeds (each attempt a new image process).',
    ...r.notes.map((n) => `- ${n}`),
    '',
    volumeTables(r),
    VOLUME_MARKS.end,
  ].join('\n');
}
