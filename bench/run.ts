/**
 * Backup/restore benchmark: tidemark vs restic vs borg on the same corpus, same machine,
 * same run.
 *
 *   npm run bench -- --corpus DIR [--mutate-script PATH] [--work DIR] [--out docs/PERFORMANCE.md]
 *                    [--percent 5] [--seed 1] [--tools tidemark,restic,borg] [--repeat 1]
 *                    [--keep] [--timeout-min 60] [--quiet-wait-min 5] [--cpu-prof DIR]
 *                    [--save-json FILE]
 *
 * The corpus is NOT part of this project. The shared, deterministic corpus used for the
 * published figures is built by the generator next to this project:
 *
 *   bash ../shared/bench/corpus.sh /tmp/corpus 1024          # about 1 GiB, seed 42
 *   npm run bench -- --corpus /tmp/corpus --mutate-script ../shared/bench/mutate.sh
 *
 * Any directory works as a corpus. Without --mutate-script the bench applies its own
 * deterministic mutation of about --percent % of the bytes (bench/mutate.ts: in-place
 * overwrites in large files, appends, new files, deletions, renames); with it, it runs
 * `bash SCRIPT WORKCOPY PERCENT SEED`.
 *
 * What it does: copies the corpus (cp -a) into a fresh work directory under --work (default
 * the system temp dir), then for each tool: init, first backup (timed); applies the
 * mutation to the copy; for each tool: incremental backup (timed); for each tool: restore of
 * the latest point into an empty directory (timed), compared file by file with the mutated
 * tree (a tidemark mismatch fails the bench). Wall time and peak RSS come from running each
 * command under /usr/bin/time; repository sizes from du -sb. restic, borgbackup and time
 * are installed with apt-get when missing. Prints the figures, the ratios and the targets,
 * and writes them into --out (only the section between <!-- bench:backup:start --> and
 * <!-- bench:backup:end -->; --out - writes nothing). Every command is bounded by
 * --timeout-min; the work directory is removed at the end (also on failure) unless --keep.
 *
 * The figures are only as good as the machine is quiet: for each measured command the bench
 * also records how much CPU the rest of the machine used meanwhile ("Other load", from
 * /proc/stat) and warns in the report when it was significant; before each measured command
 * it waits (at most --quiet-wait-min minutes, default 5; 0 = never) until the rest of the
 * machine uses under 0.15 core. --repeat N (at most 10)
 * does N complete runs, each from a fresh copy, and reports the fastest run of each phase.
 *
 * --save-json FILE also writes all the figures as JSON.
 * --cpu-prof DIR runs tidemark under `node --cpu-prof` (profiles in DIR/<phase>/) and prints
 * where it spends its time; the profiler slows tidemark down, so do not publish those figures.
 */
