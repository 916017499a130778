/**
 * What every command shares: the global options, opening the vault, printing results
 * (`--json` on stdout or a human form), progress on a terminal, and turning errors into
 * a message on stderr and an exit code.
 */
import type { Command } from 'commander';
import { TidemarkError } from '../common/errors.js';
import { Vault } from '../vault/vault.js';
import { resolveVaultDir } from '../vault/vault-config.js';

export interface GlobalOptions {
  vault?: string;
  passphraseFile?: string;
  json?: boolean;
}

/** Add the options every command takes. */
export function withGlobals(cmd: Command): Command {
  return cmd
    .option('--vault <dir>', 'vault directory (default: $TIDEMARK_VAULT, else ~/.local/share/tidemark/vault)')
    .option('--passphrase-file <file>', 'file holding the vault passphrase (default: $TIDEMARK_PASSPHRASE)')
    .option('--json', 'print machine-readable JSON on stdout');
}

export function vaultDir(o: GlobalOptions): string {
  return resolveVaultDir(o.vault);
}

export function openVault(o: GlobalOptions, write: boolean, command: string): Vault {
  return Vault.open(vaultDir(o), { passphraseFile: o.passphraseFile, write, command });
}

/** Print a result: JSON when asked, else the human text. */
export function output(o: GlobalOptions, json: unknown, human: () => string): void {
  if (o.json) process.stdout.write(JSON.stringify(json, null, 2) + '\n');
  else {
    const text = human();
    if (text) process.stdout.write(text.endsWith('\n') ? text : text + '\n');
  }
}

/** A progress line on stderr, only on a terminal and never with --json. */
export function progressLine(o: GlobalOptions): ((text: string) => void) & { done: () => void } {
  const on = !o.json && process.stderr.isTTY === true;
  let last = 0;
  let shown = false;
  const fn = ((text: string) => {
    if (!on) return;
    const now = Date.now();
    if (now - last < 100) return;
    last = now;
    shown = true;
    process.stderr.write(`\r\x1b[K${text}`);
  }) as ((text: string) => void) & { done: () => void };
  fn.done = () => { if (shown) process.stderr.write('\r\x1b[K'); };
  return fn;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** Turn any error into stderr output and an exit code. */
export function reportError(err: unknown, json: boolean): number {
  const te = err instanceof TidemarkError ? err : new TidemarkError('TM_INTERNAL', err instanceof Error ? err.message : String(err), { cause: err });
  if (json) {
    process.stderr.write(JSON.stringify({ error: { code: te.code, message: te.message, hint: te.hint, details: te.details } }) + '\n');
  } else {
    process.stderr.write(`tidemark: ${te.message}\n`);
    if (te.hint) process.stderr.write(`  hint: ${te.hint}\n`);
    if (te.code === 'TM_INTERNAL' && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  }
  return te.exitCode;
}
