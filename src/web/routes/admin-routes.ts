/** Policies, users and the audit log. Changing a policy or a user takes an admin. */
import { z } from 'zod';
import { requireGroup } from '../../image/point.js';
import { formatDuration, parseDuration, readPolicy, writePolicy, MAX_KEEP_COUNT } from '../../vault/retention/retention-policy.js';
import { route, type Route } from '../router.js';
import type { ConsoleDeps } from '../console-deps.js';
import { groupParams, intParam, password, role, userName } from './schemas.js';

const policyBody = z.object({
  rpoTargetMs: z.number().int().min(1000).max(30 * 24 * 3600_000).optional(),
  keepWithin: z.string().max(20).regex(/^(0|\d{1,9}[mhdw])$/, 'must be a duration like 30m, 12h, 7d, 2w or 0').optional(),
  keepHourly: z.number().int().min(0).max(MAX_KEEP_COUNT).optional(),
  keepDaily: z.number().int().min(0).max(MAX_KEEP_COUNT).optional(),
}).strict();

export function adminRoutes(d: ConsoleDeps): Route[] {
  const v = d.vault;
  const policyJson = (group: string): Record<string, unknown> => {
    const { policy, stored, updated } = readPolicy(v, group);
    return {
      group, rpoTargetMs: d.settings.rpoTargetMs(group), keepWithin: formatDuration(policy.keepWithinMs),
      keepHourly: policy.keepHourly, keepDaily: policy.keepDaily, keepBookmarks: true, stored, updated: updated ?? null,
    };
  };
  return [
    route({
      method: 'GET', path: '/api/groups/{group}/policy', summary: "A group's RPO target and retention policy", role: 'viewer', params: groupParams,
      handler({ params }) {
        requireGroup(v, params.group);
        return { json: policyJson(params.group) };
      },
    }),
    route({
      method: 'PUT', path: '/api/groups/{group}/policy', summary: 'Change the RPO target and/or retention (unnamed settings are kept)', role: 'admin',
      params: groupParams, body: policyBody,
      handler({ params, body, user, ip }) {
        requireGroup(v, params.group);
        const before = policyJson(params.group);
        if (body.rpoTargetMs !== undefined) d.settings.update(params.group, { rpoTargetMs: body.rpoTargetMs });
        if (body.keepWithin !== undefined || body.keepHourly !== undefined || body.keepDaily !== undefined) {
          const { policy } = readPolicy(v, params.group);
          writePolicy(v, params.group, {
            ...policy,
            keepWithinMs: body.keepWithin !== undefined ? parseDuration(body.keepWithin, 'keepWithin') : policy.keepWithinMs,
            keepHourly: body.keepHourly ?? policy.keepHourly, keepDaily: body.keepDaily ?? policy.keepDaily,
          });
        }
        const after = policyJson(params.group);
        d.audit.append({ user: user!.name, ip, action: 'policy.change', target: params.group, result: 'ok', details: { before, after } });
        return { json: after };
      },
    }),
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
