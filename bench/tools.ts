/**
 * The three backup tools under comparison, each reduced to the same four operations:
 * init (untimed), backup of the data directory, restore of the latest point into an
 * empty directory, and the directory that holds its repository (measured with du -sb).
 *
 * All repositories, caches and tool state live inside the bench's work directory, so the
 * bench leaves nothing behind in $HOME (restic's cache: RESTIC_CACHE_DIR; borg's cache,
 * config and security dirs: BORG_BASE_DIR).
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { commandLine } from './proc.js';

export type ToolName = 'tidemark' | 'restic' | 'borg';
export const ALL_TOOLS: ToolName[] = ['tidemark', 'restic', 'borg'];

export interface Invocation {
  cmd: string;
  args: string[];
  cwd?: string;
  env: NodeJS.ProcessEnv;
}

export interface Tool {
  name: ToolName;
  /** Repository / vault directory (its du -sb is the "size on disk"). */
  repo: string;
  init(): Invocation;
  /** Backup number n (1 = first, 2 = incremental) of the data directory. */
  backup(n: number): Invocation;
  /** Restore the latest point into `out` (which may need to exist: see prepareRestore). */
  restore(out: string): Invocation;
  /** Create what the restore needs before it is timed. */
  prepareRestore(out: string): Promise<void>;
  /** Where, below `out`, the restored tree's root ends up. */
  restoredRoot(out: string): string;
  /** Extra CLI arguments for the report. */
  describe(): string;
}

const PASSPHRASE = 'tidemark-bench-passphrase';

export interface ToolContext {
  /** The bench's work directory (repositories and caches go here). */
  work: string;
  /** The directory backed up (the work copy of the corpus). */
  data: string;
  /** Project root (where bin/tidemark.js lives). */
  projectRoot: string;
  /** restic supports `init --repository-version 2` (0.14+). */
  resticV2: boolean;
  /** Extra node flags for tidemark in a phase (e.g. --cpu-prof ...). */
  nodeFlags: (phase: string) => string[];
}

export function makeTool(name: ToolName, c: ToolContext): Tool {
  switch (name) {
    case 'tidemark': {
      const repo = join(c.work, 'tidemark-vault');
      const env = { ...process.env, TIDEMARK_PASSPHRASE: PASSPHRASE };
      const cli = (phase: string, ...args: string[]): Invocation => ({
        cmd: process.execPath,
        args: [...c.nodeFlags(phase), join(c.projectRoot, 'bin', 'tidemark.js'), ...args],
        env,
      });
      return {
        name, repo,
        init: () => cli('init', 'init', '--vault', repo, '--json'),
        backup: (n) => cli(n === 1 ? 'first' : 'incremental', 'protect', c.data, '--group', 'bench', '--once', '--vault', repo, '--json'),
        restore: (out) => cli('restore', 'restore', 'bench', '--at', 'latest', '--to', out, '--vault', repo, '--json'),
        prepareRestore: async () => { /* --to is created by tidemark */ },
        restoredRoot: (out) => out,
        describe: () => 'tidemark protect DATA --group bench --once; tidemark restore bench --at latest --to OUT',
      };
    }
    case 'restic': {
      const repo = join(c.work, 'restic-repo');
      const env = {
        ...process.env,
        RESTIC_PASSWORD: PASSPHRASE,
        RESTIC_REPOSITORY: repo,
        RESTIC_CACHE_DIR: join(c.work, 'restic-cache'),
      };
      return {
        name, repo,
        init: () => ({ cmd: 'restic', args: ['init', ...(c.resticV2 ? ['--repository-version', '2'] : [])], env }),
        // "." from inside DATA: the snapshot's root is DATA's contents
        backup: () => ({ cmd: 'restic', args: ['backup', '.'], cwd: c.data, env }),
        restore: (out) => ({ cmd: 'restic', args: ['restore', 'latest', '--target', out], env }),
        prepareRestore: async () => { /* --target is created by restic */ },
        restoredRoot: (out) => out,
        describe: () => `restic init${c.resticV2 ? ' --repository-version 2' : ''}; (cd DATA && restic backup .); restic restore latest --target OUT`,
      };
    }
    case 'borg': {
      const repo = join(c.work, 'borg-repo');
      const env = {
        ...process.env,
        BORG_PASSPHRASE: PASSPHRASE,
        BORG_DISPLAY_PASSPHRASE: 'no',
        BORG_BASE_DIR: join(c.work, 'borg-home'),
      };
      return {
        name, repo,
        init: () => ({ cmd: 'borg', args: ['init', '--encryption=repokey-blake2', repo], env }),
        backup: (n) => ({ cmd: 'borg', args: ['create', '--compression', 'zstd,3', `${repo}::backup-${n}`, '.'], cwd: c.data, env }),
        // the latest point is the last backup made (2 after the incremental)
        restore: (out) => ({ cmd: 'borg', args: ['extract', `${repo}::backup-2`], cwd: out, env }),
        prepareRestore: async (out) => { await fs.mkdir(out, { recursive: true }); },
        restoredRoot: (out) => out,
        describe: () => 'borg init --encryption=repokey-blake2; (cd DATA && borg create --compression zstd,3 REPO::backup-N .); (cd OUT && borg extract REPO::backup-2)',
      };
    }
  }
}

export function invocationLine(i: Invocation): string {
  return `${i.cwd ? `(cd ${i.cwd} && ` : ''}${commandLine(i.cmd, i.args)}${i.cwd ? ')' : ''}`;
}
