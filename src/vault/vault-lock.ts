/**
 * The writer lock: one process at a time may write a vault. The lock file holds who took
 * it; a lock left by a process that no longer exists on this host is taken over.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { TidemarkError, isErrno, wrapIo } from '../common/errors.js';

interface LockInfo { pid: number; host: string; command: string; since: string }

/** True unless process `pid` is known not to exist on this host. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return !isErrno(err, 'ESRCH');
  }
}

export class VaultLock {
  private constructor(private readonly path: string) {}

  /** Take the lock or throw TM_LOCKED naming the holder. */
  static acquire(vaultDir: string, command: string): VaultLock {
    const path = join(vaultDir, 'lock');
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = openSync(path, 'wx', 0o600);
        const info: LockInfo = { pid: process.pid, host: hostname(), command, since: new Date().toISOString() };
        writeSync(fd, JSON.stringify(info));
        closeSync(fd);
        return new VaultLock(path);
      } catch (err) {
        if (!isErrno(err, 'EEXIST')) throw wrapIo(err, `Cannot create the lock file ${path}`);
      }
      let holder: Partial<LockInfo> = {};
      try {
        holder = JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
      } catch {
        // An empty or half-written lock file: its writer died between create and write.
      }
      const stale = holder.host === undefined || (holder.host === hostname() && typeof holder.pid === 'number' && !processAlive(holder.pid));
      if (stale) {
        try { unlinkSync(path); } catch { /* another process took it over first */ }
        continue;
      }
      throw new TidemarkError('TM_LOCKED', `The vault ${vaultDir} is being written by another process (pid ${holder.pid} on ${holder.host}, \`${holder.command}\` since ${holder.since})`, {
        retryable: true,
        hint: `wait for it to finish; if that process is gone for good, remove ${path}`,
      });
    }
    throw new TidemarkError('TM_LOCKED', `Cannot take the lock ${path}`, { retryable: true });
  }

  /** Try to take the lock; null when another live process holds it. */
  static tryAcquire(vaultDir: string, command: string): VaultLock | null {
    try {
      return VaultLock.acquire(vaultDir, command);
    } catch (err) {
      if (err instanceof TidemarkError && err.code === 'TM_LOCKED') return null;
      throw err;
    }
  }

  release(): void {
    try { unlinkSync(this.path); } catch { /* already gone: nothing to release */ }
  }
}
