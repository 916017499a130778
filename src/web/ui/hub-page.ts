/**
 * The hub console's page: every group shipping to the hub (its taps, seqs, RPO lag against
 * the target, spool depth, 24 h of lag), each fan-out target's state and lag, and per group the I/O
 * profile from the Analyzer: write rate per minute, rates by hour, the bandwidth that holds
 * the RPO target and the journal's growth per day.
 */
import { api } from './api.js';
import { formatBytes, formatDuration, h, mount, svg, timeEl } from './dom.js';
import { lagChart } from './overview-page.js';

type Rpo = 'green' | 'amber' | 'red';
interface Target {
  target: string; url: string; mode: string; state: 'connected' | 'degraded' | 'disconnected'; lastError: string | null; ackedSeq: number; lagSeqs: number;
  rpoLagMs: number; rpoState: Rpo; backlogBytes: number; bytesSent: number; throughputBps: number;
}
interface Group {
  group: string; connected: boolean; taps: { peer: string; since: string }[]; spooledSeq: number; protectedSeq: number; protectedAt: string | null;
  lastCaptureTime: string | null; lastReceivedAt: string | null; capturedBytes: number; spoolBytes: number; spoolCommits: number;
  rpoLagMs: number | null; rpoTargetMs: number; rpoState: Rpo; rpoReason: string; targets: Target[];
}
interface Profile {
  group: string; minutes: number; capturedBytes: number; rpoMs: number; bandwidthForRpo: number; bytesPerDay: number;
  byHour: { hour: number; p50: number; p95: number; p99: number; max: number }[];
  series: { minute: string; bytes: number; bytesPerSecond: number }[];
}

/** The chart shows at least this many minutes, so that a short profile reads as short. */
const MIN_SPAN = 60;

function label(x: number, y: number, text: string, anchor = 'start'): SVGElement {
  const t = svg('text', { x, y, 'text-anchor': anchor, class: 'label' });
  t.textContent = text;
  return t;
}

/** Write rate per minute as bars (the newest on the right), the rate that holds the RPO as a dashed line. */
export function rateChart(p: Profile): SVGElement {
  const W = 600, H = 150, TOP = 14, BOTTOM = 16;
  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'rate-chart', role: 'img', 'data-testid': 'rate-chart' });
  const max = Math.max(p.bandwidthForRpo, ...p.series.map((s) => s.bytesPerSecond), 1) * 1.1;
  const slots = Math.max(p.series.length, MIN_SPAN);
  const bw = W / slots;
  const y = (v: number): number => H - BOTTOM - (v / max) * (H - TOP - BOTTOM);
  const offset = slots - p.series.length;
  p.series.forEach((s, i) => {
    const bar = svg('rect', { x: ((offset + i) * bw + bw * 0.1).toFixed(1), width: Math.max(1, bw * 0.8).toFixed(1), y: y(s.bytesPerSecond).toFixed(1), height: (H - BOTTOM - y(s.bytesPerSecond)).toFixed(1), class: 'bar' });
    const t = svg('title');
    t.textContent = `${new Date(s.minute).toLocaleString()}: ${formatBytes(Math.round(s.bytesPerSecond))}/s (${formatBytes(s.bytes)} in the minute)`;
    bar.append(t);
    chart.append(bar);
  });
  chart.append(svg('line', { x1: 0, x2: W, y1: y(p.bandwidthForRpo), y2: y(p.bandwidthForRpo), class: 'target' }));
  chart.append(svg('line', { x1: 0, x2: W, y1: H - BOTTOM, y2: H - BOTTOM, class: 'axis' }));
  chart.append(label(W - 4, 11, `${formatBytes(Math.round(max))}/s`, 'end'));
  chart.append(label(4, y(p.bandwidthForRpo) - 4, `${formatBytes(p.bandwidthForRpo)}/s holds an RPO of ${formatDuration(p.rpoMs)}`));
  const last = p.series.length > 0 ? Date.parse(p.series[p.series.length - 1]!.minute) : Date.now();
  const time = (t: number): string => new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  chart.append(label(2, H - 3, time(last - (slots - 1) * 60_000)));
  chart.append(label(W - 2, H - 3, time(last), 'end'));
  const title = svg('title');
  title.textContent = `Write rate per minute over the last ${slots} minutes; dashed line: the ${formatBytes(p.bandwidthForRpo)}/s that holds an RPO of ${formatDuration(p.rpoMs)}`;
  chart.prepend(title);
  return chart;
}