import { promises as fs, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { summarizeProfiles } from './cpuprofile.js';
import { mutateBuiltin } from './mutate.js';
import { duBytes, killRunning, run, runTimed, shellQuote, waitQuiet } from './proc.js';
import { type BenchReport, type Phase, type ToolFigures, figuresTable, otherCores, renderSection, sizeTable, targetsTable, writeSection } from './report.js';
import { describeMachine, ensureTools, filesystemType, parseResticVersion, versionOf } from './system.js';
import { ALL_TOOLS, type Invocation, type Tool, type ToolName, invocationLine, makeTool } from './tools.js';
import { compareSnapshots, snapshotTree, treeStats, type TreeSnapshot } from './tree.js';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const USAGE = `usage: npm run bench -- --corpus DIR [--mutate-script PATH] [--work DIR] [--out FILE|-]
         [--percent 5] [--seed 1] [--tools tidemark,restic,borg] [--repeat 1] [--keep] [--timeout-min 60]
         [--quiet-wait-min 5] [--cpu-prof DIR] [--save-json FILE]
Build the shared corpus first, e.g.: bash ../shared/bench/corpus.sh /tmp/corpus 1024`;

interface Options {
  corpus: string;
  mutateScript?: string;
  work: string;
  out?: string;
  percent: number;
  seed: number;
  tools: ToolName[];
  keep: boolean;
  repeat: number;
  timeoutMs: number;
  quietWaitMs: number;
  cpuProf?: string;
  saveJson?: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      corpus: { type: 'string' },
      'mutate-script': { type: 'string' },
      work: { type: 'string' },
      out: { type: 'string' },
      percent: { type: 'string', default: '5' },
      seed: { type: 'string', default: '1' },
      tools: { type: 'string', default: ALL_TOOLS.join(',') },
      keep: { type: 'boolean', default: false },
      repeat: { type: 'string', default: '1' },
      'timeout-min': { type: 'string', default: '60' },
      'quiet-wait-min': { type: 'string', default: '5' },
      'cpu-prof': { type: 'string' },
      'save-json': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) { console.log(USAGE); process.exit(0); }
  if (!values.corpus) throw new Error(`--corpus DIR is required\n${USAGE}`);
  const num = (name: string, v: string, min: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min}`);
    return n;
  };
  const tools = values.tools.split(',').map((t) => t.trim()).filter(Boolean);
  for (const t of tools) if (!ALL_TOOLS.includes(t as ToolName)) throw new Error(`--tools: unknown tool "${t}" (known: ${ALL_TOOLS.join(', ')})`);
  if (!tools.includes('tidemark')) throw new Error('--tools must include tidemark');
  return {
    corpus: resolve(values.corpus),
    mutateScript: values['mutate-script'] ? resolve(values['mutate-script']) : undefined,
    work: resolve(values.work ?? os.tmpdir()),
    out: values.out === '-' ? undefined : resolve(values.out ?? join(projectRoot, 'docs', 'PERFORMANCE.md')),
    percent: num('percent', values.percent, 0),
    seed: Math.floor(num('seed', values.seed, 0)),
    tools: ALL_TOOLS.filter((t) => tools.includes(t)),
    keep: values.keep,
    repeat: Math.min(10, Math.floor(num('repeat', values.repeat, 1))),
    timeoutMs: num('timeout-min', values['timeout-min'], 1) * 60_000,
    quietWaitMs: num('quiet-wait-min', values['quiet-wait-min'], 0) * 60_000,
    cpuProf: values['cpu-prof'] ? resolve(values['cpu-prof']) : undefined,
    saveJson: values['save-json'] ? resolve(values['save-json']) : undefined,
  };
}

/** Below this many cores used by others (over 2 s), the machine counts as quiet. */
const QUIET_CORES = 0.15;

const log = (msg: string): void => { process.stderr.write(`bench: ${msg}\n`); };

type CorpusStats = Awaited<ReturnType<typeof treeStats>>;

/** What one complete run (copy, first backups, mutation, incrementals, restores) measured. */
interface RunOutcome {
  figures: ToolFigures[];
  mutated: BenchReport['mutated'];
  /** Differences between tidemark's restore and the mutated tree (empty when equal). */
  failures: string[];
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const o = parseOptions(argv);
  const command = `npm run bench -- ${argv.map(shellQuote).join(' ')}`;

  const st = await fs.stat(o.corpus).catch(() => undefined);
  if (!st?.isDirectory() || (await fs.readdir(o.corpus)).length === 0) {
    throw new Error(`corpus ${o.corpus} is missing or empty; build one with: bash ../shared/bench/corpus.sh ${o.corpus} 1024`);
  }
  if (o.mutateScript) await fs.access(o.mutateScript).catch(() => { throw new Error(`--mutate-script ${o.mutateScript} not found`); });
  await fs.access(join(projectRoot, 'dist', 'src', 'cli', 'main.js')).catch(() => { throw new Error('tidemark is not built: run `npm run build` (or use `npm run bench`)'); });

  await ensureTools({ restic: o.tools.includes('restic'), borg: o.tools.includes('borg') });

  log(`measuring corpus ${o.corpus}`);
  const corpus = await treeStats(o.corpus);
  // space: the copy, up to three repositories (each at most about the tree) and one restore
  const need = corpus.bytes * (2 + o.tools.length) * 1.1;
  await fs.mkdir(o.work, { recursive: true });
  const free = await fs.statfs(o.work).then((s) => s.bavail * s.bsize);
  if (free < need) throw new Error(`not enough space in ${o.work}: ${(free / 1e9).toFixed(1)} GB free, about ${(need / 1e9).toFixed(1)} GB needed`);

  const versions = await toolVersions(o.tools);
  const loadBefore = os.loadavg();
  const outcomes: RunOutcome[] = [];
  let work = '';
  const cleanup = (): void => {
    if (!work) return;
    if (o.keep) log(`keeping work directory ${work}`);
    else { log(`removing work directory ${work}`); rmSync(work, { recursive: true, force: true }); }
    work = '';
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => { log(`${sig}: stopping`); killRunning(); cleanup(); process.exit(130); });
  }
  for (let i = 1; i <= o.repeat; i++) {
    work = await fs.mkdtemp(join(o.work, 'tidemark-bench-'));
    if (o.repeat > 1) log(`run ${i} of ${o.repeat} in ${work}`);
    try {
      outcomes.push(await benchIn(work, o, corpus, versions));
    } catch (e) {
      if (!o.keep) log('failed; rerun with --keep to inspect the work directory');
      throw e;
    } finally {
      cleanup();
    }
    if (outcomes[outcomes.length - 1].failures.length > 0) break;
  }
  const loadAfter = os.loadavg();

  const last = outcomes[outcomes.length - 1];
  const figures = aggregate(outcomes);
  const notes: string[] = [];
  if (o.repeat > 1) notes.push(`**Repeats:** ${outcomes.length} complete runs, each from a fresh copy and fresh repositories; each phase shows the run with the shortest wall time (all runs' times in the last column) except for peak RSS, which is the highest of all runs; sizes are from the last run.`);
  notes.push(`**Load:** 1-minute load average ${loadBefore[0].toFixed(2)} before the bench and ${loadAfter[0].toFixed(2)} after it; "Other load" is the CPU the rest of the machine used (or the hypervisor stole) during each measured command, in cores, from /proc/stat.`);
  if (o.quietWaitMs > 0) notes.push(`**Quiet machine:** before each measured command the bench waited (at most ${o.quietWaitMs / 60_000} min) until the rest of the machine used less than ${QUIET_CORES} core over 2 s.`);
  const worst = Math.max(...figures.flatMap((t) => [t.first, t.incremental, t.restore]).map(otherCores));
  if (worst > 0.25) notes.push(`**Warning: other processes were using up to ${worst.toFixed(2)} core(s) during some measurements; those figures are disturbed (see "Other load").**`);
  if (o.cpuProf) notes.push('**tidemark ran under `node --cpu-prof`: its figures include profiler overhead.**');

  const report: BenchReport = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    machine: await describeMachine(),
    workFs: await filesystemType(o.work),
    corpus: {
      path: o.corpus, bytes: corpus.bytes, files: corpus.files, dirs: corpus.dirs,
      // the layout of ../shared/bench/corpus.sh
      shared: (await Promise.all(['images/disk.img', 'blobs/large', 'src/include', 'logs/app.log'].map((p) => fs.access(join(o.corpus, p)).then(() => true, () => false)))).every(Boolean),
    },
    mutated: last.mutated,
    command,
    tools: figures,
    notes,
  };
  if (o.saveJson) await fs.writeFile(o.saveJson, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\n${figuresTable(report)}\n\n${sizeTable(report)}\n\n${targetsTable(report)}\n`);

  if (o.cpuProf) {
    for (const phase of ['first', 'incremental', 'restore']) {
      for (const s of await summarizeProfiles(join(o.cpuProf, phase)).catch(() => [])) console.log(`[${phase}] ${s}\n`);
    }
  }
  if (last.failures.length > 0) {
    const f = last.failures;
    throw new Error(`tidemark's restore differs from the mutated tree:\n  ${f.slice(0, 50).join('\n  ')}${f.length > 50 ? `\n  ... ${f.length - 50} more` : ''}`);
  }
  if (o.out) {
    await writeSection(o.out, renderSection(report));
    log(`wrote ${o.out}`);
  }
}

