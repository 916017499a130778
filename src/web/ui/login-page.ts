/** The login form. */
import { api, describeError, type Me } from './api.js';
import { h, mount } from './dom.js';

export function renderLogin(main: HTMLElement, done: (me: Me) => void): void {
  const user = h('input', { id: 'login-user', name: 'user', autocomplete: 'username', required: true });
  const password = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const error = h('p', { className: 'error', role: 'alert', 'data-testid': 'login-error' });
  const form = h('form', { className: 'card login', 'aria-label': 'Log in' },
    h('h1', {}, 'Log in to Tidemark'),
    h('label', { for: 'login-user' }, 'User'), user,
    h('label', { for: 'login-password' }, 'Password'), password,
    h('button', { type: 'submit' }, 'Log in'),
    error,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    error.textContent = '';
    api<Me>('POST', '/api/login', { user: user.value, password: password.value })
      .then(done, (err: unknown) => { error.textContent = describeError(err); password.select(); });
  });
  mount(main, form);
  user.focus();
}
