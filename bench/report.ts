/**
 * Formatting the benchmark's figures (absolute table, ratios against restic and borg, the
 * targets) and writing them into docs/PERFORMANCE.md between the markers
 * <!-- bench:backup:start --> and <!-- bench:backup:end -->, keeping the rest of the file.
 * `table` and `writeSection` are generic: other benches (bench/volume.ts) pass their own markers.
 */
import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import type { Machine } from './system.js';
import type { ToolName } from './tools.js';

export const START_MARK = '<!-- bench:backup:start -->';
export const END_MARK = '<!-- bench:backup:end -->';

export interface Phase {
  seconds: number;
  peakRssKiB: number;
  /** User + system CPU seconds. */
  cpuSeconds: number;
  /** CPU seconds the whole machine was busy meanwhile (see proc.ts machineBusy). */
  machineBusySeconds: number;
  /** Wall seconds of this phase in every run (one entry without --repeat). */
  runs: number[];
  /** Bytes of the tree this phase covers (throughput = bytes / seconds). */
  treeBytes: number;
}

export interface ToolFigures {
  name: ToolName;
  version: string;
  commands: string;
  first: Phase;
  incremental: Phase;
  restore: Phase;
  sizeAfterFirst: number;
  sizeAfterIncremental: number;
  /** Result of comparing the restored tree with the mutated tree. */
  verified: string;
}

export interface BenchReport {
  date: string;
  machine: Machine;
  workFs: string;
  corpus: { path: string; bytes: number; files: number; dirs: number; shared: boolean };
  mutated: { bytes: number; files: number; how: string; summary: string };
  command: string;
  tools: ToolFigures[];
  notes: string[];
}

