/** `tidemark analyze`: write-rate percentiles by hour and the bandwidth a given RPO needs, from a hub's I/O profile. */
import type { Command } from 'commander';
import { join, resolve } from 'node:path';
import { TidemarkError } from '../../common/errors.js';
import { profileSummary } from '../../hub/io-analysis.js';
import { profiledGroups, readProfileFile } from '../../hub/rate-profile.js';
import { formatBytes, output, type GlobalOptions } from '../cli-context.js';

function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new TidemarkError('TM_USAGE', `"${text}" is not a duration`, { hint: 'write e.g. 30s, 5m or 1h' });
  return Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'] ?? 1000);
}

export function registerAnalyze(program: Command): void {
  program.command('analyze').description('I/O profile of each group from a hub\'s state: write rates by hour, bandwidth for an RPO')
    .requiredOption('--state <dir>', 'the hub\'s state directory')
    .option('--group <name>', 'only this group')
    .option('--rpo <duration>', 'the RPO to size the bandwidth for', '60s')
    .option('--json', 'print machine-readable JSON on stdout')
    .action((o: GlobalOptions & { state: string; group?: string; rpo: string }) => {
      const dir = join(resolve(o.state), 'profile');
      const rpoMs = parseDuration(o.rpo);
      const groups = profiledGroups(dir).filter((g) => !o.group || g === o.group).sort().map((group) => {
        return { group, ...profileSummary(readProfileFile(join(dir, `${group}.jsonl`)), rpoMs) };
      });
      if (groups.length === 0) throw new TidemarkError('TM_NOT_FOUND', `No I/O profile in ${dir}${o.group ? ` for group "${o.group}"` : ''}`, { hint: 'the hub writes one line per group and minute of activity' });
      output(o, { groups }, () => groups.map((g) => [
        `Group "${g.group}": ${formatBytes(g.capturedBytes)} captured; holding an RPO of ${o.rpo} needs ${formatBytes(g.bandwidthForRpo)}/s; journal: ~${formatBytes(g.bytesPerDay)} per day of retention`,
        '  hour(UTC)  p50/s      p95/s      p99/s      max/s',
        ...g.byHour.map((h) => `  ${String(h.hour).padStart(2, '0')}:00     ${[h.p50, h.p95, h.p99, h.max].map((v) => formatBytes(v).padEnd(10)).join(' ')}`),
      ].join('\n')).join('\n'));
    });
}
