/**
 * Restores started from the console run as jobs in the server process: the API answers at
 * once with a job id, the browser polls the job for progress (files and bytes written) and
 * its outcome. Each start and finish lands in the audit log. Jobs are kept in memory (the
 * last MAX_JOBS); closing the console waits for running ones.
 */
import { randomBytes } from 'node:crypto';
import type { Vault } from '../vault/vault.js';
import type { ResolvedPoint } from '../image/point.js';
import { restoreTree, type RestoreStats } from '../image/restore.js';
import type { AuditLog } from './audit-log.js';
import { ReadHold } from '../vault/vault-holds.js';

const MAX_JOBS = 200;

export interface RestoreJob {
  id: string;
  kind: 'restore';
  user: string;
  group: string;
  seq: number;
  time: string;
  path: string;
  target: string;
  state: 'running' | 'done' | 'failed';
  started: string;
  finished: string | null;
  files: number;
  dirs: number;
  bytes: number;
  damaged: { path: string; error: string }[];
  warnings: string[];
  error: string | null;
}

export class RestoreJobs {
  private readonly jobs = new Map<string, RestoreJob>();
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly vault: Vault, private readonly audit: AuditLog) {}

  /** Start restoring `p` (or `subpath` of it) into `target`; the target was checked already. */
  start(o: { user: string; ip: string; point: ResolvedPoint; path: string; subpath: Buffer; target: string; overwrite: boolean }): RestoreJob {
    // Prune keeps the point (and every pack) until the job ends.
    const hold = ReadHold.take(this.vault, `console restore ${o.point.group} seq:${o.point.seq}`, o.point);
    const job: RestoreJob = {
      id: randomBytes(9).toString('base64url'), kind: 'restore', user: o.user, group: o.point.group, seq: o.point.seq,
      time: new Date(o.point.time).toISOString(), path: o.path, target: o.target, state: 'running', started: new Date().toISOString(),
      finished: null, files: 0, dirs: 0, bytes: 0, damaged: [], warnings: [], error: null,
    };
    this.jobs.set(job.id, job);
    for (const id of this.jobs.keys()) {
      if (this.jobs.size <= MAX_JOBS) break;
      if (this.jobs.get(id)!.state !== 'running') this.jobs.delete(id);
    }
    const details = { job: job.id, seq: job.seq, time: job.time, path: o.path || '/', to: o.target, overwrite: o.overwrite };
    try {
      this.audit.append({ user: o.user, ip: o.ip, action: 'restore.start', target: o.point.group, result: 'ok', details });
    } catch (err) {
      // No job runs without its audit line; nor does its hold outlive it.
      hold.release();
      throw err;
    }
    const copy = (s: RestoreStats): void => { job.files = s.files; job.dirs = s.dirs; job.bytes = s.bytes; };
    const task = restoreTree(this.vault, o.point, o.target, { subpath: o.subpath, overwrite: o.overwrite, onProgress: copy })
      .then((s) => {
        copy(s);
        job.damaged = s.damaged;
        job.warnings = s.warnings;
        job.state = s.damaged.length > 0 ? 'failed' : 'done';
        if (s.damaged.length > 0) job.error = `${s.damaged.length} file(s) could not be restored: their data in the vault is damaged`;
      }, (err: unknown) => {
        job.state = 'failed';
        job.error = err instanceof Error ? err.message : String(err);
      })
      .finally(() => {
        hold.release();
        job.finished = new Date().toISOString();
        this.running.delete(task);
        try {
          this.audit.append({ user: o.user, ip: o.ip, action: 'restore.finish', target: o.point.group, result: job.state === 'done' ? 'ok' : 'failed',
            details: { ...details, files: job.files, bytes: job.bytes, ...(job.error ? { error: job.error } : {}) } });
        } catch (err) {
          process.emitWarning(`audit log: ${(err as Error).message}`);
        }
      });
    this.running.add(task);
    return job;
  }

  get(id: string): RestoreJob | undefined {
    return this.jobs.get(id);
  }

  /** Resolve once every running job has finished. */
  async settle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }
}
