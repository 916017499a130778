/**
 * Sustained-load measurement of the live `tidemark protect DIR` (the embedded default):
 *
 *   npm run build && node dist/bench/live-load.js --work DIR [--seconds 60] [--rate-mb 50]
 *        [--big-files 3] [--big-mib 256] [--edit-share 0.25] [--keep-new 64] [--cpu-prof]
 *        [--drain-seconds 120] [--no-docs | --docs FILE] [--keep] [--dump FILE.json]
 *
 * Sets up a source tree under DIR with a few large files (random bytes), starts
 * `tidemark protect SRC --json`, waits for its baseline, then writes --rate-mb MB/s for
 * --seconds (bench/live-writer.ts: new files of 1–8 MiB, and 4–64 KiB in-place edits inside
 * the large files) while sampling every 200 ms:
 *  - VAULT/run/GROUP.json: rpoLagMs and pendingChanges, as `tidemark status` reads them (a
 *    status older than its heartbeat while changes are pending counts as lag, like status);
 *  - the protect process's VmRSS (/proc/PID/status) and CPU time (/proc/PID/stat).
 * A small canary file is rewritten (temp file + rename) every 200 ms; afterwards `ls --at
 * seq:N` of every capture gives the canary's and the large files' mtimes in that recovery
 * point, hence the end-to-end lag (age of the oldest write not in the latest recovery point)
 * of a small file and of the large files. Then it waits for protect to catch up (at most
 * --drain-seconds), stops it with SIGINT, prints the figures and writes them into
 * docs/PERFORMANCE.md between <!-- bench:live:start --> and <!-- bench:live:end -->
 * (created if missing; everything else in the file is kept).
 */
import { spawn, spawnSync, execFileSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes, randomFillSync } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import type { WriterParams, WriterStats } from './live-writer.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(REPO_ROOT, 'bin', 'tidemark.js');
const DOCS = join(REPO_ROOT, 'docs', 'PERFORMANCE.md');
const START = '<!-- bench:live:start -->';
const END = '<!-- bench:live:end -->';
const GROUP = 'load';
const MiB = 1024 * 1024;
const SAMPLE_MS = 200;

interface LiveEvent {
  event: string; time: string; firstSeq: number | null; lastSeq: number; records: number; filesRead: number; bytesRead: number; bytesNew: number;
  unstable: string[]; torn?: string[]; tornReads?: { path: string; readStartMs: number }[]; ms?: { scan: number; read: number; commit: number }; receivedAt: number;
}
interface RunStatus { updated: string; lastSeq: number; pendingChanges: number; rpoLagMs: number; captures: number }
interface Sample { t: number; phase: 'idle' | 'load' | 'drain'; rawLag: number | null; lag: number | null; pending: number | null; rss: number; cpu: number }
interface LsEntry { name: string; mtime: string; size: number; type: string }

const { values: opt } = parseArgs({
  options: {
    work: { type: 'string' },
    seconds: { type: 'string', default: '60' },
    'rate-mb': { type: 'string', default: '50' },
    'big-files': { type: 'string', default: '3' },
    'big-mib': { type: 'string', default: '256' },
    'edit-share': { type: 'string', default: '0.25' },
    'keep-new': { type: 'string', default: '64' },
    'drain-seconds': { type: 'string', default: '120' },
    'cpu-prof': { type: 'boolean', default: false },
    'no-docs': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    docs: { type: 'string', default: DOCS },
    dump: { type: 'string' },
  },
});
if (!opt.work) {
  process.stderr.write('usage: node dist/bench/live-load.js --work DIR [--seconds 60] [--rate-mb 50] [--big-files 3] [--big-mib 256] ' +
    '[--edit-share 0.25] [--keep-new 64] [--drain-seconds 120] [--cpu-prof] [--no-docs | --docs FILE] [--keep]\n');
  process.exit(2);
}
const seconds = Number(opt.seconds);
const rateMB = Number(opt['rate-mb']);
const bigCount = Number(opt['big-files']);
const bigMiB = Number(opt['big-mib']);
const editShare = Number(opt['edit-share']);
const keepNew = Number(opt['keep-new']);
const drainSeconds = Number(opt['drain-seconds']);
for (const [k, v] of Object.entries({ seconds, rateMB, bigCount, bigMiB, editShare, keepNew, drainSeconds })) {
  if (!Number.isFinite(v) || v < 0) { process.stderr.write(`bad --${k}\n`); process.exit(2); }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (s: string): void => { process.stderr.write(`[live-load] ${s}\n`); };

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
const mb = (b: number): string => (b / 1e6).toFixed(1);
const ms = (x: number): string => (Number.isFinite(x) ? `${Math.round(x)}` : 'n/a');

function rssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch { return 0; }
}
let clk = 100;
try { clk = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100; } catch { /* 100 */ }
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / clk;
  } catch { return NaN; }
}

