/**
 * Running the NBD tools nobody here wrote (nbdinfo, nbdcopy, qemu-img) against our server,
 * with a timeout each, plus temp-dir and hashing helpers for the NBD tests.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Outcome of one tool run; a non-zero exit is data, not an exception. */
export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `cmd args…`, killing it after `timeoutMs`. */
export function runTool(cmd: string, args: string[], timeoutMs = 30_000): Promise<ToolResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      // Say plainly when the tool is missing rather than fail on an empty stderr.
      const missing = err !== null && err.code === 'ENOENT'
        ? `${cmd} is not installed (apt-get install nbdkit libnbd-bin qemu-utils)` : '';
      resolve({ code, stdout, stderr: stderr + missing });
    });
  });
}

/** The NBD URI of a server address (`unix:/p` or `tcp:h:p`), as libnbd and qemu take it. */
export function nbdUri(address: string): string {
  if (address.startsWith('unix:')) return `nbd+unix:///?socket=${address.slice(5)}`;
  return `nbd://${address.slice(4)}`;
}

/** A fresh temp dir for one test file; the caller removes it. */
export function makeTempDir(label: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), `tm-nbd-${label}-`));
}

/** sha256 of a file, streamed. */
export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Poll `cond` every 10 ms until it holds; false if it still does not after `ms`. */
export async function waitFor(cond: () => boolean, ms = 5000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return cond();
}
