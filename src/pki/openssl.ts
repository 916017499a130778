/**
 * Runs the `openssl` binary (Debian package `openssl`) for the few certificate operations
 * node:crypto cannot do itself: making a self-signed CA and signing certificate requests.
 * Keys never pass through argv; every file is named by path.
 */
import { execFileSync } from 'node:child_process';
import { TidemarkError, isErrno } from '../common/errors.js';

/** Run `openssl ...args`; TM_INTERNAL with openssl's stderr when it fails. */
export function openssl(args: string[], input?: string): string {
  try {
    return execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'], encoding: 'utf8', timeout: 30_000 });
  } catch (err) {
    if (isErrno(err, 'ENOENT')) {
      throw new TidemarkError('TM_USAGE', 'The `openssl` command is needed for `tidemark pki` and was not found', { hint: 'install it (Debian: apt-get install openssl)' });
    }
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new TidemarkError('TM_INTERNAL', `openssl ${args[0]} failed: ${stderr.trim() || (err as Error).message}`, { cause: err });
  }
}
