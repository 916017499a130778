/** The smaller panels of a group's page: changes between two moments, bookmarks, policy. */
import { api, describeError, qs } from './api.js';
import { formatBytes, formatDuration, h, mount, timeEl } from './dom.js';
import type { GroupView } from './group-page.js';

interface Change { path: string; change: string; type: string; sizeBefore: number | null; sizeAfter: number | null }
interface Bookmark { name: string; seq: number; time: string; consistency: string; tags: string[] }
interface Policy { rpoTargetMs: number; keepWithin: string; keepHourly: number; keepDaily: number; stored: boolean }

export function changesPanel(v: GroupView): HTMLElement {
  const g = encodeURIComponent(v.group);
  const from = h('input', { id: 'changes-from', value: v.at, size: 28 });
  const to = h('input', { id: 'changes-to', value: 'latest', size: 28 });
  const out = h('div', { 'data-testid': 'changes' });
  const form = h('form', { className: 'inline', 'aria-label': 'Compare two moments' },
    h('label', { for: 'changes-from' }, 'From'), from, h('label', { for: 'changes-to' }, 'to'), to,
    h('button', { type: 'submit' }, 'Show changes'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    mount(out, 'Loading…');
    api<{ from: { seq: number; time: string }; to: { seq: number; time: string }; changes: Change[]; truncated: boolean }>('GET', `/api/groups/${g}/changes${qs({ from: from.value, to: to.value })}`)
      .then((r) => mount(out,
        h('p', {}, `${r.changes.length}${r.truncated ? '+' : ''} change(s) from seq:${r.from.seq} (`, timeEl(r.from.time), `) to seq:${r.to.seq} (`, timeEl(r.to.time), ')'),
        h('div', { className: 'scroll' }, h('table', {},
          h('thead', {}, h('tr', {}, ...['Path', 'Change', 'Type', 'Size before', 'Size after'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, ...r.changes.map((c) => h('tr', { 'data-change': c.change },
            h('td', {}, c.path), h('td', {}, h('span', { className: `badge ${c.change === 'added' ? 'green' : c.change === 'deleted' ? 'red' : 'amber'}` }, c.change)),
            h('td', {}, c.type), h('td', { className: 'num' }, formatBytes(c.sizeBefore)), h('td', { className: 'num' }, formatBytes(c.sizeAfter)))))))),
      (err: unknown) => mount(out, h('p', { className: 'error', role: 'alert' }, describeError(err))));
  });
  return h('section', { className: 'card', 'aria-label': 'What changed' }, h('h2', {}, 'What changed between two moments'),
    h('p', { className: 'muted small' }, 'Points: latest, seq:N, bookmark:NAME or an ISO-8601 time.'), form, out);
}

export function bookmarksPanel(v: GroupView): HTMLElement {
  const g = encodeURIComponent(v.group);
  const list = h('div', {}, 'Loading…');
  const load = (): void => {
    api<{ bookmarks: Bookmark[] }>('GET', `/api/groups/${g}/bookmarks`).then((r) => mount(list, r.bookmarks.length === 0 ? h('p', { className: 'muted' }, 'No bookmarks yet.') :
      h('ul', { className: 'bookmarks' }, ...r.bookmarks.map((b) => h('li', {},
        h('a', { href: '#', onclick: (e: Event) => { e.preventDefault(); v.go({ at: `seq:${b.seq}` }); } }, b.name),
        ` seq:${b.seq} `, timeEl(b.time), ` ${b.consistency}${b.tags.length ? ` [${b.tags.join(', ')}]` : ''}`)))),
    (err: unknown) => mount(list, h('p', { className: 'error' }, describeError(err))));
  };
  load();
  let form: HTMLElement | null = null;
  if (v.me.role !== 'viewer') {
    const name = h('input', { id: 'bm-name', required: true, placeholder: 'pre-patch' });
    const consistency = h('select', { id: 'bm-consistency' }, h('option', { value: 'crash' }, 'crash-consistent'), h('option', { value: 'app' }, 'app-consistent'));
    const tags = h('input', { id: 'bm-tags', placeholder: 'tag1, tag2' });
    const msg = h('span', { role: 'status' });
    const f = h('form', { className: 'inline', 'aria-label': 'New bookmark' },
      h('label', { for: 'bm-name' }, `Bookmark seq:${v.seq} as`), name, consistency, h('label', { for: 'bm-tags' }, 'tags'), tags, h('button', { type: 'submit' }, 'Create'), msg);
    f.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const tagList = tags.value.split(',').map((t) => t.trim()).filter(Boolean);
      api('POST', `/api/groups/${g}/bookmarks`, { name: name.value, at: v.at, consistency: consistency.value, tags: tagList })
        .then(() => { msg.className = 'ok'; msg.textContent = 'Created.'; load(); }, (err: unknown) => { msg.className = 'error'; msg.textContent = describeError(err); });
    });
    form = f;
  }
  return h('section', { className: 'card', 'aria-label': 'Bookmarks' }, h('h2', {}, 'Bookmarks'), list, form);
}

export function policyPanel(v: GroupView): HTMLElement {
  const g = encodeURIComponent(v.group);
  const body = h('div', {}, 'Loading…');
  api<Policy>('GET', `/api/groups/${g}/policy`).then((p) => {
    if (v.me.role !== 'admin') {
      mount(body, h('p', {}, `RPO target ${formatDuration(p.rpoTargetMs)}; every point for ${p.keepWithin}, then ${p.keepHourly} hourly and ${p.keepDaily} daily points; bookmarks always.`),
        h('p', { className: 'muted small' }, 'Only admins change policies.'));
      return;
    }
    const rpo = h('input', { id: 'pol-rpo', type: 'number', min: 1, value: Math.round(p.rpoTargetMs / 1000) });
    const within = h('input', { id: 'pol-within', value: p.keepWithin, size: 6 });
    const hourly = h('input', { id: 'pol-hourly', type: 'number', min: 0, value: p.keepHourly });
    const daily = h('input', { id: 'pol-daily', type: 'number', min: 0, value: p.keepDaily });
    const msg = h('span', { role: 'status' });
    const f = h('form', { className: 'inline', 'aria-label': 'Policy' },
      h('label', { for: 'pol-rpo' }, 'RPO target (s)'), rpo, h('label', { for: 'pol-within' }, 'keep every point for'), within,
      h('label', { for: 'pol-hourly' }, 'hourly'), hourly, h('label', { for: 'pol-daily' }, 'daily'), daily, h('button', { type: 'submit' }, 'Save'), msg);
    f.addEventListener('submit', (ev) => {
      ev.preventDefault();
      api('PUT', `/api/groups/${g}/policy`, { rpoTargetMs: Number(rpo.value) * 1000, keepWithin: within.value, keepHourly: Number(hourly.value), keepDaily: Number(daily.value) })
        .then(() => { msg.className = 'ok'; msg.textContent = 'Saved (prune applies retention).'; }, (err: unknown) => { msg.className = 'error'; msg.textContent = describeError(err); });
    });
    mount(body, f);
  }, (err: unknown) => mount(body, h('p', { className: 'error' }, describeError(err))));
  return h('section', { className: 'card', 'aria-label': 'Policy' }, h('h2', {}, 'Policy'), body);
}
