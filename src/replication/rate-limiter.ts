/**
 * A token bucket shaping what one connection sends to the rate its schedule gives for
 * the current time of day. A frame larger than the bucket is let through and paid for
 * afterwards (the bucket goes into debt and the next send waits), so the average rate
 * holds over any span longer than a frame's transfer time.
 */
import type { Shaper } from '../wire/framed-connection.js';
import { rateAt, type RateWindow } from './bandwidth-schedule.js';

export class RateLimiter implements Shaper {
  private tokens = 0;
  private last = Date.now();

  constructor(private readonly schedule: readonly RateWindow[], private readonly now: () => number = Date.now) {}

  /** The rate (bytes/s) in force now; Infinity when unlimited. */
  get rate(): number {
    return rateAt(this.schedule, new Date(this.now()));
  }

  async take(bytes: number): Promise<void> {
    const rate = this.rate;
    const t = this.now();
    if (!Number.isFinite(rate)) { this.tokens = 0; this.last = t; return; }
    // A burst of 50 ms worth: enough to keep the pipe busy, small against a 1 s measurement.
    this.tokens = Math.min(rate * 0.05, this.tokens + ((t - this.last) / 1000) * rate);
    this.last = t;
    this.tokens -= bytes;
    if (this.tokens < 0) await new Promise((r) => setTimeout(r, Math.ceil((-this.tokens / rate) * 1000)));
  }
}
