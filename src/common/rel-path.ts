/**
 * Paths inside a group are byte strings (Linux names need not be UTF-8), relative to the
 * source root, '/'-separated, with no leading slash; the root is the empty string.
 * Every name read from a vault passes `assertSafeName` before it touches a filesystem,
 * so a crafted journal cannot name `..`, an absolute path or an embedded separator.
 */
import { TidemarkError } from './errors.js';

const SLASH = 0x2f;

/** The root of a group's tree. */
export const ROOT: Buffer = Buffer.alloc(0);

/** Join a parent path and one name. */
export function joinRel(parent: Buffer, name: Buffer): Buffer {
  return parent.length === 0 ? Buffer.from(name) : Buffer.concat([parent, Buffer.from([SLASH]), name]);
}

/** The parent of a non-root path. */
export function parentOf(path: Buffer): Buffer {
  const i = path.lastIndexOf(SLASH);
  return i < 0 ? ROOT : path.subarray(0, i);
}

/** The last component of a non-root path. */
export function nameOf(path: Buffer): Buffer {
  const i = path.lastIndexOf(SLASH);
  return i < 0 ? path : path.subarray(i + 1);
}

/** True when `name` is usable as one path component. */
export function isSafeName(name: Uint8Array): boolean {
  if (name.length === 0 || name.length > 255) return false;
  if (name.length === 1 && name[0] === 0x2e) return false;
  if (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e) return false;
  for (const b of name) if (b === SLASH || b === 0) return false;
  return true;
}

/** Throw TM_UNSAFE_PATH unless every component of `path` is a safe name. */
export function assertSafeRel(path: Buffer, where: string): void {
  if (path.length === 0) return;
  let start = 0;
  for (let i = 0; i <= path.length; i++) {
    if (i === path.length || path[i] === SLASH) {
      if (!isSafeName(path.subarray(start, i))) {
        throw new TidemarkError('TM_UNSAFE_PATH', `${where}: refusing unsafe path ${JSON.stringify(displayPath(path))}`, {
          hint: 'the vault contains a name that could escape the restore target; run `tidemark verify`',
        });
      }
      start = i + 1;
    }
  }
}

/**
 * Parse a user-typed path ("/a/b", "a/b/", ".") into the relative byte form.
 * Rejects `..` so a user path cannot point outside the group's tree.
 */
export function parseUserPath(input: string): Buffer {
  const parts = input.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) {
    throw new TidemarkError('TM_USAGE', `path "${input}" must not contain ".."`);
  }
  return Buffer.from(parts.join('/'), 'utf8');
}

/** A printable form of a byte path (invalid UTF-8 bytes become \xNN). */
export function displayPath(path: Uint8Array): string {
  const buf = Buffer.from(path);
  const text = buf.toString('utf8');
  if (Buffer.from(text, 'utf8').equals(buf)) return text;
  let out = '';
  for (const b of buf) out += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  return out;
}

/** True when `path` lies strictly below `dir` (every non-root path lies below the root). */
export function isUnder(path: Buffer, dir: Buffer): boolean {
  if (dir.length === 0) return path.length > 0;
  return path.length > dir.length && path[dir.length] === SLASH && path.subarray(0, dir.length).equals(dir);
}

/** `[lo, hi)`: every path strictly below `dir` sorts in this range (for range scans). */
export function subtreeBounds(dir: Buffer): [Buffer, Buffer] {
  return [Buffer.concat([dir, Buffer.from([SLASH])]), Buffer.concat([dir, Buffer.from([SLASH + 1])])];
}