/** Per tool and phase, the run with the shortest wall time; every run's time kept in `runs`. */
function aggregate(outcomes: RunOutcome[]): ToolFigures[] {
  const last = outcomes[outcomes.length - 1].figures;
  return last.map((t) => {
    const all = outcomes.map((oc) => oc.figures.find((f) => f.name === t.name) as ToolFigures);
    const best = (pick: (f: ToolFigures) => Phase): Phase => {
      const phases = all.map(pick);
      const b = phases.reduce((x, y) => (y.seconds < x.seconds ? y : x));
      // peak RSS: the highest of all runs (a peak, not a best case)
      return { ...b, peakRssKiB: Math.max(...phases.map((p) => p.peakRssKiB)), runs: phases.map((p) => p.seconds) };
    };
    const verified = [...new Set(all.map((f) => f.verified))].join(' / ');
    return { ...t, first: best((f) => f.first), incremental: best((f) => f.incremental), restore: best((f) => f.restore), verified };
  });
}

async function toolVersions(tools: ToolName[]): Promise<Record<ToolName, string>> {
  return {
    tidemark: await tidemarkVersion(),
    restic: tools.includes('restic') ? await versionOf('restic', ['version']) : '',
    borg: tools.includes('borg') ? await versionOf('borg', ['--version']) : '',
  };
}

