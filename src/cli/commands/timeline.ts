/** `tidemark timeline` and `tidemark bookmark`: a group's points and named points. */
import type { Command } from 'commander';
import { TidemarkError } from '../../common/errors.js';
import { requireGroup, resolvePoint } from '../../image/point.js';
import { displayPath } from '../../common/rel-path.js';
import { openVault, output, withGlobals, type GlobalOptions } from '../cli-context.js';

const iso = (t: number): string => new Date(t).toISOString();

export function registerTimeline(program: Command): void {
  withGlobals(program.command('timeline').argument('<group>').description('show the recovery points of a group'))
    .action((group: string, o: GlobalOptions) => {
      const vault = openVault(o, false, 'timeline');
      try {
        const gid = requireGroup(vault, group);
        const first = vault.index.firstPoint(gid)!;
        const last = vault.index.lastPoint(gid)!;
        const bookmarks = vault.index.bookmarks(gid).map((b) => ({ name: b.name, seq: b.seq, time: iso(b.time), consistency: b.consistency, tags: b.tags }));
        const points = vault.index.pointCount(gid);
        const torn = { captures: vault.index.tornCount(gid), atLatest: vault.index.tornAt(gid, last.seq).map((t) => displayPath(t.path)) };
        output(o, { group, first: { seq: first.seq, time: iso(first.time) }, last: { seq: last.seq, time: iso(last.time) }, points, torn, bookmarks }, () => [
          `Group "${group}": ${points} recovery points` + (torn.captures ? `, ${torn.captures} torn capture(s) (files read while being written)` : ''),
          `  first  seq:${first.seq}  ${iso(first.time)}`,
          `  last   seq:${last.seq}  ${iso(last.time)}`,
          ...(torn.atLatest.length ? [`  torn at the last point (reads give their last clean version): ${torn.atLatest.join(', ')}`] : []),
          ...(bookmarks.length ? ['  bookmarks:', ...bookmarks.map((b) => `    ${b.name}  seq:${b.seq}  ${b.time}  ${b.consistency}${b.tags.length ? '  [' + b.tags.join(', ') + ']' : ''}`)] : []),
        ].join('\n'));
      } finally {
        vault.close();
      }
    });

  withGlobals(program.command('bookmark').argument('<group>').argument('<name>').description('name a recovery point (default: the latest)'))
    .option('--at <point>', 'the point to name', 'latest')
    .option('--consistency <kind>', 'crash or app', 'crash')
    .option('--tag <tag...>', 'tags (pre-patch, quarter-close, …)')
    .action((group: string, name: string, o: GlobalOptions & { at?: string; consistency: string; tag?: string[] }) => {
      if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(name)) throw new TidemarkError('TM_USAGE', `"${name}" is not a valid bookmark name`, { hint: 'use letters, digits, ".", "_", ":" and "-"' });
      if (o.consistency !== 'crash' && o.consistency !== 'app') throw new TidemarkError('TM_USAGE', `--consistency must be crash or app, not "${o.consistency}"`);
      const vault = openVault(o, false, 'bookmark');
      try {
        const p = resolvePoint(vault, group, o.at);
        if (vault.index.bookmark(p.groupId, name)) throw new TidemarkError('TM_USAGE', `Group "${group}" already has a bookmark "${name}"`);
        vault.addBookmark({ group, name, seq: p.seq, time: p.time, consistency: o.consistency, tags: o.tag ?? [] });
        output(o, { group, name, seq: p.seq, time: iso(p.time), consistency: o.consistency, tags: o.tag ?? [] }, () => `Bookmarked seq:${p.seq} (${iso(p.time)}) of group "${group}" as "${name}"`);
      } finally {
        vault.close();
      }
    });
}
