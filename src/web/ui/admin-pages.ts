/** The audit log and (for admins) the users page. */
import { api, describeError } from './api.js';
import { h, mount, timeEl } from './dom.js';

interface AuditEntry { time: string; user: string; action: string; target: string; result: string; ip?: string; details?: Record<string, unknown> }
interface User { name: string; role: string; created: string; updated: string }

export async function renderAudit(main: HTMLElement): Promise<void> {
  const { entries } = await api<{ entries: AuditEntry[] }>('GET', '/api/audit?limit=500');
  mount(main,
    h('h1', {}, 'Audit log'),
    h('p', { className: 'muted' }, 'Every login, restore, download, bookmark, policy and user change, newest first.'),
    h('div', { className: 'scroll' }, h('table', { className: 'audit' },
      h('thead', {}, h('tr', {}, ...['When', 'Who', 'What', 'On', 'Result', 'Details'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, ...entries.map((e) => h('tr', { 'data-action': e.action },
        h('td', {}, timeEl(e.time)), h('td', {}, e.user), h('td', {}, e.action), h('td', {}, e.target),
        h('td', {}, h('span', { className: `badge ${e.result === 'ok' ? 'green' : e.result === 'refused' ? 'amber' : 'red'}` }, e.result)),
        h('td', { className: 'small' }, e.details ? JSON.stringify(e.details) : '')))))),
  );
}

export async function renderUsers(main: HTMLElement): Promise<void> {
  const { users } = await api<{ users: User[] }>('GET', '/api/users');
  const msg = h('p', { role: 'status' });
  const name = h('input', { id: 'nu-name', required: true, autocomplete: 'off' });
  const pass = h('input', { id: 'nu-pass', type: 'password', required: true, minlength: 10, autocomplete: 'new-password' });
  const role = h('select', { id: 'nu-role' }, ...['viewer', 'operator', 'admin'].map((r) => h('option', { value: r }, r)));
  const form = h('form', { className: 'card inline', 'aria-label': 'Add a user' },
    h('h2', {}, 'Add a user'),
    h('label', { for: 'nu-name' }, 'Name'), name, h('label', { for: 'nu-role' }, 'Role'), role,
    h('label', { for: 'nu-pass' }, 'Password (10+ characters)'), pass, h('button', { type: 'submit' }, 'Add'), msg);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    api('POST', '/api/users', { name: name.value, role: role.value, password: pass.value })
      .then(() => renderUsers(main), (err: unknown) => { msg.className = 'error'; msg.textContent = describeError(err); });
  });
  mount(main,
    h('h1', {}, 'Users'),
    h('p', { className: 'muted' }, 'Viewers look; operators also restore and bookmark; admins also change policies and users.'),
    h('div', { className: 'scroll' }, h('table', {},
      h('thead', {}, h('tr', {}, ...['Name', 'Role', 'Created', 'Changed', 'Change'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, ...users.map((u) => h('tr', { 'data-user': u.name }, h('td', {}, u.name), h('td', {}, u.role), h('td', {}, timeEl(u.created)), h('td', {}, timeEl(u.updated)),
        h('td', {}, userControls(main, u, msg))))))),
    form,
  );
}

/** Per-user controls: change the role, set a password, remove. */
function userControls(main: HTMLElement, u: User, msg: HTMLElement): HTMLElement {
  const id = `u-${u.name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  const role = h('select', { id: `${id}-role`, 'aria-label': `Role of ${u.name}` }, ...['viewer', 'operator', 'admin'].map((r) => h('option', { value: r, selected: r === u.role }, r)));
  const pass = h('input', { id: `${id}-pass`, type: 'password', placeholder: 'new password', autocomplete: 'new-password', 'aria-label': `New password for ${u.name}`, size: 14 });
  const fail = (err: unknown): void => { msg.className = 'error'; msg.textContent = describeError(err); };
  const change = (body: Record<string, string>): void => {
    api('PATCH', `/api/users/${encodeURIComponent(u.name)}`, body).then(() => renderUsers(main), fail);
  };
  return h('div', { className: 'row' },
    role, h('button', { type: 'button', onclick: () => change({ role: role.value }) }, 'Set role'),
    pass, h('button', { type: 'button', onclick: () => change({ password: pass.value }) }, 'Set password'),
    h('button', {
      type: 'button', className: 'link', onclick: () => {
        if (confirm(`Remove the user ${u.name}?`)) api('DELETE', `/api/users/${encodeURIComponent(u.name)}`).then(() => renderUsers(main), fail);
      },
    }, 'Remove'));
}
