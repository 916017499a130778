/** The overview: every group's health, last point, RPO lag against target, size, and 24 h of lag. */
import { api } from './api.js';
import { formatBytes, formatDuration, h, mount, svg, timeEl } from './dom.js';

interface GroupRow {
  name: string; health: string; source: string | null; lastPoint: { seq: number; time: string } | null; points: number;
  rpoLagMs: number | null; rpoTargetMs: number; rpoState: 'green' | 'amber' | 'red'; rpoReason: string; files: number; protectedBytes: number;
  replication: { hub: string; connected: boolean; shippedSeq: number; protectedSeq: number; rpoLagMs: number; lastError: string | null } | null;
}
interface History { rpoTargetMs: number; samples: { time: string; lagMs: number | null }[] }

const DAY = 24 * 3600_000;

/** A 24 h chart of RPO lag: the lag line, the target as a dashed line, gaps where nothing watched. */
export function lagChart(hist: History, now: number): SVGElement {
  const W = 300, H = 60;
  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'lag-chart', role: 'img' });
  const max = Math.max(hist.rpoTargetMs * 2, ...hist.samples.map((s) => s.lagMs ?? 0));
  const x = (t: number): number => ((t - (now - DAY)) / DAY) * W;
  const y = (v: number): number => H - 2 - (v / max) * (H - 4);
  chart.append(svg('line', { x1: 0, x2: W, y1: y(hist.rpoTargetMs), y2: y(hist.rpoTargetMs), class: 'target' }));
  let d = '';
  let unwatched = 0;
  for (const s of hist.samples) {
    if (s.lagMs === null) { unwatched++; d += ' '; continue; }
    d += `${d.endsWith(' ') || d === '' ? 'M' : 'L'}${x(Date.parse(s.time)).toFixed(1)},${y(s.lagMs).toFixed(1)}`;
  }
  chart.append(svg('path', { d: d.trim() || 'M0,0', class: 'lag' }));
  const title = svg('title');
  title.textContent = `RPO lag over the last 24 h: ${hist.samples.length} samples, ${unwatched} while not watched; dashed line: the ${formatDuration(hist.rpoTargetMs)} target`;
  chart.prepend(title);
  return chart;
}

export async function renderOverview(main: HTMLElement): Promise<void> {
  const data = await api<{ vault: string; now: string; groups: GroupRow[] }>('GET', '/api/overview');
  const now = Date.parse(data.now);
  const rows = data.groups.map((g) => {
    const chartCell = h('td', { className: 'chart', 'data-label': 'RPO lag, 24 h' }, '…');
    api<History>('GET', `/api/groups/${encodeURIComponent(g.name)}/rpo-history`)
      .then((hist) => mount(chartCell, lagChart(hist, now)), () => mount(chartCell, '—'));
    return h('tr', { 'data-group': g.name },
      h('th', { scope: 'row' }, h('a', { href: `#/group/${encodeURIComponent(g.name)}` }, g.name), g.source ? h('div', { className: 'muted small' }, g.source) : null),
      h('td', { 'data-label': 'Health' }, h('span', { className: `badge ${g.health === 'protecting' ? 'green' : 'red'}` }, g.health === 'protecting' ? 'protecting' : 'not watched'),
        g.replication ? h('div', { className: 'muted small', 'data-testid': 'replication', title: g.replication.lastError ?? '' },
          `→ ${g.replication.hub}: ${g.replication.connected ? 'connected' : 'disconnected'}, protected seq:${g.replication.protectedSeq}, lag ${formatDuration(g.replication.rpoLagMs)}`) : null),
      h('td', { 'data-label': 'Last point' }, g.lastPoint ? h('span', {}, `seq:${g.lastPoint.seq} `, timeEl(g.lastPoint.time)) : '—'),
      h('td', { 'data-label': 'RPO lag' }, h('span', { className: `badge ${g.rpoState}`, title: g.rpoReason, 'data-testid': 'rpo' }, g.rpoLagMs === null ? 'unknown' : formatDuration(g.rpoLagMs)),
        h('div', { className: 'muted small' }, `target ${formatDuration(g.rpoTargetMs)}`)),
      h('td', { className: 'num', 'data-label': 'Protected' }, formatBytes(g.protectedBytes), h('div', { className: 'muted small' }, `${g.files} files, ${g.points} points`)),
      chartCell,
    );
  });
  mount(main,
    h('h1', {}, 'Overview'),
    h('p', { className: 'muted' }, `Vault ${data.vault}`),
    data.groups.length === 0
      ? h('p', {}, 'Nothing is protected yet: run ', h('code', {}, 'tidemark protect DIR'), '.')
      : h('div', { className: 'scroll' }, h('table', { className: 'groups' },
        h('thead', {}, h('tr', {}, ...['Group', 'Health', 'Last recovery point', 'RPO lag', 'Protected', 'RPO lag, 24 h'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, ...rows))),
  );
}
