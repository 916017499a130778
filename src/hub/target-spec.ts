/**
 * A hub's replication target, as given on the command line:
 *
 *   NAME=tls://HOST:PORT[,mode=sync|async][,outage=block|degrade][,timeout=5s][,rate=SCHEDULE][,groups=G1|G2]
 *
 * mode: `sync` — a change is reported protected only once this target has it durably;
 * `async` — lag allowed and measured. outage (sync only): `block` — while the target is
 * unreachable nothing newer is reported protected; `degrade` — after `timeout` the target
 * is treated as async (with an alert) until it has caught up. rate: a bandwidth schedule
 * (bandwidth-schedule.ts). groups: the groups this target receives (default: every group the
 * hub receives).
 */
import { z } from 'zod';
import { TidemarkError } from '../common/errors.js';
import { parseNodeUrl } from '../pki/tls-identity.js';
import { parseSchedule, type RateWindow } from '../replication/bandwidth-schedule.js';

export interface TargetSpec {
  name: string;
  url: string;
  mode: 'sync' | 'async';
  outage: 'block' | 'degrade';
  timeoutMs: number;
  schedule: RateWindow[];
  /** the schedule as written, for status */
  rate: string;
  /** the groups this target receives; null: all */
  groups: string[] | null;
}

const Keys = z.object({
  mode: z.enum(['sync', 'async']).default('async'),
  outage: z.enum(['block', 'degrade']).default('degrade'),
  timeout: z.string().regex(/^\d+(ms|s)?$/).default('5s'),
  rate: z.string().default('unlimited'),
  groups: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}(\|[A-Za-z0-9][A-Za-z0-9._-]{0,63})*$/, 'groups are written G1|G2').optional(),
});

function durationMs(s: string): number {
  return s.endsWith('ms') ? Number(s.slice(0, -2)) : Number(s.replace(/s$/, '')) * 1000;
}

export function parseTargetSpec(text: string): TargetSpec {
  const eq = text.indexOf('=');
  const name = text.slice(0, eq);
  if (eq <= 0 || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(name)) {
    throw new TidemarkError('TM_USAGE', `"${text}" is not a target`, { hint: 'write NAME=tls://HOST:PORT[,mode=sync|async][,outage=block|degrade][,timeout=5s][,rate=2MB][,groups=G1|G2]' });
  }
  const [url, ...opts] = text.slice(eq + 1).split(',');
  parseNodeUrl(url!);
  const kv: Record<string, string> = {};
  for (const o of opts) {
    const i = o.indexOf('=');
    if (i <= 0) throw new TidemarkError('TM_USAGE', `target ${name}: "${o}" is not KEY=VALUE`);
    kv[o.slice(0, i)] = o.slice(i + 1);
  }
  const r = Keys.strict().safeParse(kv);
  if (!r.success) throw new TidemarkError('TM_USAGE', `target ${name}: ${r.error.issues[0]?.path.join('.') ?? ''} ${r.error.issues[0]?.message ?? ''}`.trim());
  return { name, url: url!, mode: r.data.mode, outage: r.data.outage, timeoutMs: durationMs(r.data.timeout), schedule: parseSchedule(r.data.rate), rate: r.data.rate,
    groups: r.data.groups ? r.data.groups.split('|') : null };
}
