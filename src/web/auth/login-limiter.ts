/**
 * Slows password guessing: at most `perUser` failed logins a minute for one (address,
 * user) pair, and `perAddress` for one address whatever the user names. Past that, logins
 * from there are refused with 429 until the oldest failure leaves the window, even with
 * the right password. Memory is bounded: the oldest keys are dropped first.
 */

export interface LimiterOptions {
  windowMs?: number;
  perUser?: number;
  perAddress?: number;
  now?: () => number;
}

const MAX_KEYS = 50_000;

export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();
  private readonly windowMs: number;
  private readonly perUser: number;
  private readonly perAddress: number;
  private readonly now: () => number;

  constructor(o: LimiterOptions = {}) {
    this.windowMs = o.windowMs ?? 60_000;
    this.perUser = o.perUser ?? 5;
    this.perAddress = o.perAddress ?? 30;
    this.now = o.now ?? Date.now;
  }

  private recent(key: string): number[] {
    const t = this.now();
    const list = (this.failures.get(key) ?? []).filter((x) => t - x < this.windowMs);
    if (list.length === 0) this.failures.delete(key);
    else this.failures.set(key, list);
    return list;
  }

  /** Milliseconds until a login may be tried again, or 0 when it may be tried now. */
  retryAfterMs(ip: string, user: string): number {
    const t = this.now();
    const check = (key: string, max: number): number => {
      const list = this.recent(key);
      return list.length >= max ? list[list.length - max]! + this.windowMs - t : 0;
    };
    return Math.max(check(`${ip}\u0000${user}`, this.perUser), check(ip, this.perAddress));
  }

  recordFailure(ip: string, user: string): void {
    const t = this.now();
    for (const key of [`${ip}\u0000${user}`, ip]) {
      const list = this.recent(key);
      list.push(t);
      this.failures.delete(key);
      this.failures.set(key, list);
    }
    while (this.failures.size > MAX_KEYS) this.failures.delete(this.failures.keys().next().value!);
  }

  /** A successful login forgets that pair's failures (not the address's). */
  recordSuccess(ip: string, user: string): void {
    this.failures.delete(`${ip}\u0000${user}`);
  }
}
