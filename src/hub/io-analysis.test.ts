import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bandwidthForRpo, denseMinutes, percentile, profileSummary, ratesByHour } from './io-analysis.js';

const T0 = Date.UTC(2026, 10, 23, 9, 0);
const min = (i: number, bytes: number): { minute: number; bytes: number } => ({ minute: T0 + i * 60_000, bytes });

describe('I/O analysis', () => {
  it('fills idle minutes and computes percentiles by UTC hour', () => {
    const rows = [min(0, 600), min(2, 6000), min(61, 60)];
    assert.equal(denseMinutes(rows).length, 62);
    const h = ratesByHour(rows);
    assert.deepEqual(h.map((x) => x.hour), [9, 10]);
    assert.equal(h[0]!.minutes, 60);
    assert.equal(h[0]!.max, 100, '6000 bytes in a minute is 100 B/s');
    assert.equal(h[0]!.p50, 0, 'most minutes of hour 9 were idle');
    assert.equal(percentile([1, 2, 3, 4], 50), 2);
  });

  it('finds the least bandwidth holding an RPO', () => {
    // 60 MB in one minute, then idle: with a 1-minute RPO the link must carry 0.5 MB/s
    // (backlog after the minute 60 MB − 60·B must be ≤ 60·B).
    const rows = [min(0, 60e6), min(10, 0)];
    const bw = bandwidthForRpo(rows, 60_000);
    assert.ok(Math.abs(bw - 0.5e6) / 0.5e6 < 0.01, `${bw}`);
    assert.ok(bandwidthForRpo(rows, 600_000) < bw, 'a longer RPO needs less bandwidth');
    assert.equal(bandwidthForRpo([], 60_000), 0);
  });

  it('summarises a profile: bytes, the bandwidth for the RPO, journal growth per day over the recorded span', () => {
    // 1440 bytes over a 2-minute span (idle minutes inside count): 720 bytes a minute, ~1 MB a day.
    const p = profileSummary([min(0, 1000), min(1, 440)], 60_000);
    assert.deepEqual([p.minutes, p.capturedBytes, p.rpoMs, p.bytesPerDay], [2, 1440, 60_000, 720 * 1440]);
    assert.equal(p.bandwidthForRpo, Math.ceil(bandwidthForRpo([min(0, 1000), min(1, 440)], 60_000)));
    assert.equal(profileSummary([min(0, 600), min(9, 0)], 60_000).bytesPerDay, 60 * 1440, 'idle minutes inside the span lower the daily rate');
    assert.deepEqual(profileSummary([], 60_000), { minutes: 0, capturedBytes: 0, rpoMs: 60_000, bandwidthForRpo: 0, bytesPerDay: 0, byHour: [] });
  });
});