function cliSync(args: string[], env: NodeJS.ProcessEnv): string {
  const r = spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8', maxBuffer: 256 * MiB, timeout: 600_000 });
  if (r.status !== 0) throw new Error(`tidemark ${args.join(' ')} exited with ${r.status}: ${r.stderr}`);
  return r.stdout;
}
function cli(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolveOut, reject) => {
    const c = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    c.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolveOut(out) : reject(new Error(`tidemark ${args.join(' ')} exited with ${code}: ${err}`))));
  });
}

/**
 * Self time per function over the .cpuprofile files in `dir` (one per thread: the main
 * thread and any worker), idle time left out; the top `top`, and the busy time per file.
 */
function profileSummary(dir: string, top = 14): string[] {
  interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }
  const self = new Map<string, number>();
  const threads: string[] = [];
  let total = 0;
  for (const file of readdirSync(dir).filter((x) => x.endsWith('.cpuprofile')).sort()) {
    const p = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nodes: Node[]; samples?: number[]; timeDeltas?: number[] };
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const samples = p.samples ?? [];
    const deltas = p.timeDeltas ?? [];
    let busy = 0;
    for (let i = 0; i < samples.length; i++) {
      const n = byId.get(samples[i]!);
      if (!n || n.callFrame.functionName === '(idle)') continue;
      const f = n.callFrame;
      const url = f.url.replace(/^.*\/(dist|node_modules)\//, '$1/').replace(/^file:\/\//, '');
      const key = `${f.functionName || '(anonymous)'}${url ? ` ${url}:${f.lineNumber + 1}` : ''}`;
      const us = deltas[i + 1] ?? deltas[i] ?? 0;
      self.set(key, (self.get(key) ?? 0) + us);
      busy += us;
    }
    total += busy;
    threads.push(`${file}: ${(busy / 1e6).toFixed(1)} s busy`);
  }
  return [...threads, '', ...[...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([k, us]) => `${(100 * us / (total || 1)).toFixed(1).padStart(5)}% ${(us / 1e6).toFixed(1).padStart(6)} s  ${k}`)];
}

function fsType(dir: string): string {
  try { return execFileSync('stat', ['-f', '-c', '%T', dir], { encoding: 'utf8' }).trim(); } catch { return 'unknown'; }
}

