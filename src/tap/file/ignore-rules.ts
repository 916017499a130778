/**
 * Which paths a file tap leaves out: `.tidemarkignore` at the source root (gitignore
 * syntax) plus `--exclude` patterns. The vault directory is excluded separately, by inode.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ignore from 'ignore';

export const IGNORE_FILE = '.tidemarkignore';

/** A predicate for ScanOptions.exclude, or undefined when nothing is excluded. */
export function loadIgnoreRules(source: string, extra: string[] = []): ((rel: Buffer, isDir: boolean) => boolean) | undefined {
  let text = '';
  try {
    text = readFileSync(join(source, IGNORE_FILE), 'utf8');
  } catch {
    // No ignore file: only the --exclude patterns apply.
  }
  const patterns = [...text.split(/\r?\n/), ...extra].filter((l) => l.trim() !== '');
  if (patterns.length === 0) return undefined;
  const ig = ignore().add(patterns);
  return (rel, isDir) => {
    const path = rel.toString('utf8');
    return ig.ignores(isDir ? `${path}/` : path);
  };
}
