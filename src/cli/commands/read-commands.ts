/** `tidemark ls`, `cat` and `restore`: read a group's tree as of a recovery point. */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { once } from 'node:events';
import { TidemarkError } from '../../common/errors.js';
import { displayPath, parseUserPath } from '../../common/rel-path.js';
import { resolvePoint, type ResolvedPoint } from '../../image/point.js';
import { VolumeIndex } from '../../vault/index/volume-index.js';
import type { Vault } from '../../vault/vault.js';
import { childrenAtPoint, describeEntries, describeTorn, fileChunks, requireEntry, tornAtPoint } from '../../image/tree-reader.js';
import { restoreTree } from '../../image/restore.js';
import { EntryKind, kindName } from '../../vault/journal/journal-record.js';
import { ReadHold } from '../../vault/vault-holds.js';
import { formatBytes, openVault, output, progressLine, withGlobals, type GlobalOptions } from '../cli-context.js';

/** A point of a file group (a volume group is read with `tidemark image`). */
function resolveTreePoint(vault: Vault, group: string, at: string | undefined, includeTorn?: boolean): ResolvedPoint {
  const p = { ...resolvePoint(vault, group, at), includeTorn: includeTorn === true };
  if (new VolumeIndex(vault.index).isVolume(p.groupId)) {
    throw new TidemarkError('TM_USAGE', `Group "${group}" is a volume, not a directory tree`, { hint: `use \`tidemark image ${group} --at ${at ?? 'latest'} --to FILE\` or \`--listen\`` });
  }
  return p;
}

interface AtOptions extends GlobalOptions { at?: string; includeTorn?: boolean }

const INCLUDE_TORN = 'read torn captures (files read while they were being written; their bytes may mix several states) instead of the last clean version';

function modeString(kind: number, mode: number): string {
  const t = kind === EntryKind.dir ? 'd' : kind === EntryKind.symlink ? 'l' : '-';
  let s = t;
  for (let shift = 6; shift >= 0; shift -= 3) {
    const m = (mode >> shift) & 7;
    s += (m & 4 ? 'r' : '-') + (m & 2 ? 'w' : '-') + (m & 1 ? 'x' : '-');
  }
  return s;
}

