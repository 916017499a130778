/** The audit log and the console's users, in every console (vault or hub). Changing users takes an admin. */
import { z } from 'zod';
import { route, type Route } from '../router.js';
import type { AuthDeps } from '../console-deps.js';
import { intParam, password, role, userName } from './schemas.js';

export function userRoutes(d: AuthDeps): Route[] {
  return [
    route({
      method: 'GET', path: '/api/audit', summary: 'The most recent audit log entries, newest first', role: 'viewer',
      query: z.object({ limit: intParam(1, 5000).optional() }).strict(),
      handler({ query }) {
        return { json: { entries: d.audit.recent(query.limit ?? 200) } };
      },
    }),
    route({
      method: 'GET', path: '/api/users', summary: 'The console users and their roles', role: 'admin',
      handler() {
        return { json: { users: d.users.list() } };
      },
    }),
    route({
      method: 'POST', path: '/api/users', summary: 'Add a user', role: 'admin',
      body: z.object({ name: userName, role, password }).strict(),
      async handler({ body, user, ip }) {
        const u = await d.users.add(body.name, body.role, body.password);
        d.audit.append({ user: user!.name, ip, action: 'user.add', target: u.name, result: 'ok', details: { role: u.role } });
        return { status: 201, json: u };
      },
    }),
    route({
      method: 'PATCH', path: '/api/users/{name}', summary: "Change a user's role and/or password (ends their sessions)", role: 'admin',
      params: z.object({ name: userName }).strict(), body: z.object({ role: role.optional(), password: password.optional() }).strict(),
      async handler({ params, body, user, ip }) {
        const u = await d.users.update(params.name, body);
        d.sessions.endUser(params.name);
        d.audit.append({ user: user!.name, ip, action: 'user.change', target: u.name, result: 'ok', details: { role: body.role ?? null, password: body.password !== undefined ? 'changed' : 'kept' } });
        return { json: u };
      },
    }),
    route({
      method: 'DELETE', path: '/api/users/{name}', summary: 'Remove a user (never the last admin)', role: 'admin',
      params: z.object({ name: userName }).strict(),
      handler({ params, user, ip }) {
        d.users.remove(params.name);
        d.sessions.endUser(params.name);
        d.audit.append({ user: user!.name, ip, action: 'user.remove', target: params.name, result: 'ok' });
        return { json: { removed: params.name } };
      },
    }),
  ];
}
