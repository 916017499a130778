/**
 * Where a vault is and how it is unlocked: the vault directory (--vault, $TIDEMARK_VAULT,
 * or the per-user default), its plaintext config.json, and the passphrase (--passphrase-file,
 * $TIDEMARK_PASSPHRASE, or a generated passphrase file for the embedded default).
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { TidemarkError, isErrno } from '../common/errors.js';
import { DEFAULT_CHUNKER_PARAMS } from '../chunking/chunker-api.js';

const ConfigSchema = z.object({
  format: z.literal('tidemark-vault'),
  version: z.literal(1),
  id: z.string().regex(/^[0-9a-f]{32}$/),
  created: z.string(),
  chunker: z.object({ minSize: z.number().int(), avgSize: z.number().int(), maxSize: z.number().int() }),
});
export type VaultConfig = z.infer<typeof ConfigSchema>;

export function newConfig(id: string, now = new Date()): VaultConfig {
  return { format: 'tidemark-vault', version: 1, id, created: now.toISOString(), chunker: { ...DEFAULT_CHUNKER_PARAMS } };
}

/** The vault directory: `--vault`, else $TIDEMARK_VAULT, else $XDG_DATA_HOME/tidemark/vault. */
export function resolveVaultDir(option?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (option) return resolve(option);
  if (env.TIDEMARK_VAULT) return resolve(env.TIDEMARK_VAULT);
  const data = env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(data, 'tidemark', 'vault');
}

/** Where the embedded default keeps a generated passphrase for vault `id`. */
export function generatedPassphrasePath(id: string, env: NodeJS.ProcessEnv = process.env): string {
  const config = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(config, 'tidemark', 'passphrases', `${id}.passphrase`);
}

export function isVault(dir: string): boolean {
  return existsSync(join(dir, 'config.json'));
}

export function readConfig(dir: string): VaultConfig {
  let text: string;
  try {
    text = readFileSync(join(dir, 'config.json'), 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) {
      throw new TidemarkError('TM_NOT_A_VAULT', `${dir} is not a Tidemark vault (no config.json)`, {
        hint: 'check --vault / $TIDEMARK_VAULT, or create one with `tidemark init`',
      });
    }
    throw new TidemarkError('TM_IO', `Cannot read ${join(dir, 'config.json')}: ${(err as Error).message}`, { cause: err });
  }
  let parsed: unknown;
  try { parsed = JSON.parse(text); } catch (err) {
    throw new TidemarkError('TM_NOT_A_VAULT', `${dir}/config.json is not valid JSON`, { cause: err });
  }
  const r = ConfigSchema.safeParse(parsed);
  if (!r.success) throw new TidemarkError('TM_NOT_A_VAULT', `${dir}/config.json is not a Tidemark vault config: ${r.error.issues[0]?.path.join('.')} ${r.error.issues[0]?.message}`);
  return r.data;
}

export interface PassphraseSource {
  passphrase: string;
  /** where it came from, for messages */
  from: string;
}

/** The passphrase given by the user, or null when none was given. */
export function givenPassphrase(passphraseFile: string | undefined, env: NodeJS.ProcessEnv = process.env): PassphraseSource | null {
  if (passphraseFile) {
    try {
      return { passphrase: readFileSync(passphraseFile, 'utf8').replace(/\r?\n$/, ''), from: `--passphrase-file ${passphraseFile}` };
    } catch (err) {
      throw new TidemarkError('TM_NO_PASSPHRASE', `Cannot read the passphrase file ${passphraseFile}: ${(err as Error).message}`, { cause: err });
    }
  }
  if (env.TIDEMARK_PASSPHRASE !== undefined && env.TIDEMARK_PASSPHRASE !== '') return { passphrase: env.TIDEMARK_PASSPHRASE, from: '$TIDEMARK_PASSPHRASE' };
  return null;
}
