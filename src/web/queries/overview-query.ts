/**
 * The overview of every group: is it being protected, its last recovery point, its RPO
 * lag against the target (green within it, amber up to twice it, red beyond or when
 * nothing watches the source), and the size of what it protects.
 */
import { groupContents } from '../../vault/index/group-contents.js';
import { readShipperStatuses, replicationOf, type ReplicationSummary } from '../../tap/shipper/start-shipper.js';
import type { Vault } from '../../vault/vault.js';
import { readRunStatuses, type RunStatus } from '../../embedded/run-status.js';

export type RpoState = 'green' | 'amber' | 'red';

export interface GroupOverview {
  name: string;
  /** protecting: a live `protect` watches the source; not-watched: nothing captures changes now */
  health: 'protecting' | 'not-watched';
  source: string | null;
  pid: number | null;
  lastPoint: { seq: number; time: number } | null;
  points: number;
  /** ms since the oldest change not yet recorded; null when nothing watches the source */
  rpoLagMs: number | null;
  rpoTargetMs: number;
  rpoState: RpoState;
  rpoReason: string;
  /** files: a directory tree (file tap); volume: a volume (volume tap), read with images */
  kind: 'files' | 'volume';
  files: number;
  protectedBytes: number;
  /** shipping to a hub (from the live protect's shipper status), or null */
  replication: ReplicationSummary | null;
}

/** Lag of a live run as of `now` (its status file is rewritten every second). */
export function liveLagMs(run: RunStatus, now: number): number {
  return run.rpoLagMs + (run.pendingChanges > 0 ? Math.max(0, now - Date.parse(run.updated)) : 0);
}

/** Colour a lag against a target; `unknown` says why a null lag is not known. */
export function rpoState(lagMs: number | null, targetMs: number, unknown = 'no live protect watches this group: changes are not being captured'): { state: RpoState; reason: string } {
  if (lagMs === null) return { state: 'red', reason: unknown };
  if (lagMs <= targetMs) return { state: 'green', reason: `lag ${lagMs} ms within the ${targetMs} ms target` };
  if (lagMs <= 2 * targetMs) return { state: 'amber', reason: `lag ${lagMs} ms over the ${targetMs} ms target` };
  return { state: 'red', reason: `lag ${lagMs} ms over twice the ${targetMs} ms target` };
}

/** The live runs of the vault, by group. */
export function liveRuns(vault: Vault): Map<string, RunStatus> {
  const out = new Map<string, RunStatus>();
  for (const r of readRunStatuses(vault.dir)) if (r.alive) out.set(r.group, r);
  return out;
}

/** Every group with points, in name order. */
export function overviewOf(vault: Vault, targetOf: (group: string) => number, now = Date.now()): GroupOverview[] {
  const runs = liveRuns(vault);
  const shippers = readShipperStatuses(vault.dir);
  return vault.index.groups().filter((g) => g.lastSeq > 0).map((g) => {
    const run = runs.get(g.name);
    const lag = run ? liveLagMs(run, now) : null;
    const target = targetOf(g.name);
    const { state, reason } = rpoState(lag, target);
    const last = vault.index.lastPoint(g.id);
    const contents = groupContents(vault.index, g.id);
    return {
      name: g.name, health: run ? 'protecting' : 'not-watched', source: run?.source ?? null, pid: run?.pid ?? null,
      lastPoint: last ?? null, points: vault.index.pointCount(g.id),
      rpoLagMs: lag, rpoTargetMs: target, rpoState: state, rpoReason: reason, kind: contents.kind, files: contents.files, protectedBytes: contents.bytes,
      replication: replicationOf(shippers.find((x) => x.group === g.name), run !== undefined),
    };
  });
}

