/**
 * `tidemark vault init-replica --vault R --from SRC`: a new, empty vault that shares SRC's
 * master key (its wrapped key files are copied as they are, so the same passphrases open
 * it) and SRC's chunker parameters. Chunk ids are then identical on both sides: a hub
 * forwards sealed blobs without any key, and the replica asks only for chunks it lacks.
 * The layout is the one `init` writes (docs/FORMAT.md, "Directory layout"), config.json last.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TidemarkError, isErrno, wrapIo } from '../common/errors.js';
import { writeFileDurable } from '../common/durable-file.js';
import { isVault, newConfig, readConfig } from '../vault/vault-config.js';

export function initReplica(dir: string, from: string): { dir: string; id: string; from: string; keys: number } {
  const src = readConfig(from);
  if (isVault(dir)) throw new TidemarkError('TM_VAULT_EXISTS', `${dir} already holds a Tidemark vault`, { hint: 'choose another --vault for the replica' });
  let entries: string[] = [];
  try { entries = readdirSync(dir); } catch (err) { if (!isErrno(err, 'ENOENT')) throw wrapIo(err, `Cannot read ${dir}`); }
  if (entries.length > 0) throw new TidemarkError('TM_USAGE', `Cannot create a vault in ${dir}: the directory is not empty`, { hint: 'choose an empty or new directory for --vault' });
  const keys = readdirSync(join(from, 'keys')).filter((f) => f.endsWith('.json'));
  if (keys.length === 0) throw new TidemarkError('TM_NOT_A_VAULT', `${from} has no key files`);
  try {
    for (const sub of ['keys', 'packs', 'bookmarks']) mkdirSync(join(dir, sub), { recursive: true, mode: sub === 'keys' ? 0o700 : 0o755 });
  } catch (err) {
    throw wrapIo(err, `Cannot create the replica vault ${dir}`);
  }
  for (const k of keys) writeFileDurable(join(dir, 'keys', k), readFileSync(join(from, 'keys', k)), 0o600);
  const id = randomBytes(16).toString('hex');
  writeFileDurable(join(dir, 'config.json'), Buffer.from(JSON.stringify({ ...newConfig(id), chunker: src.chunker }, null, 2) + '\n'), 0o644);
  return { dir, id, from, keys: keys.length };
}
