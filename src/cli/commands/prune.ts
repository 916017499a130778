/** `tidemark retention` (show or set a group's policy) and `tidemark prune` (apply it, collect garbage). */
import type { Command } from 'commander';
import { nowMs } from '../../common/clock.js';
import { pruneVault, type PruneReport } from '../../vault/prune.js';
import {
  describePolicy, formatDuration, parseDuration, parseKeepCount, readPolicy, writePolicy, type RetentionPolicy,
} from '../../vault/retention/retention-policy.js';
import { formatBytes, openVault, output, progressLine, withGlobals, type GlobalOptions } from '../cli-context.js';
import { validateGroup } from './protect.js';

interface RetentionOptions extends GlobalOptions { keepWithin?: string; keepHourly?: string; keepDaily?: string }

function policyJson(group: string, p: RetentionPolicy, stored: boolean, updated?: string): Record<string, unknown> {
  return { group, keepWithin: formatDuration(p.keepWithinMs), keepWithinMs: p.keepWithinMs, keepHourly: p.keepHourly, keepDaily: p.keepDaily, keepBookmarks: true, stored, updated: updated ?? null };
}

function summarize(r: PruneReport): string {
  const lines = [r.dryRun ? `Dry run at ${r.now}: nothing was changed. prune would:` : `Pruned at ${r.now}:`];
  for (const g of r.groups) {
    lines.push(`  group "${g.group}" (${g.policy.keepWithin} of every point, ${g.policy.keepHourly} hourly, ${g.policy.keepDaily} daily): ` +
      `${g.points} points, ${g.pointsDropped} dropped, ${g.versionsDropped} versions dropped` +
      (g.compactedThrough !== null ? `; journal compacted through seq:${g.compactedThrough}` : '') +
      (g.pointsDeferred > 0 ? `; ${g.pointsDeferred} more to drop once their commit leaves the window` : ''));
  }
  if (r.groups.length === 0) lines.push('  no groups');
  lines.push(`  packs: ${r.packsDeleted} deleted, ${r.packsRepacked} repacked, ${r.packsWritten} written; ` +
    `${formatBytes(Math.max(0, r.bytesFreed))} freed (${formatBytes(r.bytesDeleted)} deleted, ${formatBytes(r.bytesWritten)} written)`);
  for (const w of r.warnings) lines.push(`  warning: ${w}`);
  return lines.join('\n');
}

export function registerPrune(program: Command): void {
  withGlobals(program.command('retention').argument('<group>').description('show or set a group\'s retention policy'))
    .option('--keep-within <duration>', 'keep every point this long (30m, 12h, 7d, 2w; default 7d)')
    .option('--keep-hourly <n>', 'beyond that, keep the last point of each of the N most recent hours (default 48)')
    .option('--keep-daily <n>', 'beyond that, keep the last point of each of the N most recent days (default 30)')
    .action((group: string, o: RetentionOptions) => {
      validateGroup(group);
      // Parse every option before touching anything: an invalid one changes nothing.
      const within = o.keepWithin === undefined ? undefined : parseDuration(o.keepWithin, '--keep-within');
      const hourly = o.keepHourly === undefined ? undefined : parseKeepCount(o.keepHourly, '--keep-hourly');
      const daily = o.keepDaily === undefined ? undefined : parseKeepCount(o.keepDaily, '--keep-daily');
      const vault = openVault(o, false, 'retention');
      try {
        const current = readPolicy(vault, group);
        let shown = current;
        const change = within !== undefined || hourly !== undefined || daily !== undefined;
        if (change) {
          const next: RetentionPolicy = {
            keepWithinMs: within ?? current.policy.keepWithinMs,
            keepHourly: hourly ?? current.policy.keepHourly,
            keepDaily: daily ?? current.policy.keepDaily,
            keepBookmarks: true,
          };
          const now = new Date(nowMs());
          writePolicy(vault, group, next, now);
          shown = { policy: next, stored: true, updated: now.toISOString() };
        }
        const known = vault.index.groupId(group) !== undefined;
        output(o, { ...policyJson(group, shown.policy, shown.stored, shown.updated), changed: change }, () =>
          `${change ? 'Set the' : shown.stored ? 'The' : 'The default'} retention policy of group "${group}": ${describePolicy(shown.policy)}` +
          (known ? '' : `\n  (the vault has no group "${group}" yet)`));
      } finally {
        vault.close();
      }
    });

  withGlobals(program.command('prune').description('thin every group by its retention policy, then delete and repack unused data'))
    .option('--dry-run', 'show what would be dropped and freed; change nothing')
    .action((o: GlobalOptions & { dryRun?: boolean }) => {
      const now = nowMs();
      const vault = openVault(o, true, o.dryRun ? 'prune --dry-run' : 'prune');
      try {
        const line = progressLine(o);
        const r = pruneVault(vault, { now, dryRun: o.dryRun === true, onProgress: line });
        line.done();
        output(o, r, () => summarize(r));
      } finally {
        vault.close();
      }
    });
}