async function benchIn(work: string, o: Options, corpus: CorpusStats, versions: Record<ToolName, string>): Promise<RunOutcome> {
  const data = join(work, 'data');
  log(`copying the corpus (cp -a) to ${data}`);
  await run('cp', ['-a', '--', o.corpus, data], { timeoutMs: o.timeoutMs });

  const rv = parseResticVersion(versions.restic);
  const nodeFlags = (phase: string): string[] => (o.cpuProf && phase !== 'init' ? ['--cpu-prof', '--cpu-prof-dir', join(o.cpuProf, phase)] : []);
  const tools = o.tools.map((n) => makeTool(n, { work, data, projectRoot, resticV2: rv !== undefined && (rv[0] > 0 || rv[1] >= 14), nodeFlags }));

  const timed = async (t: Tool, phase: string, inv: Invocation, treeBytes: number): Promise<Phase> => {
    await run('sync', []);
    if (o.quietWaitMs > 0) {
      const q = await waitQuiet(QUIET_CORES, o.quietWaitMs);
      if (q.waitedMs > 2500 || q.load >= QUIET_CORES) log(`waited ${(q.waitedMs / 1000).toFixed(0)} s for a quiet machine; other load now ${q.load.toFixed(2)} cores`);
    }
    log(`${t.name}: ${phase}: ${invocationLine(inv)}`);
    const r = await runTimed(inv.cmd, inv.args, { cwd: inv.cwd, env: inv.env, timeoutMs: o.timeoutMs });
    const p: Phase = { seconds: r.seconds, peakRssKiB: r.peakRssKiB, cpuSeconds: r.cpuSeconds, machineBusySeconds: r.machineBusySeconds, treeBytes, runs: [r.seconds] };
    log(`${t.name}: ${phase}: ${r.seconds.toFixed(2)} s, CPU ${r.cpuSeconds.toFixed(2)} s, peak RSS ${(r.peakRssKiB / 1024).toFixed(0)} MiB, other load ${otherCores(p).toFixed(2)} cores`);
    if (t.name === 'tidemark') log(`tidemark: ${phase}: ${r.stdout.replace(/\s+/g, ' ').trim()}`);
    return p;
  };

  const fig = new Map<ToolName, Partial<ToolFigures>>();
  // (a) first backups
  for (const t of tools) {
    const init = t.init();
    log(`${t.name}: init: ${invocationLine(init)}`);
    await run(init.cmd, init.args, { cwd: init.cwd, env: init.env, timeoutMs: o.timeoutMs });
    const first = await timed(t, 'first backup', t.backup(1), corpus.bytes);
    fig.set(t.name, { name: t.name, version: versions[t.name], commands: t.describe(), first, sizeAfterFirst: await duBytes(t.repo) });
  }

  // (b) mutation, then incremental backups
  let how: string;
  let summary: string;
  if (o.mutateScript) {
    how = `\`bash ${o.mutateScript} WORKCOPY ${o.percent} ${o.seed}\``;
    log(`mutating: bash ${o.mutateScript} ${data} ${o.percent} ${o.seed}`);
    const r = await run('bash', [o.mutateScript, data, String(o.percent), String(o.seed)], { timeoutMs: o.timeoutMs });
    summary = r.stderr.trim().split('\n').filter((l) => l.startsWith('mutate:')).pop()?.replace(/^mutate:\s*/, '') ?? r.stderr.trim();
  } else {
    how = `built-in mutation (bench/mutate.ts), ${o.percent}% with seed ${o.seed}`;
    log(`mutating: ${how}`);
    const m = await mutateBuiltin(data, o.percent, o.seed);
    summary = `overwritten=${m.overwritten} appended=${m.appended} new=${m.created} (${m.createdFiles} files) deleted=${m.deleted} (${m.deletedFiles} files) ` +
      `renamed_files=${m.renamedFiles} renamed_dir=${m.renamedDir}; changed_bytes=${m.changedBytes} (${((100 * m.changedBytes) / m.totalBytes).toFixed(2)}%)`;
  }
  log(`mutate: ${summary}`);
  await run('sync', []);
  const mutated = await treeStats(data);
  log('hashing the mutated tree');
  const expected = await snapshotTree(data);

  for (const t of tools) {
    const f = fig.get(t.name) as Partial<ToolFigures>;
    f.incremental = await timed(t, 'incremental backup', t.backup(2), mutated.bytes);
    f.sizeAfterIncremental = await duBytes(t.repo);
  }

  // (c) restores of the latest point, each verified
  const failures: string[] = [];
  for (const t of tools) {
    const f = fig.get(t.name) as Partial<ToolFigures>;
    const out = join(work, `restore-${t.name}`);
    await t.prepareRestore(out);
    f.restore = await timed(t, 'restore', t.restore(out), mutated.bytes);
    f.verified = await verify(t, out, expected, failures);
    await fs.rm(out, { recursive: true, force: true });
  }
  return {
    figures: tools.map((t) => fig.get(t.name) as ToolFigures),
    mutated: { bytes: mutated.bytes, files: mutated.files, how, summary },
    failures,
  };
}

