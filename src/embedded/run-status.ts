/**
 * The status file a live `protect` keeps in VAULT/run/GROUP.json (rewritten every second
 * and after every capture), so `tidemark status` in another process can report it.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export interface RunStatus {
  pid: number;
  host: string;
  source: string;
  group: string;
  started: string;
  updated: string;
  lastSeq: number;
  lastCaptureTime: string | null;
  /** changes seen by the watcher and not yet recorded */
  pendingChanges: number;
  /** ms since the oldest unrecorded change (0 when nothing is pending) */
  rpoLagMs: number;
  captures: number;
  filesCaptured: number;
  bytesCaptured: number;
  bytesNew: number;
  /** volume taps: where the write log stands (durable in the log, folded into the journal) */
  writeLog?: { durableSeq: number; foldedSeq: number; unfoldedBytes: number };
  /** files recorded as torn (read while they kept changing) since the start */
  tornCaptures?: number;
  /** files whose latest capture is torn, waiting for a clean one */
  tornFiles?: number;
}

export function runStatusPath(vaultDir: string, group: string): string {
  return join(vaultDir, 'run', `${group}.json`);
}

/** Write the status file (atomic rename; not fsynced: it is advisory and rewritten often). */
export function writeRunStatus(vaultDir: string, s: RunStatus): void {
  const path = runStatusPath(vaultDir, s.group);
  mkdirSync(join(vaultDir, 'run'), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(s));
  renameSync(tmp, path);
}

export function removeRunStatus(vaultDir: string, group: string): void {
  try { unlinkSync(runStatusPath(vaultDir, group)); } catch { /* already gone */ }
}

/** Status files of live protects, with whether their process is still alive. */
export function readRunStatuses(vaultDir: string): (RunStatus & { alive: boolean })[] {
  let files: string[];
  try { files = readdirSync(join(vaultDir, 'run')).filter((f) => f.endsWith('.json')); } catch { return []; }
  const out: (RunStatus & { alive: boolean })[] = [];
  for (const f of files) {
    try {
      const s = JSON.parse(readFileSync(join(vaultDir, 'run', f), 'utf8')) as RunStatus;
      let alive = false;
      if (s.host === hostname()) {
        try { process.kill(s.pid, 0); alive = true; } catch { alive = false; }
      }
      out.push({ ...s, alive });
    } catch {
      // A status file being replaced right now: skip it this time.
    }
  }
  return out;
}

export { hostname };
