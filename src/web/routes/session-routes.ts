/** Logging in and out, and who the session belongs to. */
import { z } from 'zod';
import { ApiError } from '../http-errors.js';
import { parseCookies } from '../http-kit.js';
import { route, type Route } from '../router.js';
import { SESSION_COOKIE, sessionCookie } from '../auth/sessions.js';
import type { AuthDeps } from '../console-deps.js';

const loginBody = z.object({ user: z.string().min(1).max(64), password: z.string().min(1).max(1024) }).strict();

export function sessionRoutes(d: AuthDeps): Route[] {
  return [
    route({
      method: 'POST', path: '/api/login', summary: 'Log in; sets the session cookie and returns the CSRF token', role: 'public', body: loginBody,
      async handler({ body, ip }) {
        const wait = d.limiter.retryAfterMs(ip, body.user);
        if (wait > 0) {
          d.audit.append({ user: body.user, ip, action: 'login', target: body.user, result: 'refused', details: { reason: 'rate limited' } });
          throw new ApiError('TM_RATE_LIMITED', 'Too many failed logins: wait before trying again', undefined, { 'Retry-After': String(Math.ceil(wait / 1000)) });
        }
        const user = await d.users.verify(body.user, body.password);
        if (!user) {
          d.limiter.recordFailure(ip, body.user);
          d.audit.append({ user: body.user, ip, action: 'login', target: body.user, result: 'refused', details: { reason: 'wrong user name or password' } });
          throw new ApiError('TM_BAD_LOGIN', 'Wrong user name or password');
        }
        d.limiter.recordSuccess(ip, body.user);
        const { token, session } = d.sessions.create(user.name);
        d.audit.append({ user: user.name, ip, action: 'login', target: user.name, result: 'ok' });
        return { json: { user: user.name, role: user.role, csrfToken: session.csrf, console: d.kind }, headers: { 'Set-Cookie': sessionCookie(token, d.secure) } };
      },
    }),
    route({
      method: 'POST', path: '/api/logout', summary: 'End the session', role: 'viewer',
      handler({ req }) {
        d.sessions.end(parseCookies(req).get(SESSION_COOKIE));
        return { json: { ok: true }, headers: { 'Set-Cookie': sessionCookie('', d.secure, 0) } };
      },
    }),
    route({
      method: 'GET', path: '/api/session', summary: 'The logged-in user, role and CSRF token, and what the console serves (vault or hub)', role: 'viewer',
      handler({ user, session }) {
        return { json: { user: user!.name, role: user!.role, csrfToken: session!.csrf, console: d.kind } };
      },
    }),
  ];
}