const MB = 1e6;
const mb = (b: number): string => (b / MB).toFixed(1);
const sec = (s: number): string => s.toFixed(2);
const rate = (p: Phase): string => (p.treeBytes / MB / p.seconds).toFixed(1);
const rssMB = (kib: number): string => ((kib * 1024) / MB).toFixed(0);
const ratio = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(2)}x` : '-');

/** A Markdown table; columns right-aligned unless `align` says 'l'. */
export function table(head: string[], rows: string[][], align?: ('l' | 'r')[]): string {
  const sep = head.map((_, i) => ((align?.[i] ?? 'r') === 'l' ? ':---' : '---:'));
  return [head, sep, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

/** Cores' worth of CPU used by everything else on the machine during a phase. */
export function otherCores(p: Phase): number {
  const v = (p.machineBusySeconds - p.cpuSeconds) / p.seconds;
  return Number.isFinite(v) ? Math.max(0, v) : NaN;
}

export function figuresTable(r: BenchReport): string {
  const repeated = r.tools.some((t) => t.first.runs.length > 1);
  const rows: string[][] = [];
  for (const t of r.tools) {
    const phases: [string, Phase][] = [['first backup', t.first], ['incremental backup', t.incremental], ['restore latest', t.restore]];
    for (const [label, p] of phases) {
      rows.push([t.name, label, sec(p.seconds), rate(p), sec(p.cpuSeconds), `${((100 * p.cpuSeconds) / p.seconds).toFixed(0)}%`,
        rssMB(p.peakRssKiB), otherCores(p).toFixed(2), ...(repeated ? [p.runs.map(sec).join(', ')] : [])]);
    }
  }
  return table(['Tool', 'Phase', 'Wall s', 'MB/s', 'CPU s', 'CPU/wall', 'Peak RSS MB', 'Other load (cores)', ...(repeated ? ['All runs, wall s'] : [])],
    rows, ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'l']);
}

export function sizeTable(r: BenchReport): string {
  return table(
    ['Tool', 'Version', 'Repo after first backup MB', 'Repo after incremental MB', '% of corpus', 'Restore verified'],
    r.tools.map((t) => [t.name, t.version, mb(t.sizeAfterFirst), mb(t.sizeAfterIncremental),
      `${((100 * t.sizeAfterIncremental) / r.mutated.bytes).toFixed(1)}%`, t.verified]),
    ['l', 'l', 'r', 'r', 'r', 'l'],
  );
}

interface Target { metric: string; vsRestic: string; vsBorg: string; target: string; status: string }

export function targets(r: BenchReport): Target[] {
  const get = (n: ToolName): ToolFigures | undefined => r.tools.find((t) => t.name === n);
  const us = get('tidemark');
  const restic = get('restic');
  const borg = get('borg');
  if (!us) return [];
  const out: Target[] = [];
  const speed = (metric: string, pick: (t: ToolFigures) => Phase, min: number): void => {
    const vs = (o?: ToolFigures): number => (o ? pick(o).seconds / pick(us).seconds : NaN);
    const x = vs(restic);
    out.push({
      metric, vsRestic: ratio(x), vsBorg: ratio(vs(borg)), target: `>= ${min}x restic`,
      status: Number.isFinite(x) ? (x >= min ? 'PASS' : 'MISS') : 'n/a',
    });
  };
  speed('First backup throughput (their time / ours)', (t) => t.first, 1.5);
  speed('Incremental backup throughput (their time / ours)', (t) => t.incremental, 2);
  speed('Restore throughput (their time / ours)', (t) => t.restore, 1.5);
  // CPU time is much less sensitive to other load on the machine than wall time
  const cpu = (metric: string, pick: (t: ToolFigures) => Phase): void => {
    const vs = (o?: ToolFigures): string => (o ? ratio(pick(o).cpuSeconds / pick(us).cpuSeconds) : '-');
    out.push({ metric, vsRestic: vs(restic), vsBorg: vs(borg), target: '(information)', status: '-' });
  };
  cpu('First backup CPU time (theirs / ours)', (t) => t.first);
  cpu('Incremental backup CPU time (theirs / ours)', (t) => t.incremental);
  cpu('Restore CPU time (theirs / ours)', (t) => t.restore);
  const size = (o?: ToolFigures): number => (o ? us.sizeAfterIncremental / o.sizeAfterIncremental : NaN);
  const sx = size(restic);
  out.push({
    metric: 'Vault size after both backups (ours / theirs)', vsRestic: ratio(sx), vsBorg: ratio(size(borg)),
    target: '<= 1.00x restic', status: Number.isFinite(sx) ? (sx <= 1 ? 'PASS' : 'MISS') : 'n/a',
  });
  const peak = Math.max(us.first.peakRssKiB, us.incremental.peakRssKiB, us.restore.peakRssKiB);
  const peakOf = (o?: ToolFigures): string => (o ? `${rssMB(Math.max(o.first.peakRssKiB, o.incremental.peakRssKiB, o.restore.peakRssKiB))} MB` : '-');
  out.push({
    metric: `tidemark peak RSS, any phase: ${rssMB(peak)} MB`, vsRestic: peakOf(restic), vsBorg: peakOf(borg),
    target: '< 300 MB', status: (peak * 1024) / MB < 300 ? 'PASS' : 'MISS',
  });
  return out;
}

export function targetsTable(r: BenchReport): string {
  return table(['Metric', 'vs restic', 'vs borg', 'Target', 'Status'],
    targets(r).map((t) => [t.metric, t.vsRestic, t.vsBorg, t.target, t.status === '-' ? '-' : `**${t.status}**`]), ['l', 'r', 'r', 'l', 'l']);
}

export function renderSection(r: BenchReport): string {
  const m = r.machine;
  const lines = [
    START_MARK,
    '## Backup and restore vs restic and borg',
    '',
    `Measured ${r.date} by \`bench/run.ts\` with:`,
    '',
    '```sh',
    r.command,
    '```',
    '',
    `- **Machine:** ${m.nproc} CPU(s) (${m.cpuModel}), ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB memory, ${m.kernel}, Node ${m.node}; work directory on ${r.workFs}.`,
    `- **Corpus:** \`${r.corpus.path}\`, ${mb(r.corpus.bytes)} MB in ${r.corpus.files} files and ${r.corpus.dirs} directories` +
      (r.corpus.shared
        ? ' (built by the shared generator `bash ../shared/bench/corpus.sh DIR SIZE_MB`: small source files, logs, CSV/JSON, incompressible blobs, a sparse disk image, duplicates and near-duplicates). '
        : '. ') +
      'The bench copies it with `cp -a` into its work directory and backs up the copy.',
    `- **Mutation before the incremental backup:** ${r.mutated.how}: ${r.mutated.summary}. Mutated tree: ${mb(r.mutated.bytes)} MB in ${r.mutated.files} files.`,
    '- **Method:** all tools run in the same bench run, on the same copy, one at a time (tidemark, restic, borg, in that order, per phase: all first backups, then the mutation, then all incremental backups, then all restores). ' +
      'Wall time is that of the whole CLI process (start-up included); peak RSS is GNU time\'s `%M`, CPU s its `%U` + `%S` (user + system, all threads; CPU/wall above 100% means more than one core busy). ' +
      '`sync` runs (untimed) before each measured command; no caches are dropped, so the corpus and the repositories are read from a warm page cache. ' +
      'MB/s is the size of the whole tree (first backup: corpus; incremental and restore: mutated tree) divided by the wall time. MB = 10^6 bytes. ' +
      'Repository size is `du -sb` of the vault/repository directory (tidemark\'s includes its SQLite index; restic\'s and borg\'s local caches are outside it and not counted). ' +
      'Each restore is compared file by file (type, mode, size, SHA-256, symlink target) with the mutated tree.',
    '- **Tool settings:** ' + r.tools.map((t) => `${t.name}: \`${t.commands}\``).join('; ') + '.',
    ...r.notes.map((n) => `- ${n}`),
    '',
    '### Figures',
    '',
    figuresTable(r),
    '',
    sizeTable(r),
    '',
    '### Ratios and targets',
    '',
    'Throughput ratio = their wall time / tidemark\'s (above 1 means tidemark is faster); size ratio = tidemark\'s size / theirs (below 1 means tidemark is smaller); ' +
      'CPU-time ratio = their user + system CPU seconds / tidemark\'s (above 1 means tidemark needs less CPU; hardly affected by other load on the machine).',
    '',
    targetsTable(r),
    END_MARK,
  ];
  return lines.join('\n');
}

/** The HTML comments that delimit one bench's section of the performance document. */
export interface SectionMarks { start: string; end: string }

/**
 * Replace (or append) one bench's section of the performance document, keeping everything
 * else; `section` must begin with `marks.start` and end with `marks.end` (default: the backup bench's).
 */
export async function writeSection(file: string, section: string, marks: SectionMarks = { start: START_MARK, end: END_MARK }): Promise<void> {
  let doc: string;
  try {
    doc = await fs.readFile(file, 'utf8');
  } catch {
    doc = '# Performance\n\nMeasured figures. Each section is produced by a benchmark script and says how to reproduce it.\n';
  }
  const s = doc.indexOf(marks.start);
  const e = doc.indexOf(marks.end);
  if (s >= 0 && e > s) {
    doc = doc.slice(0, s) + section + doc.slice(e + marks.end.length);
  } else {
    doc = `${doc.replace(/\s*$/, '')}\n\n${section}\n`;
  }
  await fs.mkdir(dirname(file), { recursive: true });
  await fs.writeFile(file, doc);
}