function parentOfDisplay(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

export function registerReadCommands(program: Command): void {
  withGlobals(program.command('ls').argument('<group>').argument('[path]', 'directory or file inside the group', '')
    .description('list a directory as it was at a recovery point'))
    .option('--at <point>', 'latest, an ISO-8601 time, seq:N or bookmark:NAME', 'latest')
    .option('--include-torn', INCLUDE_TORN)
    .action((group: string, path: string, o: AtOptions) => {
      const vault = openVault(o, false, 'ls');
      try {
        const p = resolveTreePoint(vault, group, o.at, o.includeTorn);
        const rel = parseUserPath(path);
        const self = requireEntry(vault, p, rel);
        const rows = self.entry.kind === EntryKind.dir ? [...childrenAtPoint(vault, p, rel)] : [self];
        // The listed entries that were being written at the point.
        const torn = tornAtPoint(vault, p, rel).filter((t) => (self.entry.kind === EntryKind.dir ? parentOfDisplay(t.path) === displayPath(rel) : t.path === displayPath(rel)));
        output(o, describeEntries(rows, torn), () => [...rows.map((r) => {
          const e = r.entry;
          const when = new Date(Number(e.mtimeNs / 1000000n)).toISOString().replace('T', ' ').slice(0, 19);
          const name = displayPath(r.name) + (e.kind === EntryKind.dir ? '/' : '') + (e.kind === EntryKind.symlink && e.target ? ` -> ${displayPath(e.target)}` : '');
          return `${modeString(e.kind, e.mode)} ${String(e.size).padStart(12)} ${when}  ${name}${e.torn ? '  (TORN)' : ''}`;
        }), ...torn.map(describeTorn)].join('\n'));
      } finally {
        vault.close();
      }
    });

  withGlobals(program.command('cat').argument('<group>').argument('<path>', 'file inside the group')
    .description('write a file as it was at a recovery point to stdout'))
    .option('--at <point>', 'latest, an ISO-8601 time, seq:N or bookmark:NAME', 'latest')
    .option('--include-torn', INCLUDE_TORN)
    .action(async (group: string, path: string, o: AtOptions) => {
      const vault = openVault(o, false, 'cat');
      let hold: ReadHold | undefined;
      try {
        const p = resolveTreePoint(vault, group, o.at, o.includeTorn);
        hold = ReadHold.take(vault, 'cat', p);
        const rel = parseUserPath(path);
        const row = requireEntry(vault, p, rel);
        const torn = tornAtPoint(vault, p, rel).find((t) => t.path === displayPath(rel));
        if (torn) process.stderr.write(`tidemark: ${describeTorn(torn)}\n`);
        if (row.entry.kind !== EntryKind.file) throw new TidemarkError('TM_USAGE', `"${path}" is a ${kindName(row.entry.kind)}, not a file`, { hint: `use \`tidemark ls ${group} ${path}\`` });
        for (const chunk of fileChunks(vault, row.entry)) {
          if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
        }
      } finally {
        hold?.release();
        vault.close();
      }
    });

  withGlobals(program.command('restore').argument('<group>').description('write a group (or --path of it) as it was at a recovery point into --to DIR'))
    .option('--at <point>', 'latest, an ISO-8601 time, seq:N or bookmark:NAME', 'latest')
    .requiredOption('--to <dir>', 'target directory (created if missing; must be empty unless --overwrite)')
    .option('--path <subpath>', 'restore only this file or directory of the group (its contents go into --to)')
    .option('--overwrite', 'allow a non-empty target; entries in the way are replaced')
    .option('--include-torn', INCLUDE_TORN)
    .action(async (group: string, o: AtOptions & { to: string; path?: string; overwrite?: boolean }) => {
      const vault = openVault(o, false, 'restore');
      let hold: ReadHold | undefined;
      try {
        const p = resolveTreePoint(vault, group, o.at, o.includeTorn);
        // Prune keeps this point and every pack until the restore ends (vault-holds.ts).
        hold = ReadHold.take(vault, 'restore', p);
        const line = progressLine(o);
        const started = Date.now();
        const stats = await restoreTree(vault, p, resolve(o.to), {
          subpath: o.path === undefined ? undefined : parseUserPath(o.path),
          overwrite: o.overwrite === true,
          onProgress: (s) => line(`restored ${s.files} files, ${formatBytes(s.bytes)}`),
        });
        line.done();
        const seconds = (Date.now() - started) / 1000;
        const torn = tornAtPoint(vault, p, o.path === undefined ? undefined : parseUserPath(o.path));
        output(o, { group, seq: p.seq, time: new Date(p.time).toISOString(), to: resolve(o.to), ...stats, seconds, torn },
          () => [`Restored group "${group}" at seq:${p.seq} (${new Date(p.time).toISOString()}) into ${resolve(o.to)}: ${stats.files} files, ${stats.dirs} dirs, ${stats.symlinks} symlinks, ${formatBytes(stats.bytes)} in ${seconds.toFixed(1)} s`,
            ...torn.map((t) => `  ${describeTorn(t)}`),
            ...stats.damaged.map((d) => `  NOT restored (damaged data): ${d.path}: ${d.error}`)].join('\n'));
        if (stats.damaged.length > 0) {
          throw new TidemarkError('TM_CORRUPT', `${stats.damaged.length} file(s) could not be restored because their data in the vault is damaged`, {
            hint: 'every other file was restored; run `tidemark verify --read-data` to see the extent of the damage', details: { damaged: stats.damaged },
          });
        }
      } finally {
        hold?.release();
        vault.close();
      }
    });
}
