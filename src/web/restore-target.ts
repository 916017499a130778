/**
 * Where a restore from the console may write. The target is a path on the server: it must
 * be absolute, inside the restore root when one is set, outside the vault, empty (unless `overwrite`), and neither a protected
 * source directory, inside one, nor above one (unless `confirmProduction`: restoring over
 * production is a deliberate act, never a slip). Symlinks are resolved first, so a link
 * pointing into production is seen for what it is.
 */
import { lstatSync, readdirSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { TidemarkError, isErrno } from '../common/errors.js';
import { ApiError } from './http-errors.js';

/** The real path of `p`, resolving the longest existing prefix (the rest need not exist yet). */
export function realTarget(p: string): string {
  const tail: string[] = [];
  let cur = resolve(p);
  for (let i = 0; i < 4096; i++) {
    try {
      return join(realpathSync(cur), ...tail.reverse());
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      const parent = dirname(cur);
      if (parent === cur) break;
      tail.push(basename(cur));
      cur = parent;
    }
  }
  return resolve(p);
}

/** True when `a` is `b` or lies below it. */
function within(a: string, b: string): boolean {
  return a === b || a.startsWith(b.endsWith(sep) ? b : b + sep);
}

export interface TargetCheck {
  target: string;
  vaultDir: string;
  /** protected source directories, by group */
  sources: Map<string, string>;
  overwrite: boolean;
  confirmProduction: boolean;
  /** when set, targets must lie inside this directory */
  restoreRoot?: string;
}

/** Throw a clear 4xx error when a restore may not write to `target`; returns its absolute form. */
export function checkRestoreTarget(c: TargetCheck): string {
  if (!isAbsolute(c.target)) throw new TidemarkError('TM_USAGE', `The restore target "${c.target}" is not an absolute path`, { hint: 'give the full path of a directory on the server, e.g. /srv/restores/today' });
  const real = realTarget(c.target);
  const vault = realTarget(c.vaultDir);
  if (within(real, vault) || within(vault, real)) {
    throw new TidemarkError('TM_USAGE', `The restore target ${c.target} overlaps the vault ${c.vaultDir}`, { hint: 'restore outside the vault directory' });
  }
  if (c.restoreRoot !== undefined && !within(real, realTarget(c.restoreRoot))) {
    throw new TidemarkError('TM_USAGE', `The restore target ${c.target} is outside the restore root ${c.restoreRoot}`, { hint: `this console restores only below ${c.restoreRoot} (--restore-root)` });
  }
  for (const [group, source] of c.sources) {
    const src = realTarget(source);
    if ((within(real, src) || within(src, real)) && !c.confirmProduction) {
      throw new ApiError('TM_PRODUCTION_TARGET', `The restore target ${c.target} ${real === src ? 'is' : within(real, src) ? 'is inside' : 'contains'} the protected source ${source} of group "${group}"`,
        'restoring over production replaces live data: choose another target, or confirm explicitly (confirmProduction) with overwrite');
    }
  }
  let entries: string[] | null = null;
  try {
    if (!lstatSync(real).isDirectory()) throw new TidemarkError('TM_USAGE', `The restore target ${c.target} exists and is not a directory`);
    entries = readdirSync(real);
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
  if (entries && entries.length > 0 && !c.overwrite) {
    throw new ApiError('TM_CONFLICT', `The restore target ${c.target} is not empty`, 'choose an empty or new directory, or set overwrite to replace what is in the way');
  }
  return resolve(c.target);
}