async function verify(t: Tool, out: string, expected: TreeSnapshot, failures: string[]): Promise<string> {
  log(`${t.name}: verifying the restore`);
  const diff = compareSnapshots(expected, await snapshotTree(t.restoredRoot(out)));
  const mt = diff.mtimeDiffers > 0 ? `; ${diff.mtimeDiffers} mtime(s) differ` : '';
  if (diff.problems.length === 0) {
    log(`${t.name}: restore matches the mutated tree${mt}`);
    return `yes${mt}`;
  }
  log(`${t.name}: restore DIFFERS from the mutated tree (${diff.problems.length} problem(s)), first: ${diff.problems.slice(0, 5).join('; ')}`);
  if (t.name === 'tidemark') failures.push(...diff.problems);
  return `NO: ${diff.problems.length} difference(s), e.g. ${diff.problems[0]}`;
}

async function tidemarkVersion(): Promise<string> {
  const pkg = JSON.parse(await fs.readFile(join(projectRoot, 'package.json'), 'utf8')) as { version: string };
  let rev = '';
  try {
    rev = (await run('git', ['-C', projectRoot, 'rev-parse', '--short', 'HEAD'])).stdout.trim();
    const dirty = (await run('git', ['-C', projectRoot, 'status', '--porcelain', '--', 'src'])).stdout.trim() !== '';
    rev = ` (${rev}${dirty ? ', src modified' : ''})`;
  } catch { /* not a git checkout */ }
  return `tidemark ${pkg.version}${rev}`;
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: FAILED: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
