/** `tidemark init`: create a vault. */
import type { Command } from 'commander';
import { initVault } from '../../vault/vault.js';
import { output, vaultDir, withGlobals, type GlobalOptions } from '../cli-context.js';

export function registerInit(program: Command): void {
  withGlobals(program.command('init').description('create a vault'))
    .option('--generate-passphrase', 'with no passphrase given, generate one and keep it in ~/.config/tidemark/passphrases')
    .action((o: GlobalOptions & { generatePassphrase?: boolean }) => {
      const r = initVault(vaultDir(o), { passphraseFile: o.passphraseFile, generateIfMissing: o.generatePassphrase === true });
      if (r.generatedPassphraseFile) warnGeneratedPassphrase(r.generatedPassphraseFile);
      output(o, { vault: r.dir, id: r.id, generatedPassphraseFile: r.generatedPassphraseFile ?? null }, () => `Created vault ${r.dir} (id ${r.id})`);
    });
}

/** Say loudly where a generated passphrase is and what losing it means. */
export function warnGeneratedPassphrase(path: string): void {
  process.stderr.write([
    '',
    '*** Tidemark generated a passphrase for this vault and saved it in:',
    `***   ${path}`,
    '*** Without it the vault cannot be read. Copy it somewhere safe, away from this machine.',
    '*** Losing this file loses the data.',
    '',
  ].join('\n') + '\n');
}
