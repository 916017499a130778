/**
 * The embedded default's main loop: a baseline, then continuous capture.
 *
 * File-system events (inotify through @parcel/watcher) only say *where* something
 * changed; each burst triggers a capture that rescans just those directories and
 * compares them with the journal's head, so the journal never trusts event details.
 * A watcher error or overflow, or too many changed places, triggers a full rescan: a lost
 * event can delay a change, never lose it. Bursts are coalesced, but a capture runs at
 * least every `maxDelayMs` while changes keep coming (no starvation by debounce).
 * A file that keeps changing while it is read is re-read by the following captures, and
 * once it has kept changing for a bounded time (LiveReads.tornAfterMs) it is recorded as
 * torn and stays queued until a clean read follows. Large files are read a slice per
 * capture, so a 256 MiB read never holds back the small changes behind it.
 */
import watcher from '@parcel/watcher';
import { dirname, relative, sep } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { TidemarkError } from '../common/errors.js';
import type { Vault } from '../vault/vault.js';
import { ingestOnce, type IngestResult } from '../tap/file/snapshot-ingest.js';
import type { ScanScope } from '../tap/file/tree-scan.js';
import { loadIgnoreRules } from '../tap/file/ignore-rules.js';
import { LiveReads, type LiveReadOptions } from '../tap/file/live-reads.js';
import { parentOf, ROOT } from '../common/rel-path.js';
import { summarize } from '../cli/commands/protect.js';
import { removeRunStatus, writeRunStatus, hostname, type RunStatus } from './run-status.js';

export interface LiveOptions {
  source: string;
  group: string;
  json: boolean;
  exclude?: string[];
  /** quiet period before a capture */
  debounceMs?: number;
  /** longest a pending change waits while changes keep coming */
  maxDelayMs?: number;
  /** bytes of file content one capture reads at most (see IngestOptions.readBudget) */
  readBudget?: number;
  /** when a changing file is recorded as torn, and how large files are read (see LiveReads) */
  reads?: LiveReadOptions;
}

/** One capture reads this much at most before leaving the rest to the next one. */
const READ_BUDGET = 64 * 1024 * 1024;
/** Pause between captures while work is left over: lets watcher events and status in. */
const BUSY_GAP_MS = 10;
/** Wall time one capture spends reading files (large files have their own slice time). */
const READ_BUDGET_MS = 100;
/** Deferred this many captures in a row, a file is read whatever the budget. */
const MAX_DEFERRALS = 2;

const WATCH_LIMIT_HINT = 'raise it: sysctl fs.inotify.max_user_watches=1048576 (persist it in /etc/sysctl.d/), or run `tidemark protect DIR --once` from cron instead';

function isWatchLimit(err: unknown): boolean {
  return err instanceof Error && /inotify_add_watch.*(No space left on device|ENOSPC)|inotify_init.*(Too many open files|EMFILE)/i.test(err.message);
}

function watchLimitError(source: string, err: Error): TidemarkError {
  let limit = '?';
  try { limit = readFileSync('/proc/sys/fs/inotify/max_user_watches', 'utf8').trim(); } catch { /* not Linux: the message still says what failed */ }
  return new TidemarkError('TM_LIMIT', `Cannot watch every directory of ${source}: the inotify watch limit (fs.inotify.max_user_watches = ${limit}) is too low`, {
    hint: WATCH_LIMIT_HINT, cause: err,
  });
}

/** Subscribe to the tree; a too-low inotify limit becomes an error saying what to raise. */
async function watchTree(source: string, onEvents: watcher.SubscribeCallback, ignore: string[]): Promise<watcher.AsyncSubscription> {
  try {
    return await watcher.subscribe(source, onEvents, { ignore });
  } catch (err) {
    if (isWatchLimit(err)) throw watchLimitError(source, err as Error);
    throw err;
  }
}

/** More changed places than this in one burst: rescan everything instead. */
const MAX_SCOPES = 2000;

function report(o: LiveOptions, event: string, r: IngestResult): void {
  if (o.json) process.stdout.write(JSON.stringify({ event, time: new Date().toISOString(), ...r }) + '\n');
  else if (r.records > 0 || event === 'baseline') process.stdout.write(`${new Date().toISOString()} ${summarize(r)}\n`);
}

