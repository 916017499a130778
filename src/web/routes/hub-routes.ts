/**
 * The hub console's own routes: every group that ships to the hub with its taps, seqs,
 * RPO lag against its target and spool depth, each fan-out target's state and lag, and
 * 24 h of its lag, the group's I/O profile (write rate per minute, the bandwidth an RPO needs, journal
 * growth per day) from the Analyzer. Changing a group's RPO target takes an admin.
 */
import { z } from 'zod';
import { TidemarkError } from '../../common/errors.js';
import type { HubStatus } from '../../hub/hub.js';
import { denseMinutes, profileSummary, type MinuteBytes } from '../../hub/io-analysis.js';
import type { AuthDeps } from '../console-deps.js';
import { rpoState } from '../queries/overview-query.js';
import { route, type Route } from '../router.js';
import type { RpoHistory } from '../rpo-history.js';
import { groupParams, intParam } from './schemas.js';

/** What the hub console reads from a running hub (the Hub class is one). */
export interface HubView {
  status(): HubStatus;
  readonly profile: { groups(): string[]; rows(group: string): MinuteBytes[] };
}

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());
const MAX_MINUTES = 7 * 1440;

/**
 * A group's replication lag: its worst target's, the age of the oldest change some target
 * lacks (0 with no target: the spool is the copy); null when no tap is connected.
 */
export function groupLagMs(g: HubStatus['groups'][number]): number | null {
  return g.tapsConnected === 0 ? null : Math.max(0, ...g.targets.map((t) => t.rpoLagMs));
}

/** The replication view of every group, as GET /api/hub answers it. */
export function hubOverview(s: HubStatus, targetOf: (group: string) => number, now = Date.now()): Record<string, unknown> {
  return {
    now: iso(now), spoolBytes: s.spoolBytes, spoolMax: s.spoolMax,
    groups: s.groups.map((g) => {
      const rpoTargetMs = targetOf(g.group);
      const lag = groupLagMs(g);
      const { state, reason } = rpoState(lag, rpoTargetMs, 'no tap is connected: the hub receives no changes of this group');
      return {
        group: g.group, connected: g.tapsConnected > 0, taps: g.taps.map((t) => ({ peer: t.peer, since: iso(t.since) })),
        spooledSeq: g.spooledSeq, protectedSeq: g.protectedSeq, protectedAt: iso(g.protectedAt),
        lastCaptureTime: iso(g.lastCaptureTime), lastReceivedAt: iso(g.lastReceivedAt),
        capturedBytes: g.capturedBytes, commitsReceived: g.commitsReceived, spoolBytes: g.spoolBytes, spoolCommits: g.spoolCommits,
        rpoLagMs: lag, rpoTargetMs, rpoState: state, rpoReason: reason,
        targets: g.targets.map((t) => ({
          ...t, state: t.degraded ? 'degraded' : t.connected ? 'connected' : 'disconnected', rpoState: rpoState(t.rpoLagMs, rpoTargetMs).state,
        })),
      };
    }),
  };
}

export function hubRoutes(d: AuthDeps, hub: HubView, history: RpoHistory): Route[] {
  const known = (group: string): void => {
    if (!hub.status().groups.some((g) => g.group === group) && !hub.profile.groups().includes(group)) {
      throw new TidemarkError('TM_NOT_FOUND', `No group "${group}" ships to this hub`, { hint: 'GET /api/hub lists the groups' });
    }
  };
  return [
    route({
      method: 'GET', path: '/api/hub', summary: 'Every group shipping to the hub: taps, seqs, RPO lag against its target, spool depth, and each target\'s state and lag', role: 'viewer',
      handler() {
        return { json: hubOverview(hub.status(), (g) => d.settings.rpoTargetMs(g)) };
      },
    }),
    route({
      method: 'GET', path: '/api/hub/groups/{group}/profile', summary: 'A group\'s I/O profile: write rate per minute, rates by hour, the bandwidth that holds an RPO, journal growth per day', role: 'viewer',
      params: groupParams,
      query: z.object({ rpoMs: intParam(1000, 30 * 24 * 3600_000).optional(), minutes: intParam(1, MAX_MINUTES).optional() }).strict(),
      handler({ params, query }) {
        known(params.group);
        const rows = hub.profile.rows(params.group);
        const rpoMs = query.rpoMs ?? d.settings.rpoTargetMs(params.group);
        const series = denseMinutes(rows).slice(-(query.minutes ?? 1440));
        return {
          json: {
            group: params.group, ...profileSummary(rows, rpoMs),
            series: series.map((m) => ({ minute: iso(m.minute), bytes: m.bytes, bytesPerSecond: m.bytes / 60 })),
          },
        };
      },
    }),
    route({
      method: 'GET', path: '/api/hub/groups/{group}/rpo-history', summary: 'Replication lag samples of the last 24 h (lag null: no tap was connected)', role: 'viewer',
      params: groupParams,
      handler({ params }) {
        known(params.group);
        return { json: history.json(params.group, d.settings.rpoTargetMs(params.group)) };
      },
    }),
    route({
      method: 'PUT', path: '/api/hub/groups/{group}/rpo-target', summary: 'Set the RPO target a group\'s replication lag is measured against', role: 'admin',
      params: groupParams, body: z.object({ rpoTargetMs: z.number().int().min(1000).max(30 * 24 * 3600_000) }).strict(),
      handler({ params, body, user, ip }) {
        known(params.group);
        const before = d.settings.rpoTargetMs(params.group);
        d.settings.update(params.group, { rpoTargetMs: body.rpoTargetMs });
        d.audit.append({ user: user!.name, ip, action: 'policy.change', target: params.group, result: 'ok', details: { before: { rpoTargetMs: before }, after: { rpoTargetMs: body.rpoTargetMs } } });
        return { json: { group: params.group, rpoTargetMs: body.rpoTargetMs } };
      },
    }),
  ];
}
