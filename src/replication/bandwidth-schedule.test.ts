import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseRate, parseSchedule, rateAt } from './bandwidth-schedule.js';
import { RateLimiter } from './rate-limiter.js';

const at = (h: number, m = 0): Date => new Date(2026, 10, 23, h, m);

describe('bandwidth schedule', () => {
  it('parses rates with decimal and binary units', () => {
    assert.equal(parseRate('2MB'), 2_000_000);
    assert.equal(parseRate('500k'), 500_000);
    assert.equal(parseRate('1MiB/s'), 1 << 20);
    assert.equal(parseRate('unlimited'), Infinity);
    assert.throws(() => parseRate('fast'), { code: 'TM_USAGE' });
  });

  it('applies the first window containing the local time, else the default', () => {
    const s = parseSchedule('10MB@08:00-18:00;1MB@22:00-06:00;unlimited');
    assert.equal(rateAt(s, at(8)), 10e6);
    assert.equal(rateAt(s, at(17, 59)), 10e6);
    assert.equal(rateAt(s, at(18)), Infinity);
    assert.equal(rateAt(s, at(23)), 1e6, 'a window wrapping midnight, before it');
    assert.equal(rateAt(s, at(5, 30)), 1e6, 'a window wrapping midnight, after it');
    assert.equal(rateAt(parseSchedule('10MB@08:00-18:00'), at(20)), Infinity, 'no default: unlimited');
    assert.throws(() => parseSchedule('1MB@8-18'), /not a time of day/);
  });

  it('a limiter holds the average rate, paying a large frame off afterwards', async () => {
    const l = new RateLimiter(parseSchedule('1MB'));
    const t0 = Date.now();
    for (let i = 0; i < 5; i++) await l.take(100_000);
    const ms = Date.now() - t0;
    // 500 kB at 1 MB/s: ~500 ms, less the 50 ms burst.
    assert.ok(ms >= 400 && ms < 800, `took ${ms} ms`);
  });
});