/** Run until SIGINT/SIGTERM; everything captured is durable when it returns. */
export async function runLiveProtect(vault: Vault, o: LiveOptions): Promise<void> {
  const debounceMs = o.debounceMs ?? 50;
  const maxDelayMs = o.maxDelayMs ?? 250;
  const exclude = loadIgnoreRules(o.source, o.exclude);
  const status: RunStatus = {
    pid: process.pid, host: hostname(), source: o.source, group: o.group, started: new Date().toISOString(), updated: '',
    lastSeq: 0, lastCaptureTime: null, pendingChanges: 0, rpoLagMs: 0, captures: 0, filesCaptured: 0, bytesCaptured: 0, bytesNew: 0,
    tornCaptures: 0, tornFiles: 0,
  };
  const reads = new LiveReads(o.reads);
  /** torn files not yet followed by a clean capture */
  const tornNow = new Set<string>();
  /**
   * When each place with changes not in any recovery point first changed (absolute paths;
   * '' for "somewhere": a rescan of everything). RPO lag = age of the oldest.
   */
  let pending = new Map<string, number>();
  let pendingSince = 0;
  let deferrals = new Map<string, number>();
  let full = true;
  const scopes = new Map<string, ScanScope>();

  const publish = (): void => {
    status.updated = new Date().toISOString();
    let oldest = 0;
    for (const t of pending.values()) if (oldest === 0 || t < oldest) oldest = t;
    status.rpoLagMs = oldest ? Date.now() - oldest : 0;
    status.tornFiles = tornNow.size;
    status.pendingChanges = full && pendingSince ? Math.max(1, scopes.size) : scopes.size;
    try { writeRunStatus(vault.dir, status); } catch { /* status is advisory; capture goes on */ }
  };

  /** the last capture left work behind: capture again without debounce */
  let busy = false;

  const capture = (event: string): void => {
    busy = false;
    const takeFull = full || scopes.size > MAX_SCOPES;
    const these = takeFull ? undefined : [...scopes.values()];
    scopes.clear();
    full = false;
    pendingSince = 0;
    const before = pending;
    pending = new Map();
    // The baseline and the final capture read everything; captures in between are budgeted.
    let r: IngestResult;
    try {
      r = ingestOnce(vault, {
        source: o.source, group: o.group, exclude, scopes: these, deferUnstable: event !== 'final',
        readBudget: event === 'capture' ? o.readBudget ?? READ_BUDGET : undefined,
        readBudgetMs: event === 'capture' ? READ_BUDGET_MS : undefined,
        mustRead: new Set([...deferrals].filter(([, n]) => n >= MAX_DEFERRALS).map(([p]) => p)),
        live: event === 'capture' ? reads : undefined,
      });
    } catch (err) {
      pending = before;
      throw err;
    }
    // What this capture left out is still pending since its first change.
    const left = [...r.unstable, ...r.deferred];
    let oldest = Infinity;
    for (const t of before.values()) oldest = Math.min(oldest, t);
    for (const p of left) pending.set(p, Math.min(before.get(p) ?? (Number.isFinite(oldest) ? oldest : Date.now()), pending.get(p) ?? Infinity));
    // A torn capture holds the writes made before its read began, not those during it.
    for (const t of r.tornReads) pending.set(t.path, Math.min(t.readStartMs, pending.get(t.path) ?? Infinity));
    for (const p of r.torn) tornNow.add(p);
    for (const p of tornNow) if (!r.torn.includes(p) && !left.includes(p) && (!reads.changing(p) || !existsSync(p))) tornNow.delete(p);
    for (const p of [...reads.partial.keys()]) if (!existsSync(p)) reads.drop(p);
    status.tornCaptures = (status.tornCaptures ?? 0) + r.torn.length;
    // A file deferred by the budget MAX_DEFERRALS times in a row is read next time whatever
    // the budget: small changes go first, but a large file is never starved.
    const again = new Map<string, number>();
    for (const p of r.deferred) again.set(p, (deferrals.get(p) ?? 0) + 1);
    deferrals = again;
    status.captures++;
    status.lastSeq = r.lastSeq;
    if (r.records > 0) status.lastCaptureTime = new Date().toISOString();
    status.filesCaptured += r.filesRead;
    status.bytesCaptured += r.bytesRead;
    status.bytesNew += r.bytesNew;
    if (left.length > 0 || r.torn.length > 0) {
      // Files still being written: capture them again shortly (torn ones too, until a clean
      // read follows). Files beyond the read budget: first in line next time.
      for (const p of [...left, ...r.torn]) addPath(p, false);
      // Work left over: the next capture follows almost at once, without waiting for a
      // quiet period (under sustained load every capture leaves some); files resting after
      // a torn capture only need the usual debounce. The RPO lag is
      // measured from `pending`, which keeps each change's own time.
      pendingSince = Date.now();
      busy = left.some((p) => !reads.resting(p));
    }
    if (event === 'final') reads.close();
    report(o, event, r);
    publish();
    // inotify watches follow a moved directory under its old name: watch the tree anew,
    // then rescan it, so edits inside the renamed directory are not missed.
    if (r.dirRenames > 0 && event !== 'final') resubscribe();
  };

  const addPath = (abs: string, changed = true): void => {
    if (changed && !pending.has(abs)) pending.set(abs, Date.now());
    const relStr = relative(o.source, abs);
    if (relStr.startsWith('..')) return;
    const rel = relStr === '' ? ROOT : Buffer.from(relStr.split(sep).join('/'));
    // An event under a directory that is not there any more (renamed since, or reported
    // under its old name) cannot be placed: rescan everything rather than miss it.
    if (rel.length > 0 && !existsSync(dirname(abs))) { full = true; return; }
    for (const r of rel.length === 0 ? [ROOT] : [parentOf(rel), rel]) scopes.set(r.toString('latin1'), { rel: r, recursive: false });
  };


  let timer: NodeJS.Timeout | null = null;
  let failure: unknown = null;
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((res) => { stop = res; });

  const run = (): void => {
    timer = null;
    try {
      capture('capture');
      if (pendingSince) schedule();
    } catch (err) {
      failure = err;
      stop();
    }
  };
  function schedule(): void {
    const now = Date.now();
    if (pendingSince === 0) pendingSince = now;
    if (timer) clearTimeout(timer);
    const wait = Math.max(0, Math.min(busy ? BUSY_GAP_MS : debounceMs, pendingSince + maxDelayMs - now));
    timer = setTimeout(run, wait);
  }

  const vaultRel = relative(o.source, vault.dir);
  const ignore = vaultRel && !vaultRel.startsWith('..') ? [vault.dir] : [];
  const onEvents = (err: Error | null, events: watcher.Event[]): void => {
    if (err) {
      // An error (a queue overflow among them) may have cost events: rescan everything.
      if (!o.json) process.stderr.write(`watcher: ${err.message}; rescanning the whole tree\n`);
      if (isWatchLimit(err)) process.stderr.write(`tidemark: ${watchLimitError(o.source, err).message}\n  hint: ${WATCH_LIMIT_HINT}\n`);
      full = true;
      if (!pending.has('')) pending.set('', Date.now());
    } else {
      for (const e of events) addPath(e.path);
    }
    schedule();
  };
  let sub = await watchTree(o.source, onEvents, ignore);
  let resubscribing = false;
  function resubscribe(): void {
    if (resubscribing) return;
    resubscribing = true;
    void (async () => {
      try {
        // Old one off first (the library shares one watch per directory); the full rescan
        // that follows covers the moment in between.
        await sub.unsubscribe();
        sub = await watchTree(o.source, onEvents, ignore);
        full = true;
        schedule();
      } catch (err) {
        failure = err;
        stop();
      } finally {
        resubscribing = false;
      }
    })();
  }
  // Subscribed before the baseline: a change made while it runs is seen by both, or by
  // the watcher after it; never by neither.
  // Signals are handled from here on: one that arrives during (or just after) the
  // baseline still stops cleanly, with a final capture.
  const onSignal = (): void => stop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  full = true;
  capture('baseline');
  if (!o.json) process.stderr.write(`Protecting ${o.source} into group "${o.group}" of vault ${vault.dir} (Ctrl-C to stop)\n`);

  const heartbeat = setInterval(publish, 1000);
  try {
    await stopped;
  } finally {
    clearInterval(heartbeat);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await sub.unsubscribe();
    if (timer) { clearTimeout(timer); timer = null; }
  }
  if (failure) {
    removeRunStatus(vault.dir, o.group);
    throw failure;
  }
  // A final full capture, so nothing changed before the signal is left behind.
  full = true;
  capture('final');
  removeRunStatus(vault.dir, o.group);
}
