/**
 * The one helper for durable writes. Every file the vault names is written here:
 * write to a temporary name, fsync the file, rename over the final name, fsync the
 * directory. A crash at any instant leaves either the old file or the new one, never a
 * torn one. See docs/FORMAT.md, "Write ordering".
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { wrapIo } from './errors.js';

/** fsync a directory so that a rename or create inside it is durable. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Write all `parts` to `path` atomically and durably. Creates the parent directory. */
export function writeFileDurable(path: string, parts: Uint8Array | readonly Uint8Array[], mode = 0o600): void {
  const dir = dirname(path);
  const tmp = join(dir, `.tmp-${basename(path)}-${randomBytes(6).toString('hex')}`);
  try {
    mkdirSync(dir, { recursive: true });
    const fd = openSync(tmp, 'wx', mode);
    try {
      for (const part of Array.isArray(parts) ? parts : [parts as Uint8Array]) {
        let off = 0;
        while (off < part.length) off += writeSync(fd, part, off, part.length - off);
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    fsyncDir(dir);
  } catch (err) {
    try { unlinkSync(tmp); } catch { /* the temp file may never have been created */ }
    throw wrapIo(err, `Cannot write ${path}`);
  }
}
