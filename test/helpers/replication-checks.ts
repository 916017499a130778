/**
 * Checks shared by the replication tests: the hub's /status, a writer that keeps changing
 * a tree, waiting for the tap to report a seq protected, and "this vault holds exactly the
 * tap's journal" (same points, no gap, no duplicate; same trees at chosen seqs).
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tidemarkJson } from './cli.js';
import type { Daemon } from './daemon.js';
import type { Deployment } from './deployment.js';
import type { TimelineJson } from './contract.js';

export interface TargetStatus { target: string; connected: boolean; degraded: boolean; ackedSeq: number; lagSeqs: number; rpoLagMs: number; backlogBytes: number; bytesSent: number; bytesCaptured: number; throughputBps: number }
export interface HubStatusJson { spoolBytes: number; groups: { group: string; spooledSeq: number; protectedSeq: number; targets: TargetStatus[] }[] }

export async function hubStatus(metricsPort: number): Promise<HubStatusJson> {
  const r = await fetch(`http://127.0.0.1:${metricsPort}/status`);
  assert.equal(r.status, 200);
  return (await r.json()) as HubStatusJson;
}

export function target(s: HubStatusJson, group: string, name: string): TargetStatus {
  const t = s.groups.find((g) => g.group === group)?.targets.find((x) => x.target === name);
  assert.ok(t, `hub status has no target ${name} for group ${group}: ${JSON.stringify(s)}`);
  return t;
}

/** Poll the hub's status until `pred` holds (at most `ms`). */
export async function waitStatus(metricsPort: number, pred: (s: HubStatusJson) => boolean, ms: number, what: string): Promise<HubStatusJson> {
  const deadline = Date.now() + ms;
  let last: HubStatusJson | null = null;
  while (Date.now() < deadline) {
    last = await hubStatus(metricsPort);
    let ok = false;
    try { ok = pred(last); } catch { /* the group or target is not known to the hub yet */ }
    if (ok) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`${what}: not within ${ms} ms; last status ${JSON.stringify(last)}`);
}

/** The tap's newest captured seq (from its capture lines). */
export function tapLastSeq(tap: Daemon): number {
  return Math.max(0, ...tap.lines.filter((l) => typeof l.lastSeq === 'number' && (l.records as number) > 0).map((l) => l.lastSeq as number));
}

/** Wait until the tap reports `seq` (or later) protected. */
export function waitProtected(tap: Daemon, seq: number, ms: number): Promise<Record<string, unknown>> {
  return tap.waitLine((l) => l.event === 'protected' && (l.seq as number) >= seq, ms, `protected seq:${seq}`);
}

/** Wait until the tap has captured something after `afterSeq`; returns its seq. */
export function waitCaptured(tap: Daemon, afterSeq: number, ms: number): Promise<number> {
  return tap.waitUntil(() => { const s = tapLastSeq(tap); return s > afterSeq ? s : undefined; }, ms, `a capture after seq:${afterSeq}`);
}

/** Change the tree every `everyMs` until stopped: appends, new files, rewrites. */
export function startWriter(src: string, everyMs = 100): { stop: () => number } {
  let n = 0;
  mkdirSync(path.join(src, 'w'), { recursive: true });
  const t = setInterval(() => {
    n++;
    appendFileSync(path.join(src, 'w', 'log.txt'), `line ${n} ${'x'.repeat(200)}\n`);
    if (n % 3 === 0) writeFileSync(path.join(src, 'w', `f${n}.txt`), `file ${n}\n`.repeat(50));
    if (n % 5 === 0) writeFileSync(path.join(src, 'w', 'rewritten.bin'), Buffer.alloc(20_000, n));
  }, everyMs);
  return { stop: () => { clearInterval(t); return n; } };
}

/**
 * `remote` holds exactly the tap vault's journal of `group` up to `seq`: every point 1..seq
 * (none missing, none twice), and the same tree at `seq` and at the given other seqs.
 */
export async function assertReplicaOf(dep: Deployment, remote: string, group: string, seq: number, alsoAt: number[], label: string): Promise<void> {
  const tl = await tidemarkJson<TimelineJson>(['timeline', group, '--vault', remote], { env: dep.env });
  assert.ok(tl.last.seq >= seq, `${label}: remote ends at seq:${tl.last.seq}, expected at least seq:${seq}`);
  assert.equal(tl.first.seq, 1, `${label}: remote journal starts at seq:1`);
  assert.equal(tl.points, tl.last.seq, `${label}: remote has ${tl.points} points for seq 1..${tl.last.seq} (a gap or a duplicate)`);
  for (const s of [...new Set([seq, ...alsoAt])]) await dep.assertSameAt(remote, group, s, `${label} at seq:${s}`);
}
