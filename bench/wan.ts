/**
 * WAN benchmark: bytes on the wire for a change, tidemark replication vs rsync.
 *
 *   npm run bench:wan -- --corpus DIR [--percent 5] [--seed 1] [--mutate-script PATH] [--work DIR] [--live]
 *
 * Copies the corpus, runs a real deployment on loopback (CA, `vault serve`, `hub` with one
 * async target, `protect --hub`), waits until the baseline reached the vault, applies the
 * same mutation the backup bench uses (bench/mutate.ts, or `bash SCRIPT COPY PERCENT SEED`),
 * waits until the change reached the vault, and reads the bytes the hub sent to the vault
 * (and the tap to the hub) for the change. rsync gets the same change: a copy of the corpus
 * synced before the mutation, then `rsync -a --no-whole-file --stats` (the delta algorithm,
 * as over a network) and the same with `-z`. The replica is restored and compared with the
 * mutated tree (diff -r). Prints the figures and the ratio to rsync's
 * bytes sent; exits 1 when tidemark sends more than 1.1× what rsync without -z sends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { mutateBuiltin } from './mutate.js';
import { run } from './proc.js';

const CLI = resolve(import.meta.dirname, '..', '..', 'bin', 'tidemark.js');
const { values } = parseArgs({ options: {
  corpus: { type: 'string' }, percent: { type: 'string', default: '5' }, seed: { type: 'string', default: '1' },
  'mutate-script': { type: 'string' }, work: { type: 'string' }, keep: { type: 'boolean', default: false }, live: { type: 'boolean', default: false },
} });
if (!values.corpus) { process.stderr.write('usage: npm run bench:wan -- --corpus DIR [--percent 5] [--seed 1] [--mutate-script PATH] [--work DIR]\n'); process.exit(2); }

const children: ChildProcess[] = [];
const env = { ...process.env, TIDEMARK_PASSPHRASE: 'bench-wan' };
const tm = (args: string[], extra: Record<string, string> = {}): Promise<{ stdout: string }> => run(process.execPath, [CLI, ...args], { env: { ...env, ...extra }, timeoutMs: 30 * 60_000 });

/** Start a long-running tidemark; returns the array its JSON lines are appended to as they come. */
function daemon(args: string[], extra: Record<string, string> = {}, lines: Record<string, unknown>[] = []): Record<string, unknown>[] {
  const c = spawn(process.execPath, [CLI, ...args], { env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(c);
  createInterface({ input: c.stdout! }).on('line', (l) => { try { lines.push(JSON.parse(l) as Record<string, unknown>); } catch { /* text */ } });
  return lines;
}

async function until<T>(f: () => Promise<T | undefined> | T | undefined, what: string, ms = 60 * 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

interface Target { ackedSeq: number; bytesSent: number; bytesCaptured: number }
async function target(metricsPort: number): Promise<Target | undefined> {
  const s = (await (await fetch(`http://127.0.0.1:${metricsPort}/status`)).json()) as { groups: { targets: Target[] }[] };
  return s.groups[0]?.targets[0];
}

function rsyncSent(stats: string): number {
  const m = /Total bytes sent: ([\d,.]+)/.exec(stats);
  if (!m) throw new Error(`no "Total bytes sent" in rsync --stats output:\n${stats}`);
  return Number(m[1]!.replace(/[,.]/g, ''));
}

async function main(): Promise<number> {
  const work = values.work ? resolve(values.work) : await mkdtemp(join(tmpdir(), 'tidemark-wan-'));
  const src = join(work, 'src');
  try {
    await run('cp', ['-a', resolve(values.corpus!), src]);
    for (const d of ['rsync-plain', 'rsync-z']) await run('rsync', ['-a', `${src}/`, `${join(work, d)}/`]);
    await tm(['pki', 'init', '--dir', join(work, 'ca')]);
    for (const n of ['hub', 'vault', 'tap']) await tm(['pki', 'issue', '--dir', join(work, 'ca'), '--name', n, '--out', join(work, `tls-${n}`)]);
    await tm(['init', '--vault', join(work, 'tap-vault')]);
    await tm(['vault', 'init-replica', '--vault', join(work, 'vault'), '--from', join(work, 'tap-vault')]);
    const v = daemon(['vault', 'serve', '--vault', join(work, 'vault'), '--listen', '127.0.0.1:0', '--tls', join(work, 'tls-vault'), '--json']);
    const vport = (await until(() => v.find((l) => l.event === 'listening'), 'vault listening')).port as number;
    const h = daemon(['hub', '--listen', '127.0.0.1:0', '--tls', join(work, 'tls-hub'), '--state', join(work, 'hub'), '--metrics', '127.0.0.1:0', '--no-console', '--target', `v=tls://127.0.0.1:${vport},mode=async`, '--json']);
    const hl = await until(() => h.find((l) => l.event === 'listening'), 'hub listening');
    const mport = hl.metricsPort as number;
    const tapArgs = ['protect', src, '--vault', join(work, 'tap-vault'), '--group', 'corpus', '--hub', `tls://127.0.0.1:${hl.port as number}`, '--json'];
    const tapEnv = { TIDEMARK_TLS_DIR: join(work, 'tls-tap') };
    const tap = daemon(tapArgs, tapEnv);
    const lastSeq = (): number => Math.max(0, ...tap.filter((l) => (l.records as number) > 0).map((l) => l.lastSeq as number));
    const settled = async (): Promise<Target | undefined> => {
      const t = await target(mport);
      const lastCapture = Math.max(0, ...tap.filter((l) => (l.records as number) > 0).map((l) => Date.parse(l.time as string)));
      return t && lastSeq() > 0 && t.ackedSeq >= lastSeq() && Date.now() - lastCapture > 3000 ? t : undefined;
    };
    const t0 = Date.now();
    const before = await until(settled, 'baseline replicated');
    process.stderr.write(`baseline: ${before.bytesCaptured} bytes captured, ${before.bytesSent} sent, ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
    const shippedBefore = tap.filter((l) => l.event === 'shipped').reduce((a, l) => a + (l.wireBytes as number), 0);
    const percent = Number(values.percent);
    const seed = Number(values.seed);
    // Default: the tap is stopped while the mutation runs, so one capture holds its final
    // state (what rsync sees); --live keeps it running and ships every intermediate state.
    const tapProc = children[children.length - 1]!;
    if (!values.live) { tapProc.kill('SIGTERM'); await new Promise((r) => tapProc.once('close', r)); }
    if (values['mutate-script']) await run('bash', [resolve(values['mutate-script']), src, String(percent), String(seed)]);
    else await mutateBuiltin(src, percent, seed);
    if (!values.live) {
      daemon(tapArgs, tapEnv, tap);
      await until(() => (tap.filter((l) => l.event === 'baseline').length >= 2 ? true : undefined), 'the restarted tap\'s first capture');
    }
    const after = await until(settled, 'change replicated');
    const shipped = tap.filter((l) => l.event === 'shipped').reduce((a, l) => a + (l.wireBytes as number), 0) - shippedBefore;
    const plain = rsyncSent((await run('rsync', ['-a', '--delete', '--no-whole-file', '--stats', `${src}/`, `${join(work, 'rsync-plain')}/`])).stdout);
    const z = rsyncSent((await run('rsync', ['-a', '--delete', '--no-whole-file', '-z', '--stats', `${src}/`, `${join(work, 'rsync-z')}/`])).stdout);
    // The replica must restore the mutated tree exactly (diff exits non-zero otherwise).
    await tm(['restore', 'corpus', '--vault', join(work, 'vault'), '--to', join(work, 'restored')]);
    await run('diff', ['-rq', '--no-dereference', src, join(work, 'restored')]);
    const sent = after.bytesSent - before.bytesSent;
    const ratio = sent / plain;
    const fig = {
      corpusBytes: before.bytesCaptured, percent, changeCapturedBytes: after.bytesCaptured - before.bytesCaptured,
      tidemarkHubToVault: sent, tidemarkTapToHub: shipped, rsyncSent: plain, rsyncZSent: z, ratioToRsync: Number(ratio.toFixed(3)), ratioToRsyncZ: Number((sent / z).toFixed(3)),
    };
    process.stdout.write(JSON.stringify(fig, null, 2) + '\n');
    return ratio <= 1.1 ? 0 : 1;
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1500));
    if (!values.keep && !values.work) await rm(work, { recursive: true, force: true });
  }
}

main().then((code) => { process.exitCode = code; }, (err: unknown) => { process.stderr.write(`bench:wan failed: ${(err as Error).message}\n`); for (const c of children) c.kill('SIGKILL'); process.exitCode = 2; });
