/** A group's policy (RPO target, retention) in a vault console. Changing it takes an admin. */
import { z } from 'zod';
import { requireGroup } from '../../image/point.js';
import { formatDuration, parseDuration, readPolicy, writePolicy, MAX_KEEP_COUNT } from '../../vault/retention/retention-policy.js';
import { route, type Route } from '../router.js';
import type { ConsoleDeps } from '../console-deps.js';
import { groupParams } from './schemas.js';

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
  ];
}
