/**
 * The tree at the chosen point: a breadcrumb, the entries of the current directory, a
 * download link per file, and (for operators) restoring a file or the directory to a
 * target path on the server, with progress.
 */
import { api, describeError, qs } from './api.js';
import { formatBytes, h, mount, timeEl } from './dom.js';
import type { GroupView } from './group-page.js';

interface Entry { path: string; name: string; type: string; size: number; mtime: string }
interface Job { id: string; state: string; files: number; dirs: number; bytes: number; error: string | null; target: string }

export function browsePanel(v: GroupView): HTMLElement {
  const g = encodeURIComponent(v.group);
  const body = h('div', {}, 'Loading…');
  const restoreArea = h('div', {});
  const section = h('section', { className: 'card', 'aria-label': 'Browse and restore' }, h('h2', {}, 'Browse and restore'), body, restoreArea);
  const canRestore = v.me.role !== 'viewer';
  const parts = v.path.split('/').filter(Boolean);
  const crumbs = h('nav', { className: 'crumbs', 'aria-label': 'Path' },
    h('a', { href: '#', onclick: (e: Event) => { e.preventDefault(); v.go({ path: undefined }); } }, v.group),
    ...parts.flatMap((p, i) => [' / ', h('a', { href: '#', onclick: (e: Event) => { e.preventDefault(); v.go({ path: parts.slice(0, i + 1).join('/') }); } }, p)]));
  api<{ type: string; entries: Entry[] }>('GET', `/api/groups/${g}/tree${qs({ at: v.at, path: v.path })}`).then((tree) => {
    const rows = tree.entries.map((e) => h('tr', { 'data-path': e.path },
      h('td', {}, e.type === 'dir'
        ? h('a', { href: '#', onclick: (ev: Event) => { ev.preventDefault(); v.go({ path: e.path }); } }, `${e.name}/`)
        : e.name),
      h('td', {}, e.type), h('td', { className: 'num' }, e.type === 'file' ? formatBytes(e.size) : ''), h('td', {}, timeEl(e.mtime)),
      h('td', { className: 'actions' },
        e.type === 'file' ? h('a', { href: `/api/groups/${g}/file${qs({ at: v.at, path: e.path })}`, download: e.name, 'data-testid': 'download' }, 'Download') : null,
        canRestore ? h('button', { type: 'button', className: 'link', 'data-testid': 'restore-entry', onclick: () => showRestore(v, restoreArea, e.path) }, 'Restore…') : null)));
    mount(body,
      crumbs,
      h('div', { className: 'row' },
        h('span', { className: 'muted' }, `${tree.entries.length} entries at seq:${v.seq}`),
        h('span', { className: 'spacer' }),
        canRestore ? h('button', { type: 'button', 'data-testid': 'restore-here', onclick: () => showRestore(v, restoreArea, v.path) }, v.path ? 'Restore this folder…' : 'Restore everything…') : h('span', { className: 'muted' }, 'Viewers cannot restore.')),
      h('div', { className: 'scroll' }, h('table', { className: 'tree' },
        h('thead', {}, h('tr', {}, ...['Name', 'Type', 'Size', 'Modified', ''].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, ...rows))));
  }, (err: unknown) => mount(body, crumbs, h('p', { className: 'error', role: 'alert' }, describeError(err))));
  return section;
}

function showRestore(v: GroupView, area: HTMLElement, path: string): void {
  const target = h('input', { id: 'restore-target', required: true, placeholder: '/srv/restores/today', size: 40 });
  const overwrite = h('input', { id: 'restore-overwrite', type: 'checkbox' });
  const production = h('input', { id: 'restore-production', type: 'checkbox' });
  const prodRow = h('div', { className: 'warn', hidden: true },
    production, h('label', { for: 'restore-production' }, ' I confirm: restore over the protected source (production)'));
  const status = h('div', { role: 'status', 'data-testid': 'restore-status' });
  // The same restore from a shell on the server, for scripts and runbooks.
  const command = h('code', { 'data-testid': 'restore-command' });
  const quote = (x: string): string => (/^[\w@%+=:,./-]+$/.test(x) ? x : `'${x.replace(/'/g, `'\\''`)}'`);
  const showCommand = (): void => {
    command.textContent = ['tidemark', 'restore', v.group, '--at', v.at, ...(path ? ['--path', path] : []), '--to', target.value || 'DIR', ...(overwrite.checked ? ['--overwrite'] : [])].map(quote).join(' ');
  };
  target.addEventListener('input', showCommand);
  overwrite.addEventListener('change', showCommand);
  showCommand();
  const progress = h('progress', { hidden: true });
  const form = h('form', { className: 'restore', 'aria-label': 'Restore' },
    h('h3', {}, `Restore /${path} as of seq:${v.seq}`),
    h('label', { for: 'restore-target' }, 'Target directory on the server (absolute; empty or new)'), target,
    h('div', {}, overwrite, h('label', { for: 'restore-overwrite' }, ' Replace what is in the way (target not empty)')),
    prodRow,
    h('div', { className: 'small' }, 'From a shell: ', command),
    h('div', { className: 'row' }, h('button', { type: 'submit' }, 'Start restore'), h('button', { type: 'button', onclick: () => mount(area) }, 'Cancel')),
    progress, status);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    status.className = '';
    status.textContent = 'Starting…';
    const body = { at: v.at, path, target: target.value, overwrite: overwrite.checked, confirmProduction: production.checked };
    api<Job>('POST', `/api/groups/${encodeURIComponent(v.group)}/restores`, body).then((job) => follow(job, status, progress), (err: unknown) => {
      status.className = 'error';
      status.textContent = describeError(err);
      if ((err as { code?: string }).code === 'TM_PRODUCTION_TARGET') prodRow.hidden = false;
    });
  });
  mount(area, form);
  target.focus();
}

/** Poll a restore job until it ends (bounded: a job that never ends stops being polled after an hour). */
function follow(job: Job, status: HTMLElement, progress: HTMLProgressElement): void {
  progress.hidden = false;
  const started = Date.now();
  const show = (j: Job): void => {
    status.textContent = `${j.state === 'running' ? 'Restoring' : j.state === 'done' ? 'Done' : 'Failed'}: ${j.files} file(s), ${j.dirs} dir(s), ${formatBytes(j.bytes)} into ${j.target}${j.error ? ` — ${j.error}` : ''}`;
    status.className = j.state === 'failed' ? 'error' : j.state === 'done' ? 'ok' : '';
    status.setAttribute('data-state', j.state);
  };
  show(job);
  const tick = (): void => {
    api<Job>('GET', `/api/jobs/${job.id}`).then((j) => {
      show(j);
      if (j.state === 'running' && Date.now() - started < 3600_000) setTimeout(tick, 300);
      else progress.hidden = true;
    }, (err: unknown) => { status.className = 'error'; status.textContent = describeError(err); progress.hidden = true; });
  };
  setTimeout(tick, 200);
}