async function main(): Promise<void> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const root = join(resolve(opt.work!), `live-load-${stamp}`);
  const src = join(root, 'src');
  const vault = join(root, 'vault');
  const profDir = join(root, 'prof');
  mkdirSync(src, { recursive: true });
  const env: NodeJS.ProcessEnv = { ...process.env, TIDEMARK_PASSPHRASE: randomBytes(12).toString('hex'), TIDEMARK_VAULT: vault };
  for (const k of Object.keys(env)) if (k.startsWith('TIDEMARK_') && k !== 'TIDEMARK_PASSPHRASE' && k !== 'TIDEMARK_VAULT') delete env[k];
  if (opt.keep) writeFileSync(join(root, 'passphrase.txt'), `${env.TIDEMARK_PASSPHRASE}\n`, { mode: 0o600 });
  let child: ChildProcessWithoutNullStreams | null = null;
  let worker: Worker | null = null;
  const killChild = (): void => { if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); };
  process.on('exit', killChild);

  try {
    cliSync(['init', '--json'], env);
    log(`setting up ${bigCount} file(s) of ${bigMiB} MiB in ${src}`);
    const bigFiles: string[] = [];
    const buf = Buffer.allocUnsafe(8 * MiB);
    const setupStart = Date.now();
    for (let i = 0; i < bigCount; i++) {
      const f = join(src, `big-${i}.db`);
      const fd = openSync(f, 'w');
      try {
        for (let off = 0; off < bigMiB * MiB; off += buf.length) {
          randomFillSync(buf);
          writeSync(fd, buf, 0, Math.min(buf.length, bigMiB * MiB - off));
        }
      } finally { closeSync(fd); }
      bigFiles.push(f);
    }
    log(`set up in ${((Date.now() - setupStart) / 1000).toFixed(1)} s`);

    // ---- protect ------------------------------------------------------------------------------
    const nodeArgs = opt['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', profDir] : [];
    const events: LiveEvent[] = [];
    let stderr = '';
    const loadAvgBefore = os.loadavg()[0]!;
    const started = Date.now();
    child = spawn(process.execPath, [...nodeArgs, CLI, 'protect', src, '--group', GROUP, '--json'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end();
    let partial = '';
    child.stdout.on('data', (d: Buffer) => {
      partial += d.toString();
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        try { events.push({ ...(JSON.parse(line) as Omit<LiveEvent, 'receivedAt'>), receivedAt: Date.now() }); } catch { /* not JSON */ }
      }
    });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<number | null>((r) => child!.on('close', (code) => r(code)));
    const pid = child.pid!;
    while (!events.some((e) => e.event === 'baseline')) {
      if (child.exitCode !== null) throw new Error(`protect exited before its baseline: ${stderr}`);
      if (Date.now() - started > 900_000) throw new Error('no baseline after 15 minutes');
      await sleep(100);
    }
    const baselineSeconds = (Date.now() - started) / 1000;
    log(`baseline after ${baselineSeconds.toFixed(1)} s; letting the watcher subscribe`);
    await sleep(2000);

    // ---- load ---------------------------------------------------------------------------------
    const statusFile = join(vault, 'run', `${GROUP}.json`);
    const samples: Sample[] = [];
    let phase: Sample['phase'] = 'idle';
    const sample = (): void => {
      let st: RunStatus | null;
      try { st = JSON.parse(readFileSync(statusFile, 'utf8')) as RunStatus; } catch { st = null; }
      const now = Date.now();
      const lag = st ? st.rpoLagMs + (st.pendingChanges > 0 ? Math.max(0, now - Date.parse(st.updated)) : 0) : null;
      samples.push({ t: now, phase, rawLag: st ? st.rpoLagMs : null, lag, pending: st ? st.pendingChanges : null, rss: rssBytes(pid), cpu: cpuSeconds(pid) });
    };
    sample();
    const sampler = setInterval(sample, SAMPLE_MS);
    const canary = join(src, 'canary.txt');
    const canaryTmp = join(src, '.canary.tmp');
    const canaryWrites: number[] = [];
    const writeCanary = (): void => {
      writeFileSync(canaryTmp, `${Date.now()}\n`);
      renameSync(canaryTmp, canary);
      canaryWrites.push(Date.now());
    };

    const params: WriterParams = { src, seconds, rateMB, editShare, bigFiles, keepNew };
    phase = 'load';
    const loadStart = Date.now();
    writeCanary();
    const canaryTimer = setInterval(writeCanary, 200);
    worker = new Worker(new URL('./live-writer.js', import.meta.url), { workerData: params });
    const stats = await new Promise<WriterStats>((resolveStats, reject) => {
      worker!.on('message', (m: WriterStats & { type: string }) => {
        if (m.type === 'progress') log(`${(m.elapsedMs / 1000).toFixed(0)} s: ${mb(m.bytes)} MB written; status lag ${ms(samples.at(-1)?.lag ?? NaN)} ms, RSS ${mb(samples.at(-1)?.rss ?? 0)} MB`);
        if (m.type === 'done') resolveStats(m);
      });
      worker!.on('error', reject);
    });
    clearInterval(canaryTimer);
    const loadEnd = Date.now();
    phase = 'drain';
    log(`writer done: ${mb(stats.bytes)} MB in ${(stats.elapsedMs / 1000).toFixed(1)} s; waiting for protect to catch up`);

    // ---- drain --------------------------------------------------------------------------------
    let drainedAt: number | null = null;
    while (Date.now() - loadEnd < drainSeconds * 1000) {
      await sleep(SAMPLE_MS);
      const s = samples.at(-1);
      if (s && s.t > loadEnd + 1500 && s.pending === 0 && s.lag === 0) { drainedAt = s.t; break; }
    }
    clearInterval(sampler);
    sample();
    const rssEnd = samples.at(-1)!.rss;
    const stopStart = Date.now();
    child.kill('SIGINT');
    const stopTimer = setTimeout(() => { log('protect did not stop in 10 minutes: SIGKILL'); killChild(); }, 600_000);
    const code = await exited;
    clearTimeout(stopTimer);
    const stopSeconds = (Date.now() - stopStart) / 1000;
    const final = events.find((e) => e.event === 'final');
    log(`protect stopped (exit ${code}) ${stopSeconds.toFixed(1)} s after SIGINT`);

    // ---- end-to-end lag from the recovery points ----------------------------------------------
    const caps = events.filter((e) => e.records > 0 && e.event === 'capture' && e.receivedAt >= loadStart && e.receivedAt <= loadEnd + drainSeconds * 1000);
    const probe = caps.length <= 150 ? caps : Array.from({ length: 150 }, (_, i) => caps[Math.floor((i * caps.length) / 150)]!);
    log(`reading ${probe.length} of ${caps.length} recovery points (ls --at seq:N) for the end-to-end lag`);
    const points: { at: number; canary: number; big: number[] }[] = [];
    let next = 0;
    await Promise.all([0, 1].map(async () => {
      while (next < probe.length) {
        const c = probe[next++]!;
        const ls = JSON.parse(await cli(['ls', GROUP, '--at', `seq:${c.lastSeq}`, '--json'], env)) as LsEntry[];
        const mtimeOf = (name: string): number => { const e = ls.find((x) => x.name === name); return e ? Date.parse(e.mtime) : NaN; };
        points.push({ at: Date.parse(c.time), canary: mtimeOf('canary.txt'), big: bigFiles.map((f) => mtimeOf(f.slice(src.length + 1))) });
      }
    }));
    points.sort((a, b) => a.at - b.at);
    // A torn capture of a large file holds every write made before its read began: with
    // torn captures counted, a point holds each large file as of the later of its clean
    // version's mtime and its last torn read's start.
    const tornHeld = (seq: number, file: string): number => {
      let t = NaN;
      for (const e of events) {
        if (e.lastSeq > seq) break;
        for (const r of e.tornReads ?? []) if (r.path === file && !(r.readStartMs <= t)) t = r.readStartMs;
      }
      return t;
    };
    const withTorn = new Map(probe.map((c) => [Date.parse(c.time), bigFiles.map((f) => tornHeld(c.lastSeq, f))]));
    // At each sample time of the load, the latest point made by then, and what it misses.
    const canaryLag: number[] = [];
    const bigLag: number[] = [];
    const bigLagTorn: number[] = [];
    for (const s of samples.filter((x) => x.phase === 'load')) {
      const pt = [...points].reverse().find((x) => x.at <= s.t);
      const capturedCanary = pt && Number.isFinite(pt.canary) ? pt.canary : loadStart - 1;
      const firstMissed = canaryWrites.find((w) => w > capturedCanary + 5 && w <= s.t);
      canaryLag.push(firstMissed === undefined ? 0 : s.t - firstMissed);
      if (bigFiles.length > 0) {
        // The large files are edited every few ms: a point holding an older version misses edits since its mtime.
        const oldest = pt ? Math.min(...pt.big.map((m) => (Number.isFinite(m) ? m : loadStart))) : loadStart;
        bigLag.push(Math.max(0, s.t - Math.max(oldest, loadStart)));
        const torn = pt ? withTorn.get(pt.at) ?? [] : [];
        const held = (m: number, i: number): number => { const tr = torn[i]; const c = Number.isFinite(m) ? m : loadStart; return tr !== undefined && Number.isFinite(tr) ? Math.max(c, tr) : c; };
        const oldestTorn = pt ? Math.min(...pt.big.map(held)) : loadStart;
        bigLagTorn.push(Math.max(0, s.t - Math.max(oldestTorn, loadStart)));
      }
    }

    // ---- figures ------------------------------------------------------------------------------
    const load = samples.filter((s) => s.phase === 'load');
    const lags = load.map((s) => s.lag).filter((x): x is number => x !== null);
    const rawLags = load.map((s) => s.rawLag).filter((x): x is number => x !== null);
    const idle = samples.filter((s) => s.phase === 'idle');
    const rssStart = (idle.at(-1) ?? samples[0]!).rss;
    const rssMax = Math.max(...samples.map((s) => s.rss));
    const cpuLoad = (load.at(-1)?.cpu ?? NaN) - (idle.at(-1)?.cpu ?? samples[0]!.cpu);
    const loadCaps = events.filter((e) => e.receivedAt >= loadStart && e.receivedAt <= loadEnd);
    const bytesReadLoad = loadCaps.reduce((a, e) => a + e.bytesRead, 0);
    const bytesNewLoad = loadCaps.reduce((a, e) => a + e.bytesNew, 0);
    const deferrals = loadCaps.reduce((a, e) => a + e.unstable.length, 0);
    const tornLoad = loadCaps.reduce((a, e) => a + (e.torn?.length ?? 0), 0);
    const tornBig = loadCaps.reduce((a, e) => a + (e.torn ?? []).filter((u) => bigFiles.includes(u)).length, 0);
    const phaseMs = (k: 'scan' | 'read' | 'commit'): number[] => loadCaps.map((e) => e.ms?.[k] ?? NaN).filter(Number.isFinite);
    const capDur = loadCaps.map((e) => (e.ms ? e.ms.scan + e.ms.read + e.ms.commit : NaN)).filter(Number.isFinite);
    const capTimes = [loadStart, ...loadCaps.map((e) => e.receivedAt), loadEnd];
    const capGaps = capTimes.slice(1).map((t, i) => t - capTimes[i]!);
    const deferredBig = loadCaps.reduce((a, e) => a + e.unstable.filter((u) => bigFiles.includes(u)).length, 0);
    const achieved = stats.bytes / 1e6 / (stats.elapsedMs / 1000);
    const worstP99 = Math.max(percentile(lags, 99), percentile(canaryLag, 99), bigFiles.length ? percentile(bigLagTorn, 99) : 0);
    const pass = worstP99 < 1000;
    let vaultBytes = 0;
    try { vaultBytes = Number(execFileSync('du', ['-sb', vault], { encoding: 'utf8' }).split('\t')[0]); } catch { /* n/a */ }

    let profile: string[] = [];
    if (opt['cpu-prof'] && existsSync(profDir)) {
      profile = profileSummary(profDir);
    }

    const findings: string[] = [];
    const maxGap = Math.max(...capGaps);
    if (maxGap > 1000) {
      findings.push(`Captures run one at a time, synchronously, on the protect process's main thread: the longest time between two capture lines during the load was ${(maxGap / 1000).toFixed(1)} s. ` +
        'For that long no change anywhere in the tree (the 14-byte canary included) could become a recovery point, and the status file was not rewritten (its heartbeat runs on the same thread), so `rpoLagMs` as written stays at its last value.');
    }
    if (deferredBig > 0 && tornBig === 0) {
      findings.push(`The large files were deferred as "still changing" ${deferredBig} time(s) and never recorded as torn: they were not captured at all while the load ran.`);
    }
    const canaryP99 = percentile(canaryLag, 99);
    if (capDur.length > 0) {
      findings.push(`Small files: a capture lasts ${ms(percentile(capDur, 50))} ms at p50 and ${ms(percentile(capDur, 99))} ms at p99 (file reads are cut at 100 ms and large-file slices at 70 ms; commit p99 ${ms(percentile(phaseMs('commit'), 99))} ms: sealing still in flight, pack fsync, SQLite). ` +
        `A change waits for the end of the capture running when it happens, then for the next one, so the canary's end-to-end lag is about two capture durations plus the 200 ms write period of the probe: p99 ${ms(canaryP99)} ms.`);
    }
    if (bigFiles.length > 0) {
      const tornTimes = bigFiles.map((f) => loadCaps.filter((e) => (e.torn ?? []).includes(f)).map((e) => e.receivedAt));
      const gaps = tornTimes.flatMap((ts) => ts.slice(1).map((t, i) => t - ts[i]!));
      findings.push(`Large files: edited every few ms, they are never stable while the load runs, so each is recorded as a torn capture (${tornBig} during the load, ${tornTimes.map((t) => t.length).join(' / ')} per file) whenever a full read of it ends: ` +
        `read ${bigMiB} MiB a slice per capture (70 ms, plus what the small files leave of their 100 ms), one file after the other, a file's torn captures came ${gaps.length ? `${(percentile(gaps, 50) / 1000).toFixed(1)} s apart at p50` : 'once or never'}. ` +
        `The lag "torn captures counted" is measured from the start of the read of the last torn capture (it holds every write made before it); "clean versions only" is what \`ls\`/\`cat\`/\`restore\` give without \`--include-torn\`: the version from before the load, until the load stops. ` +
        'This lag is set by how fast the tap can re-read the large files (the whole file for any edit: no changed-range information from inotify) on the CPU it gets, and stays above 1 s at this load.');
    }
    if (bytesNewLoad > stats.newBytes * 1.1) {
      findings.push(`${mb(bytesNewLoad)} MB of new chunk data were stored for ${mb(stats.newBytes)} MB of new files and ${mb(stats.editBytes)} MB of edits: between two torn captures of a large file, random 4–64 KiB edits touch most of its ~1 MiB chunks, so each torn capture stores most of the file again (vault ${mb(vaultBytes)} MB at the end; \`prune\` thins them like any version).`);
    }
    if (bytesReadLoad > stats.bytes * 1.5) {
      findings.push(`Read amplification ${(bytesReadLoad / Math.max(1, stats.bytes)).toFixed(1)}x: any change to a file makes the capture read the whole file again (a 4 KiB edit costs a ${bigMiB} MiB read), since the file tap has no changed-range information.`);
    }
    const cmd = `npm run build && node dist/bench/live-load.js --work ${opt.work} --seconds ${seconds} --rate-mb ${rateMB}` +
      (bigCount !== 3 ? ` --big-files ${bigCount}` : '') + (bigMiB !== 256 ? ` --big-mib ${bigMiB}` : '') +
      (editShare !== 0.25 ? ` --edit-share ${editShare}` : '') + (keepNew !== 64 ? ` --keep-new ${keepNew}` : '') +
      (opt['cpu-prof'] ? ' --cpu-prof' : '');
    const cpus = os.cpus();
    let commit = 'unknown';
    for (const dir of [REPO_ROOT, dirname(resolve(opt.docs!))]) {
      try {
        commit = execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
        const dirty = execFileSync('git', ['-C', dir, 'status', '--porcelain', '--', ':/src'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
        if (dirty) commit += ' with uncommitted changes in src/';
        break;
      } catch { /* not a checkout */ }
    }
    const row = (name: string, xs: number[]): string => `| ${name} | ${ms(percentile(xs, 50))} | ${ms(percentile(xs, 99))} | ${ms(xs.length ? Math.max(...xs) : NaN)} |`;
    const section = [
      START,
      '## Live protect under sustained load',
      '',
      `Measured ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')} (tidemark ${commit}) by \`bench/live-load.ts\` with:`,
      '',
      '```sh',
      cmd,
      '```',
      '',
      `- **Machine:** ${cpus.length} CPU(s) (${cpus[0]?.model.trim() ?? '?'}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB memory, Linux ${os.release()}, Node ${process.version}; work directory on ${fsType(root)}; ` +
        `1-minute load average ${loadAvgBefore.toFixed(2)} before protect started and ${os.loadavg()[0]!.toFixed(2)} at the end (${cpus.length} CPUs: above that, processes wait for a CPU and every time figure here grows).`,
      `- **Load:** ${rateMB} MB/s for ${seconds} s (MB = 10^6 bytes) of random (incompressible) bytes, from a worker thread: new files of 1–8 MiB in \`new/\` (the oldest deleted beyond ${keepNew}) and, for ${Math.round(editShare * 100)}% of the bytes, in-place edits of 4–64 KiB at random offsets of ${bigCount} file(s) of ${bigMiB} MiB (pwrite on an open descriptor). Plus a 14-byte canary file rewritten (temp file + rename) every 200 ms.`,
      `- **Method:** \`tidemark protect SRC --json\` takes a baseline of the ${bigCount} large file(s) (${baselineSeconds.toFixed(1)} s), then the load runs. Every ${SAMPLE_MS} ms the bench reads \`VAULT/run/${GROUP}.json\` (lag = \`rpoLagMs\`, plus the age of the file while changes are pending, as \`tidemark status\` computes it), and the VmRSS and CPU time of the protect process. Afterwards \`tidemark ls --at seq:N\` of the captures gives the mtimes of the canary and of the large files held by each recovery point: *end-to-end lag* at time t = age of the oldest write not in the latest recovery point made by t (canary: exact to the 200 ms write period; large files: t − the mtime of the oldest large-file version held, since they are edited every few ms; with torn captures counted, a torn capture holds a large file as of the start of its read, which protect prints in \`tornReads\`).`,
      '',
      '### Figures',
      '',
      '| RPO lag during the load, ms | p50 | p99 | max |',
      '| :--- | ---: | ---: | ---: |',
      row('status file (`rpoLagMs` + staleness while pending)', lags),
      row('status file, `rpoLagMs` as written', rawLags),
      row('end-to-end, small file (canary)', canaryLag),
      ...(bigFiles.length ? [
        row(`end-to-end, ${bigMiB} MiB files edited in place, torn captures counted`, bigLagTorn),
        row(`end-to-end, ${bigMiB} MiB files edited in place, clean versions only`, bigLag),
      ] : []),
      '',
      '| Metric | Value |',
      '| :--- | ---: |',
      `| write rate asked / achieved | ${rateMB} / ${achieved.toFixed(1)} MB/s (${mb(stats.bytes)} MB: ${stats.newFiles} new files, ${stats.edits} edits, ${stats.deletedFiles} deletes; writer at most ${ms(stats.maxBehindMs)} ms behind) |`,
      `| protect RSS start / max / end | ${mb(rssStart)} / ${mb(rssMax)} / ${mb(rssEnd)} MB |`,
      `| protect CPU during the load | ${cpuLoad.toFixed(1)} s in ${((loadEnd - loadStart) / 1000).toFixed(1)} s (${(100 * cpuLoad / ((loadEnd - loadStart) / 1000)).toFixed(0)}% of one CPU) |`,
      `| captures during the load | ${loadCaps.length} (${loadCaps.filter((e) => e.records > 0).length} with records); interval p50 ${ms(percentile(capGaps, 50))} ms, max ${ms(Math.max(...capGaps))} ms |`,
      `| bytes read by protect during the load / written | ${mb(bytesReadLoad)} / ${mb(stats.bytes)} MB (${(bytesReadLoad / Math.max(1, stats.bytes)).toFixed(1)}x) |`,
      `| new bytes stored during the load | ${mb(bytesNewLoad)} MB |`,
      `| capture duration p50 / p99 / max (scan + read + commit) | ${ms(percentile(capDur, 50))} / ${ms(percentile(capDur, 99))} / ${ms(Math.max(...capDur))} ms (read p99 ${ms(percentile(phaseMs('read'), 99))}, commit p99 ${ms(percentile(phaseMs('commit'), 99))}) |`,
      `| files deferred as still changing (all / large files) | ${deferrals} / ${deferredBig} |`,
      `| torn captures (all / large files) | ${tornLoad} / ${tornBig} |`,
      `| caught up after the load | ${drainedAt ? `${((drainedAt - loadEnd) / 1000).toFixed(1)} s` : `not within ${drainSeconds} s`} |`,
      `| stop (SIGINT → exit ${code}, final capture ${final ? `${final.records} records` : 'missing'}) | ${stopSeconds.toFixed(1)} s |`,
      `| vault size at the end | ${mb(vaultBytes)} MB |`,
      '',
      `**RPO lag target p99 < 1 s: ${pass ? 'PASS' : `MISS** (worst p99 ${ms(worstP99)} ms, ${(worstP99 / 1000).toFixed(1)}x the target)`}${pass ? '**' : ''}`,
      ...(findings.length ? ['', 'What the figures say about where the lag comes from:', '', ...findings.map((x) => `- ${x}`)] : []),
      ...(profile.length ? ['', 'CPU profile of the protect process (`--cpu-prof`, all threads), busy self time:', '', '```', ...profile, '```'] : []),
      END,
    ].join('\n');

    if (opt.dump) writeFileSync(resolve(opt.dump), JSON.stringify({ loadStart, loadEnd, events, samples, points, canaryWrites, stats }, null, 1));
    process.stdout.write(section + '\n');
    if (!opt['no-docs']) {
      const docs = resolve(opt.docs!);
      mkdirSync(dirname(docs), { recursive: true });
      const old = existsSync(docs) ? readFileSync(docs, 'utf8') : '# Performance\n\nMeasured figures. Each section is produced by a benchmark script and says how to reproduce it.\n';
      const a = old.indexOf(START);
      const b = old.indexOf(END);
      const next = a >= 0 && b > a ? old.slice(0, a) + section + old.slice(b + END.length) : old.replace(/\n*$/, '\n\n') + section + '\n';
      writeFileSync(docs, next);
      log(`wrote the section into ${docs}`);
    }
  } finally {
    await worker?.terminate();
    killChild();
    if (!opt.keep) rmSync(root, { recursive: true, force: true });
    else log(`kept ${root}`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`[live-load] failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