function profileCard(g: Group): HTMLElement {
  const card = h('section', { className: 'card profile', 'data-profile': g.group, 'aria-label': `I/O profile of ${g.group}` }, h('h2', {}, `I/O profile: ${g.group}`), h('p', { className: 'muted' }, '…'));
  api<Profile>('GET', `/api/hub/groups/${encodeURIComponent(g.group)}/profile`).then((p) => {
    mount(card,
      h('h2', {}, `I/O profile: ${g.group}`),
      p.series.length === 0 ? h('p', { className: 'muted' }, 'No writes profiled yet.') : rateChart(p),
      h('p', { 'data-testid': 'sizing' },
        `Holding the RPO target of ${formatDuration(p.rpoMs)} needs `, h('strong', {}, `${formatBytes(p.bandwidthForRpo)}/s`),
        ` of bandwidth; the journal grows by about ${formatBytes(p.bytesPerDay)} per day of retention (before dedup and compression). `,
        `${formatBytes(p.capturedBytes)} written over ${p.minutes} profiled minutes.`),
      p.byHour.length === 0 ? null : h('div', { className: 'scroll' }, h('table', { className: 'by-hour' },
        h('thead', {}, h('tr', {}, ...['Hour (UTC)', 'p50/s', 'p95/s', 'p99/s', 'max/s'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, ...p.byHour.map((r) => h('tr', {}, h('td', {}, `${String(r.hour).padStart(2, '0')}:00`),
          ...[r.p50, r.p95, r.p99, r.max].map((v) => h('td', { className: 'num' }, formatBytes(Math.round(v))))))))),
    );
  }, () => mount(card, h('h2', {}, `I/O profile: ${g.group}`), h('p', { className: 'error' }, 'Could not load the profile.')));
  return card;
}

function targetRows(g: Group): HTMLElement[] {
  return g.targets.map((t) => h('tr', { className: 'target-row', 'data-target': `${g.group}/${t.target}` },
    h('td', { 'data-label': 'Target' }, `→ ${t.target} (${t.mode})`, h('div', { className: 'muted small' }, t.url)),
    h('td', { 'data-label': 'State' }, h('span', { className: `badge ${t.state === 'connected' ? 'green' : t.state === 'degraded' ? 'amber' : 'red'}`, title: t.lastError ?? '' }, t.state)),
    h('td', { 'data-label': 'Seq' }, `acked seq:${t.ackedSeq}`, t.lagSeqs > 0 ? h('div', { className: 'muted small' }, `${t.lagSeqs} behind`) : null),
    h('td', { 'data-label': 'Lag' }, h('span', { className: `badge ${t.rpoState}` }, formatDuration(t.rpoLagMs))),
    h('td', { className: 'num', 'data-label': 'Traffic' }, `${formatBytes(t.bytesSent)} sent`, h('div', { className: 'muted small' }, `${formatBytes(t.throughputBps)}/s now`)),
    h('td', { className: 'num', 'data-label': 'Backlog' }, formatBytes(t.backlogBytes)),
  ));
}

function lagCell(g: Group, now: number): HTMLElement {
  const cell = h('td', { className: 'chart', 'data-label': 'Lag, 24 h', rowspan: 1 + g.targets.length }, '…');
  api<Parameters<typeof lagChart>[0]>('GET', `/api/hub/groups/${encodeURIComponent(g.group)}/rpo-history`)
    .then((hist) => mount(cell, lagChart(hist, now)), () => mount(cell, '—'));
  return cell;
}

export async function renderHub(main: HTMLElement): Promise<void> {
  const data = await api<{ now: string; spoolBytes: number; spoolMax: number; groups: Group[] }>('GET', '/api/hub');
  const now = Date.parse(data.now);
  const rows = data.groups.flatMap((g) => [
    h('tr', { className: 'group-row', 'data-group': g.group },
      h('th', { scope: 'row' }, g.group, h('div', { className: 'muted small' }, g.taps.map((t) => t.peer).join(', ') || 'no tap connected')),
      h('td', { 'data-label': 'State' }, h('span', { className: `badge ${g.connected ? 'green' : 'red'}`, 'data-testid': 'tap-state' }, g.connected ? 'connected' : 'disconnected'),
        g.lastReceivedAt ? h('div', { className: 'muted small' }, 'last received ', timeEl(g.lastReceivedAt)) : null),
      h('td', { 'data-label': 'Seq' }, `received seq:${g.spooledSeq}`, h('div', { className: 'muted small' }, `protected seq:${g.protectedSeq}`, g.protectedAt ? h('span', {}, ' at ', timeEl(g.protectedAt)) : null)),
      h('td', { 'data-label': 'Lag' }, h('span', { className: `badge ${g.rpoState}`, title: g.rpoReason, 'data-testid': 'rpo' }, g.rpoLagMs === null ? 'unknown' : formatDuration(g.rpoLagMs)),
        h('div', { className: 'muted small' }, `target ${formatDuration(g.rpoTargetMs)}`)),
      h('td', { className: 'num', 'data-label': 'Received' }, formatBytes(g.capturedBytes)),
      h('td', { className: 'num', 'data-label': 'Spool' }, formatBytes(g.spoolBytes), h('div', { className: 'muted small' }, `${g.spoolCommits} commits`)),
      lagCell(g, now),
    ),
    ...targetRows(g),
  ]);
  mount(main,
    h('h1', {}, 'Replication'),
    h('p', { className: 'muted' }, `Hub spool: ${formatBytes(data.spoolBytes)} of ${formatBytes(data.spoolMax)}`),
    data.groups.length === 0
      ? h('p', {}, 'No group ships to this hub yet: run ', h('code', {}, 'tidemark protect DIR --hub tls://HUB:PORT'), '.')
      : h('div', { className: 'scroll' }, h('table', { className: 'groups hub' },
        h('thead', {}, h('tr', {}, ...['Group / target', 'State', 'Seq', 'Replication lag', 'Received / sent', 'Spool / backlog', 'Lag, 24 h'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, ...rows))),
    ...data.groups.map(profileCard),
  );
}
