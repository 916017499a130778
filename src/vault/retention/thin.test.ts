import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { thin, type ThinPoint } from './thin.js';
import { DEFAULT_POLICY, type RetentionPolicy } from './retention-policy.js';

const NOW = Date.parse('2026-11-20T13:30:00Z');
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const at = (iso: string): number => Date.parse(iso);
const policy = (p: Partial<RetentionPolicy>): RetentionPolicy => ({ ...DEFAULT_POLICY, ...p });

/** Points numbered 1.. in the order of the given times. */
function pts(...times: number[]): ThinPoint[] {
  return times.map((time, i) => ({ seq: i + 1, time }));
}

describe('thin', () => {
  it('keeps every point inside the window, with reason "within 7d"', () => {
    const points = pts(NOW - 7 * DAY, NOW - 6 * DAY, NOW - HOUR, NOW - MIN, NOW);
    const r = thin(points, new Set(), policy({ keepHourly: 0, keepDaily: 0 }), NOW);
    assert.deepEqual(r.keep, [1, 2, 3, 4, 5]);
    assert.deepEqual(r.drop, []);
    assert.equal(r.reasons.get(1), 'within 7d', 'a point exactly at the window start is inside it');
    assert.equal(r.reasons.get(3), 'within 7d');
    assert.equal(r.reasons.get(5), 'latest, within 7d');
  });

  it('drops points just outside the window when no hourly, daily or bookmark rule keeps them', () => {
    const points = pts(NOW - 7 * DAY - 1, NOW - 7 * DAY, NOW - DAY);
    const r = thin(points, new Set(), policy({ keepHourly: 0, keepDaily: 0 }), NOW);
    assert.deepEqual(r.keep, [2, 3]);
    assert.deepEqual(r.drop, [1]);
    assert.equal(r.reasons.has(1), false);
  });

  it('beyond the window keeps the last point of each of the N most recent hours that have points', () => {
    // Ten days ago: three points in 10:xx, two in 11:xx, none in 12:xx, one in 13:xx.
    const base = NOW - 10 * DAY; // 2026-11-10T13:30Z
    const points = pts(
      at('2026-11-10T10:05:00Z'), at('2026-11-10T10:30:00Z'), at('2026-11-10T10:59:59.999Z'),
      at('2026-11-10T11:00:00Z'), at('2026-11-10T11:45:00Z'),
      at('2026-11-10T13:10:00Z'),
      NOW - MIN,
    );
    assert.equal(new Date(base).toISOString(), '2026-11-10T13:30:00.000Z');
    const r = thin(points, new Set(), policy({ keepHourly: 2, keepDaily: 0 }), NOW);
    // The two most recent hours with points beyond the window are 13 and 11 (12 had none).
    assert.deepEqual(r.keep, [5, 6, 7]);
    assert.deepEqual(r.drop, [1, 2, 3, 4]);
    assert.equal(r.reasons.get(6), 'hourly 2026-11-10T13');
    assert.equal(r.reasons.get(5), 'hourly 2026-11-10T11');
    const r3 = thin(points, new Set(), policy({ keepHourly: 3, keepDaily: 0 }), NOW);
    assert.deepEqual(r3.keep, [3, 5, 6, 7]);
    assert.equal(r3.reasons.get(3), 'hourly 2026-11-10T10', 'the last point of hour 10 is kept, not the first');
  });

  it('beyond the window keeps the last point of each of the N most recent days that have points', () => {
    const points = pts(
      at('2026-10-30T08:00:00Z'), at('2026-10-30T20:00:00Z'),
      at('2026-11-01T00:00:00Z'), at('2026-11-01T23:59:59Z'),
      at('2026-11-05T12:00:00Z'),
      NOW,
    );
    const r = thin(points, new Set(), policy({ keepHourly: 0, keepDaily: 2 }), NOW);
    assert.deepEqual(r.keep, [4, 5, 6]);
    assert.equal(r.reasons.get(4), 'daily 2026-11-01');
    assert.equal(r.reasons.get(5), 'daily 2026-11-05');
    const all = thin(points, new Set(), policy({ keepHourly: 0, keepDaily: 30 }), NOW);
    assert.deepEqual(all.keep, [2, 4, 5, 6]);
    assert.equal(all.reasons.get(2), 'daily 2026-10-30');
  });

  it('uses UTC hours and days whatever the capture times', () => {
    const points = pts(at('2026-11-01T23:30:00Z'), at('2026-11-02T00:30:00Z'), NOW);
    const r = thin(points, new Set(), policy({ keepHourly: 0, keepDaily: 5 }), NOW);
    assert.equal(r.reasons.get(1), 'daily 2026-11-01');
    assert.equal(r.reasons.get(2), 'daily 2026-11-02');
  });

  it('gives every reason of a point that several rules keep, in a fixed order', () => {
    const points = pts(at('2026-11-01T10:00:00Z'), at('2026-11-01T10:30:00Z'));
    const r = thin(points, new Map([[2, 'pre-patch']]), policy({ keepHourly: 5, keepDaily: 5 }), NOW);
    assert.equal(r.reasons.get(2), 'latest, bookmark pre-patch, hourly 2026-11-01T10, daily 2026-11-01');
    assert.deepEqual(r.drop, [1]);
  });

  it('keeps bookmarked points wherever they are, naming the bookmark', () => {
    const points = pts(NOW - 40 * DAY, NOW - 39 * DAY, NOW - 38 * DAY, NOW);
    const named = thin(points, new Map([[2, 'quarter-close']]), policy({ keepHourly: 0, keepDaily: 0 }), NOW);
    assert.deepEqual(named.keep, [2, 4]);
    assert.equal(named.reasons.get(2), 'bookmark quarter-close');
    const bare = thin(points, new Set([1, 3]), policy({ keepHourly: 0, keepDaily: 0 }), NOW);
    assert.deepEqual(bare.keep, [1, 3, 4]);
    assert.equal(bare.reasons.get(1), 'bookmark');
  });

  it('always keeps the latest point, even far beyond the window with no hourly or daily points', () => {
    const points = pts(NOW - 100 * DAY, NOW - 90 * DAY);
    const r = thin(points, new Set(), policy({ keepWithinMs: HOUR, keepHourly: 0, keepDaily: 0 }), NOW);
    assert.deepEqual(r.keep, [2]);
    assert.deepEqual(r.drop, [1]);
    assert.equal(r.reasons.get(2), 'latest');
  });

  it('the latest point is the highest seq, whatever the input order', () => {
    const points: ThinPoint[] = [{ seq: 9, time: NOW - 50 * DAY }, { seq: 3, time: NOW - 60 * DAY }, { seq: 5, time: NOW - 55 * DAY }];
    const r = thin(points, new Set(), policy({ keepHourly: 0, keepDaily: 0 }), NOW);
    assert.deepEqual(r.keep, [9]);
    assert.deepEqual(r.drop, [3, 5]);
  });

  it('hourly and daily points are chosen among the points beyond the window only', () => {
    // The hour 13 of today has points on both sides of a 30-minute window.
    const points = pts(at('2026-11-20T12:50:00Z'), at('2026-11-20T13:05:00Z'), at('2026-11-20T13:10:00Z'), at('2026-11-20T13:20:00Z'));
    const r = thin(points, new Set(), policy({ keepWithinMs: 15 * MIN, keepHourly: 1, keepDaily: 0 }), NOW);
    assert.deepEqual(r.keep, [3, 4]);
    assert.equal(r.reasons.get(3), 'hourly 2026-11-20T13');
  });

  it('a zero window keeps nothing for being recent; points captured after now are kept', () => {
    const points = pts(NOW - 2 * HOUR, NOW - HOUR, NOW + HOUR);
    const r = thin(points, new Set(), policy({ keepWithinMs: 0, keepHourly: 0, keepDaily: 0 }), NOW);
    assert.deepEqual(r.keep, [3]);
    assert.equal(r.reasons.get(3), 'latest, within 0');
  });

  it('thins nothing from an empty journal', () => {
    assert.deepEqual(thin([], new Set(), DEFAULT_POLICY, NOW), { keep: [], drop: [], reasons: new Map() });
  });

  it('the default policy keeps 7 days, then 48 hourly and 30 daily points', () => {
    // One point every 30 minutes for 60 days.
    const points: ThinPoint[] = [];
    for (let t = NOW - 60 * DAY, seq = 1; t <= NOW; t += 30 * MIN, seq++) points.push({ seq, time: t });
    const r = thin(points, new Set(), DEFAULT_POLICY, NOW);
    const reasons = [...r.reasons.values()];
    const within = reasons.filter((x) => x.includes('within 7d')).length;
    assert.equal(within, 7 * 48 + 1);
    assert.equal(reasons.filter((x) => x.includes('hourly')).length, 48);
    assert.equal(reasons.filter((x) => x.includes('daily')).length, 30);
    // The oldest hourly point is 48 hours before the window; daily points reach 30 days back.
    const oldestHourly = Math.min(...[...r.reasons].filter(([, x]) => x.includes('hourly')).map(([s]) => s));
    assert.equal(points[oldestHourly - 1]!.time, NOW - 7 * DAY - 47 * HOUR);
    assert.equal(r.keep.length + r.drop.length, points.length);
  });

  it('satisfies its invariants on random journals', () => {
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 0, max: 400 * HOUR }), { minLength: 0, maxLength: 200 }),
      fc.integer({ min: 0, max: 100 * HOUR }), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 30 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      (offsets, within, hourly, daily, marks) => {
        const times = offsets.map((o) => NOW - o).sort((a, b) => a - b);
        const points = pts(...times);
        const bookmarks = new Set(marks.map((m) => (points.length ? (m % points.length) + 1 : 0)));
        const p = policy({ keepWithinMs: within, keepHourly: hourly, keepDaily: daily });
        const r = thin(points, bookmarks, p, NOW);
        // keep and drop partition the points, each sorted.
        assert.deepEqual([...r.keep, ...r.drop].sort((a, b) => a - b), points.map((x) => x.seq));
        assert.deepEqual(r.keep, [...r.keep].sort((a, b) => a - b));
        assert.deepEqual([...r.reasons.keys()].sort((a, b) => a - b), r.keep);
        if (points.length) assert.ok(r.keep.includes(points.length), 'latest kept');
        for (const x of points) {
          if (x.time >= NOW - within) assert.ok(r.keep.includes(x.seq), 'inside the window kept');
          if (bookmarks.has(x.seq)) assert.ok(r.keep.includes(x.seq), 'bookmark kept');
        }
        const count = (label: string): number => [...r.reasons.values()].filter((x) => x.includes(label)).length;
        assert.ok(count('hourly ') <= hourly);
        assert.ok(count('daily ') <= daily);
        // A kept hourly point is the last point of its hour beyond the window.
        for (const [seq, why] of r.reasons) {
          const m = /hourly (\S+)/.exec(why);
          if (!m) continue;
          const later = points.filter((x) => x.seq > seq && x.time < NOW - within && new Date(x.time).toISOString().startsWith(m[1]!));
          assert.equal(later.length, 0);
        }
      },
    ), { numRuns: 300 });
  });
});
