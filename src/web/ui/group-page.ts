/**
 * One group: the timeline with the chosen moment, then the tree at that moment (browse,
 * download, restore) and what changed between two moments, or for a volume its images;
 * bookmarks and the policy. The
 * chosen point, path and zoom live in the URL hash, so Back and reload keep them.
 */
import { api, ApiCallError, describeError, qs, type Me } from './api.js';
import { h, mount, timeEl, toLocalInput } from './dom.js';
import { timelineChart, type TimelineData } from './timeline-chart.js';
import { browsePanel } from './browse-panel.js';
import { imagePanel } from './image-panel.js';
import { bookmarksPanel, changesPanel, policyPanel } from './group-panels.js';

export interface GroupView {
  group: string;
  me: Me;
  /** the chosen point as seq:N */
  at: string;
  seq: number;
  time: number;
  path: string;
  /** go to the same page with some hash parameters changed */
  go(change: Record<string, string | undefined>): void;
}

export async function renderGroup(main: HTMLElement, group: string, params: URLSearchParams, me: Me): Promise<void> {
  const g = encodeURIComponent(group);
  const go = (change: Record<string, string | undefined>): void => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(change)) if (v === undefined) next.delete(k); else next.set(k, v);
    location.hash = `#/group/${g}?${next.toString()}`;
  };
  // A moment before the first point (or a bookmark pruned since) falls back to the latest point, saying why.
  let notice = '';
  const point = await api<{ seq: number; time: string; kind?: string }>('GET', `/api/groups/${g}/point${qs({ at: params.get('at') ?? 'latest' })}`).catch(async (err: unknown) => {
    if (!(err instanceof ApiCallError) || err.code !== 'TM_BAD_POINT') throw err;
    notice = `${describeError(err)}; showing the latest point instead.`;
    return api<{ seq: number; time: string; kind?: string }>('GET', `/api/groups/${g}/point?at=latest`);
  });
  const time = Date.parse(point.time);
  const view: GroupView = { group, me, at: `seq:${point.seq}`, seq: point.seq, time, path: params.get('path') ?? '', go };
  const tl = await api<TimelineData>('GET', `/api/groups/${g}/timeline${qs({ from: params.get('from') ?? undefined, to: params.get('to') ?? undefined, buckets: 200 })}`);
  const from = Date.parse(tl.from), to = Date.parse(tl.to);
  const zoom = (a: number, b: number): void => go({ from: String(Math.round(a)), to: String(Math.round(Math.max(b, a + 2))) });
  const chart = timelineChart(tl, time, {
    choose: (c) => go({ at: c.seq !== undefined ? `seq:${c.seq}` : new Date(c.time!).toISOString(), path: view.path || undefined }),
    zoom,
  });
  const moment = h('input', { id: 'moment', type: 'datetime-local', step: 1, value: toLocalInput(time) });
  const momentError = h('span', { className: 'error', role: 'alert', 'data-testid': 'moment-error' }, notice);
  const momentForm = h('form', { className: 'inline', 'aria-label': 'Choose a moment' },
    h('label', { for: 'moment' }, 'Moment (your time zone)'), moment,
    h('button', { type: 'submit' }, 'Go'),
    h('button', { type: 'button', onclick: () => go({ at: 'latest' }) }, 'Latest'),
    momentError);
  momentForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const t = new Date(moment.value).getTime();
    if (Number.isNaN(t)) { momentError.textContent = 'Enter a date and time'; return; }
    // The last point at or before the moment typed (its last millisecond included).
    api<{ seq: number }>('GET', `/api/groups/${g}/point${qs({ at: new Date(t + 999).toISOString() })}`)
      .then((p) => go({ at: `seq:${p.seq}` }), (err: unknown) => { momentError.textContent = describeError(err); });
  });
  const span = to - from;
  mount(main,
    h('h1', {}, `Group ${group}`),
    h('section', { 'aria-label': 'Timeline', className: 'card' },
      h('div', { className: 'row' },
        h('h2', {}, 'Timeline'),
        h('span', { className: 'muted' }, `${tl.points} point(s) shown, from `, timeEl(from), ' to ', timeEl(to)),
        h('span', { className: 'spacer' }),
        h('button', { type: 'button', onclick: () => zoom(time - span / 4, time + span / 4) }, 'Zoom in'),
        h('button', { type: 'button', onclick: () => zoom(from - span / 2, to + span / 2) }, 'Zoom out'),
        h('button', { type: 'button', onclick: () => go({ from: undefined, to: undefined }) }, 'Whole journal')),
      chart,
      h('p', { 'data-testid': 'chosen' }, 'Chosen point: ', h('strong', {}, `seq:${point.seq}`), ', captured ', timeEl(time)),
      momentForm),
    // A volume is read through images; a directory tree is browsed and compared.
    ...(point.kind === 'volume' ? [imagePanel(view)] : [browsePanel(view), changesPanel(view)]),
    bookmarksPanel(view),
    policyPanel(view),
  );
}
