/**
 * The `tidemark` command line: one file per command under commands/, all errors turned
 * into a message on stderr and an exit code here (codes in docs/errors.md).
 */
import { Command, CommanderError } from 'commander';
import { reportError } from './cli-context.js';
import { registerInit } from './commands/init.js';
import { registerProtect } from './commands/protect.js';
import { registerReadCommands } from './commands/read-commands.js';
import { registerTimeline } from './commands/timeline.js';
import { registerMaintenance } from './commands/maintenance.js';
import { registerStatus } from './commands/status.js';
import { registerPrune } from './commands/prune.js';
import { registerProtectVolume } from './commands/protect-volume.js';
import { registerImage } from './commands/image.js';
import { registerConsole } from './commands/console.js';
import { registerPki } from './commands/pki.js';
import { registerHub } from './commands/hub.js';
import { registerVaultServe } from './commands/vault-serve.js';
import { registerAnalyze } from './commands/analyze.js';
import { registerReplStatus } from './commands/repl-status.js';

export function buildProgram(): Command {
  const program = new Command('tidemark')
    .description('Continuous data protection: every change recorded, any moment recoverable')
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError();
  registerInit(program);
  registerProtect(program);
  registerReadCommands(program);
  registerTimeline(program);
  registerMaintenance(program);
  registerStatus(program);
  registerPrune(program);
  registerProtectVolume(program);
  registerImage(program);
  registerConsole(program);
  registerPki(program);
  registerHub(program);
  registerVaultServe(program);
  registerAnalyze(program);
  registerReplStatus(program);
  return program;
}

/** Run the CLI; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are "errors" to commander; they exit 0 and have printed already.
      return err.exitCode === 0 ? 0 : 2;
    }
    return reportError(err, json);
  }
}
