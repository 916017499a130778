/**
 * The embedded default's main loop: a baseline, then continuous capture. File-system
 * events (inotify through @parcel/watcher) only say *that* something changed; each burst
 * triggers a rescan that compares the tree with the journal's head, so a lost or
 * overflowed event can never make a change go missing. Bursts are coalesced, but a
 * capture runs at least every `maxDelayMs` while changes keep coming (no starvation).
 */
import watcher from '@parcel/watcher';
import { relative } from 'node:path';
import type { Vault } from '../vault/vault.js';
import { ingestOnce, type IngestResult } from '../tap/file/snapshot-ingest.js';
import { summarize } from '../cli/commands/protect.js';

export interface LiveOptions {
  source: string;
  group: string;
  json: boolean;
  /** quiet period before a capture */
  debounceMs?: number;
  /** longest a pending change waits while changes keep coming */
  maxDelayMs?: number;
}

function report(o: LiveOptions, event: string, r: IngestResult): void {
  if (o.json) process.stdout.write(JSON.stringify({ event, time: new Date().toISOString(), ...r }) + '\n');
  else if (r.records > 0 || event === 'baseline') process.stdout.write(`${new Date().toISOString()} ${summarize(r)}\n`);
}

/** Run until SIGINT/SIGTERM; everything captured is durable when it returns. */
export async function runLiveProtect(vault: Vault, o: LiveOptions): Promise<void> {
  const debounceMs = o.debounceMs ?? 50;
  const maxDelayMs = o.maxDelayMs ?? 250;
  const capture = (event: string): void => report(o, event, ingestOnce(vault, { source: o.source, group: o.group }));
  capture('baseline');
  if (!o.json) process.stderr.write(`Protecting ${o.source} into group "${o.group}" of vault ${vault.dir} (Ctrl-C to stop)\n`);

  let pendingSince = 0;
  let timer: NodeJS.Timeout | null = null;
  let failure: unknown = null;
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((res) => { stop = res; });

  const run = (): void => {
    timer = null;
    pendingSince = 0;
    try {
      capture('capture');
    } catch (err) {
      failure = err;
      stop();
    }
  };
  const schedule = (): void => {
    const now = Date.now();
    if (pendingSince === 0) pendingSince = now;
    if (timer) clearTimeout(timer);
    const wait = Math.max(0, Math.min(debounceMs, pendingSince + maxDelayMs - now));
    timer = setTimeout(run, wait);
  };

  const vaultRel = relative(o.source, vault.dir);
  const ignore = vaultRel && !vaultRel.startsWith('..') ? [vault.dir] : [];
  const sub = await watcher.subscribe(o.source, (err) => {
    // An error (including a queue overflow) may have cost events: rescan, never trust them.
    if (err && !o.json) process.stderr.write(`watcher: ${err.message}; rescanning\n`);
    schedule();
  }, { ignore });

  const onSignal = (): void => stop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await stopped;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await sub.unsubscribe();
    if (timer) { clearTimeout(timer); timer = null; }
  }
  if (failure) throw failure;
  // A final capture so nothing changed before the signal is left behind.
  capture('final');
}
