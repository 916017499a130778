/**
 * The console's single page: a hash router (#/login, #/, #/group/NAME, #/audit, #/users),
 * the navigation bar, and who is logged in. A hub's console shows its replication page at #/. Each page is a module rendering into <main>.
 */
import { api, setCsrf, type Me } from './api.js';
import { h, mount } from './dom.js';
import { renderLogin } from './login-page.js';
import { renderOverview } from './overview-page.js';
import { renderGroup } from './group-page.js';
import { renderAudit, renderUsers } from './admin-pages.js';
import { renderHub } from './hub-page.js';

let me: Me | null = null;

function nav(): void {
  const el = document.getElementById('nav')!;
  if (!me) { mount(el); return; }
  const who = me;
  mount(el,
    h('a', { href: '#/' }, who.console === 'hub' ? 'Replication' : 'Overview'),
    h('a', { href: '#/audit' }, 'Audit log'),
    who.role === 'admin' ? h('a', { href: '#/users' }, 'Users') : null,
    h('span', { className: 'who', 'data-testid': 'who' }, `${who.user} (${who.role})`),
    h('button', {
      type: 'button', className: 'link', onclick: async () => {
        await api('POST', '/api/logout').catch(() => undefined);
        me = null;
        location.hash = '#/login';
      },
    }, 'Log out'),
  );
}

/** Bumped on every navigation, so a pending refresh of a page left since does nothing. */
let generation = 0;
/** The overview refreshes itself this often while it is shown. */
const OVERVIEW_REFRESH_MS = 10_000;

async function route(refresh = false): Promise<void> {
  const gen = ++generation;
  const main = document.getElementById('main')!;
  const hash = location.hash || '#/';
  const [path, query = ''] = hash.slice(1).split('?');
  const params = new URLSearchParams(query);
  if (!me && path !== '/login') {
    try {
      me = await api<Me>('GET', '/api/session');
      setCsrf(me.csrfToken);
    } catch {
      location.hash = '#/login';
      return;
    }
  }
  nav();
  document.title = me?.console === 'hub' ? 'Tidemark hub console' : 'Tidemark console';
  try {
    if (path === '/login') {
      me = null;
      nav();
      renderLogin(main, (m) => { me = m; setCsrf(m.csrfToken); location.hash = '#/'; });
    } else if (path === '/' || path === '') {
      await (me!.console === 'hub' ? renderHub(main) : renderOverview(main));
      setTimeout(() => { if (gen === generation) void route(true); }, OVERVIEW_REFRESH_MS);
    } else if (path!.startsWith('/group/')) {
      await renderGroup(main, decodeURIComponent(path!.slice('/group/'.length)), params, me!);
    } else if (path === '/audit') {
      await renderAudit(main);
    } else if (path === '/users') {
      await renderUsers(main);
    } else {
      mount(main, h('p', {}, 'No such page. '), h('a', { href: '#/' }, 'Back to the overview'));
    }
  } catch (err) {
    mount(main, h('p', { className: 'error', role: 'alert' }, `Could not load this page: ${err instanceof Error ? err.message : String(err)}`));
  }
  // Focus moves to the new page for keyboard and screen-reader users, not on a silent refresh.
  if (!refresh) main.focus({ preventScroll: true });
}

window.addEventListener('hashchange', () => { void route(); });
void route();
