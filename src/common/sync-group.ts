/**
 * Shared fdatasync calls on one file: every caller gets a sync that started after it
 * asked (so it covers what the caller wrote before), and callers that ask while a sync is
 * running share the one that follows it. Runs on the libuv thread pool, so the main
 * thread keeps serving while the disk works.
 */
import { fdatasync } from 'node:fs';
import { wrapIo } from './errors.js';

export class SyncGroup {
  private inFlight: Promise<void> | null = null;
  private queued: Promise<void> | null = null;

  constructor(private readonly fd: () => number, private readonly what: string) {}

  sync(): Promise<void> {
    if (this.queued) return this.queued;
    if (!this.inFlight) return (this.inFlight = this.run());
    const current = this.inFlight;
    this.queued = current.catch(() => undefined).then(() => {
      this.queued = null;
      return (this.inFlight = this.run());
    });
    return this.queued;
  }

  /** Resolves once no sync is running or queued (errors are the callers' to see). */
  async idle(): Promise<void> {
    while (this.queued || this.inFlight) await (this.queued ?? this.inFlight)!.catch(() => undefined);
  }

  private run(): Promise<void> {
    return new Promise((resolve, reject) => {
      fdatasync(this.fd(), (err) => {
        this.inFlight = null;
        if (err) reject(wrapIo(err, `Cannot sync ${this.what}`));
        else resolve();
      });
    });
  }
}
