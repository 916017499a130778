/** `tidemark protect DIR`: record DIR into a group (once with --once, else continuously). */
import type { Command } from 'commander';
import { basename, resolve } from 'node:path';
import { statSync } from 'node:fs';
import { TidemarkError } from '../../common/errors.js';
import { ingestOnce, type IngestResult } from '../../tap/file/snapshot-ingest.js';
import { Vault, initVault } from '../../vault/vault.js';
import { isVault } from '../../vault/vault-config.js';
import { formatBytes, output, progressLine, vaultDir, withGlobals, type GlobalOptions } from '../cli-context.js';
import { warnGeneratedPassphrase } from './init.js';
import { runLiveProtect } from '../../embedded/live-protect.js';
import { loadIgnoreRules } from '../../tap/file/ignore-rules.js';
import { nowMs } from '../../common/clock.js';
import { startEmbeddedConsole } from '../../web/embedded-console.js';
import { DEFAULT_LISTEN } from '../../web/console-server.js';
import { withShipper } from '../../tap/shipper/start-shipper.js';

const GROUP_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function validateGroup(name: string): string {
  if (!GROUP_RE.test(name)) throw new TidemarkError('TM_USAGE', `"${name}" is not a valid group name`, { hint: 'use letters, digits, ".", "_" and "-" (up to 64), starting with a letter or digit' });
  return name;
}

export function defaultGroup(dir: string): string {
  const base = basename(resolve(dir)).replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[._-]+/, '').slice(0, 64);
  return base || 'root';
}

interface ProtectOptions extends GlobalOptions { group?: string; once?: boolean; exclude?: string[]; console: string | false; hub?: string }

/** Open the vault for writing, creating it first when this is the embedded default's first run. */
export function openOrCreateForWrite(o: GlobalOptions, command: string): Vault {
  const dir = vaultDir(o);
  if (!isVault(dir)) {
    const r = initVault(dir, { passphraseFile: o.passphraseFile, generateIfMissing: true });
    process.stderr.write(`Created vault ${r.dir}\n`);
    if (r.generatedPassphraseFile) warnGeneratedPassphrase(r.generatedPassphraseFile);
  }
  return Vault.open(dir, { passphraseFile: o.passphraseFile, write: true, command });
}

export function summarize(r: IngestResult): string {
  const lines = [
    r.records === 0
      ? `No changes in group "${r.group}" (latest point seq:${r.lastSeq})`
      : `Recorded ${r.records} change(s) into group "${r.group}": seq:${r.firstSeq}..seq:${r.lastSeq}`,
    `  ${r.entries} entries, ${r.filesRead} file(s) read (${formatBytes(r.bytesRead)}), ${formatBytes(r.bytesNew)} new data`,
  ];
  for (const w of r.warnings) lines.push(`  warning: ${w}`);
  return lines.join('\n');
}

export function registerProtect(program: Command): void {
  withGlobals(program.command('protect').argument('<dir>', 'directory to protect').description('protect a directory: continuously, or once with --once'))
    .option('--group <name>', 'group to record into (default: the directory\'s name)')
    .option('--once', 'record the current state and exit')
    .option('--exclude <pattern...>', 'leave out paths matching these gitignore-style patterns (also read from DIR/.tidemarkignore)')
    .option('--console <addr>', 'while live, serve the web console here (see docs/console.md)', DEFAULT_LISTEN)
    .option('--no-console', 'do not serve the web console')
    .option('--hub <url>', 'also stream every change to this hub (tls://HOST:PORT; TLS identity from $TIDEMARK_TLS_DIR)')
    .action(async (dir: string, o: ProtectOptions) => {
      const source = resolve(dir);
      let st;
      try { st = statSync(source); } catch { throw new TidemarkError('TM_USAGE', `Cannot protect ${source}: no such directory`); }
      if (!st.isDirectory()) throw new TidemarkError('TM_USAGE', `Cannot protect ${source}: not a directory`);
      const group = validateGroup(o.group ?? defaultGroup(source));
      if (o.once && o.hub) {
        throw new TidemarkError('TM_USAGE', '--hub streams a live protect; --once records one state and exits', {
          hint: 'run `tidemark protect DIR --hub URL` (live) to ship to a hub',
        });
      }
      const vault = openOrCreateForWrite(o, `protect ${source}`);
      try {
        if (!o.once) {
          const web = await startEmbeddedConsole(vault, o.console, { [group]: source });
          try {
            await withShipper(o.hub, vault, { group, json: o.json === true }, () => runLiveProtect(vault, { source, group, json: o.json === true, exclude: o.exclude }));
          } finally {
            await web?.close();
          }
          return;
        }
        const line = progressLine(o);
        const started = Date.now();
        const r = ingestOnce(vault, {
          source, group, exclude: loadIgnoreRules(source, o.exclude), now: () => nowMs(),
          onProgress: (p) => line(`${p.phase}: ${p.entries} entries, ${p.files} files read, ${formatBytes(p.bytesRead)}`),
        });
        line.done();
        output(o, { ...r, seconds: (Date.now() - started) / 1000 }, () => summarize(r));
      } finally {
        vault.close();
      }
    });
}
