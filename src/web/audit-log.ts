/**
 * The console's audit log: one JSON line per action that changes something or hands out
 * data (restore, download, bookmark, policy, user, login), appended and fsynced before the
 * API answers, so what was done is on disk even if the process dies next. Never rewritten.
 */
import { closeSync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { isErrno, wrapIo } from '../common/errors.js';

export interface AuditEntry {
  time: string;
  /** the console user, or `cli:<os user>` for `tidemark console user …` */
  user: string;
  /** what was done: restore, file.download, bookmark.create, policy.change, user.add, login.fail… */
  action: string;
  /** what it was done to: a group, a user, a path */
  target: string;
  /** ok, refused, or failed */
  result: 'ok' | 'refused' | 'failed';
  ip?: string;
  details?: Record<string, unknown>;
}

/** The tail read to list recent entries (older ones stay in the file). */
const TAIL_BYTES = 4 * 1024 * 1024;

export class AuditLog {
  constructor(readonly path: string) {}

  /** Append one entry durably. */
  append(e: Omit<AuditEntry, 'time'> & { time?: string }): AuditEntry {
    const entry: AuditEntry = { time: e.time ?? new Date().toISOString(), user: e.user, action: e.action, target: e.target, result: e.result, ...(e.ip ? { ip: e.ip } : {}), ...(e.details ? { details: e.details } : {}) };
    const line = Buffer.from(JSON.stringify(entry) + '\n');
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      const fd = openSync(this.path, 'a', 0o600);
      try {
        let off = 0;
        while (off < line.length) off += writeSync(fd, line, off, line.length - off);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      throw wrapIo(err, `Cannot append to the audit log ${this.path}`);
    }
    return entry;
  }

  /** The most recent entries, newest first. */
  recent(limit: number): AuditEntry[] {
    let fd: number;
    try { fd = openSync(this.path, 'r'); } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      throw wrapIo(err, `Cannot read the audit log ${this.path}`);
    }
    let text: string;
    try {
      const size = fstatSync(fd).size;
      const start = Math.max(0, size - TAIL_BYTES);
      const buf = Buffer.alloc(size - start);
      let off = 0;
      while (off < buf.length) {
        const n = readSync(fd, buf, off, buf.length - off, start + off);
        if (n === 0) break;
        off += n;
      }
      text = buf.subarray(0, off).toString('utf8');
      // A tail that starts mid-line: drop the partial first line.
      if (start > 0) text = text.slice(text.indexOf('\n') + 1);
    } finally {
      closeSync(fd);
    }
    const out: AuditEntry[] = [];
    const lines = text.split('\n');
    for (let i = lines.length - 1; i >= 0 && out.length < limit; i--) {
      if (!lines[i]) continue;
      try { out.push(JSON.parse(lines[i]!) as AuditEntry); } catch { /* a line torn by a crash mid-append: skip it */ }
    }
    return out;
  }
}
