/**
 * A volume group at the chosen point: start an image of it (read-only, or read/write
 * through a copy-on-write overlay that never touches the journal) and see the exact
 * commands that attach it on the server; running images of the group, each with Stop.
 */
import { api, describeError } from './api.js';
import { formatBytes, h, mount, timeEl } from './dom.js';
import type { GroupView } from './group-page.js';

interface ImageInfo { id: string; group: string; seq: number; time: string; rw: boolean; size: number; uri: string; attach: string[]; startedBy: string }

export function imagePanel(v: GroupView): HTMLElement {
  const g = encodeURIComponent(v.group);
  const list = h('div', { 'data-testid': 'images' }, 'Loading…');
  const status = h('p', { role: 'status', 'data-testid': 'image-status' });
  const rw = h('input', { id: 'image-rw', type: 'checkbox' });
  const canStart = v.me.role !== 'viewer';
  const refresh = (): void => {
    api<{ images: ImageInfo[] }>('GET', '/api/images').then((r) => {
      const mine = r.images.filter((i) => i.group === v.group);
      mount(list, mine.length === 0 ? h('p', { className: 'muted' }, 'No image of this volume is running.') : h('div', {}, ...mine.map((i) =>
        h('div', { className: 'card', 'data-testid': 'image', 'data-id': i.id },
          h('p', {}, h('strong', {}, `seq:${i.seq}`), ' (', timeEl(i.time), `), ${formatBytes(i.size)}, ${i.rw ? 'read/write (copy-on-write overlay)' : 'read-only'}, started by ${i.startedBy}`),
          h('p', {}, 'Attach it on the server:'),
          h('pre', { 'data-testid': 'attach' }, i.attach.join('\n')),
          canStart ? h('button', { type: 'button', onclick: () => { api('DELETE', `/api/images/${i.id}`).then(refresh, (err: unknown) => { status.textContent = describeError(err); }); } }, 'Stop image') : null))));
    }, (err: unknown) => mount(list, h('p', { className: 'error', role: 'alert' }, describeError(err))));
  };
  const start = (): void => {
    status.textContent = 'Starting…';
    api<ImageInfo>('POST', `/api/groups/${g}/images`, { at: v.at, rw: rw.checked }).then((i) => {
      status.textContent = `Image of seq:${i.seq} ready at ${i.uri}`;
      refresh();
    }, (err: unknown) => { status.textContent = describeError(err); });
  };
  refresh();
  return h('section', { className: 'card', 'aria-label': 'Volume images' },
    h('h2', {}, 'Volume images'),
    h('p', {}, 'This group is a volume. An image serves it as it was at the chosen point at once, over NBD, without copying it first.'),
    canStart
      ? h('div', { className: 'row' }, rw, h('label', { for: 'image-rw' }, ' Read/write (a copy-on-write overlay; the journal is never touched)'),
        h('span', { className: 'spacer' }),
        h('button', { type: 'button', 'data-testid': 'start-image', onclick: start }, `Start image of seq:${v.seq}`))
      : h('p', { className: 'muted' }, 'Viewers cannot start images.'),
    status, list);
}
