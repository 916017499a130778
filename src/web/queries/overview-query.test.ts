import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { liveLagMs, rpoState } from './overview-query.js';
import type { RunStatus } from '../../embedded/run-status.js';

describe('rpoState', () => {
  it('is green within the target, amber up to twice it, red beyond, red when nothing watches', () => {
    assert.equal(rpoState(0, 60_000).state, 'green');
    assert.equal(rpoState(60_000, 60_000).state, 'green');
    assert.equal(rpoState(60_001, 60_000).state, 'amber');
    assert.equal(rpoState(120_000, 60_000).state, 'amber');
    assert.equal(rpoState(120_001, 60_000).state, 'red');
    const unwatched = rpoState(null, 60_000);
    assert.equal(unwatched.state, 'red');
    assert.match(unwatched.reason, /not being captured/);
  });
});

describe('liveLagMs', () => {
  const run = (o: Partial<RunStatus>): RunStatus => ({
    pid: 1, host: 'h', source: '/s', group: 'g', started: '', updated: '2026-11-23T10:00:00.000Z', lastSeq: 1, lastCaptureTime: null,
    pendingChanges: 0, rpoLagMs: 0, captures: 0, filesCaptured: 0, bytesCaptured: 0, bytesNew: 0, ...o,
  });
  it('adds the time since the status was written while changes are pending', () => {
    const now = Date.parse('2026-11-23T10:00:02.000Z');
    assert.equal(liveLagMs(run({ pendingChanges: 3, rpoLagMs: 500 }), now), 2500);
    assert.equal(liveLagMs(run({ pendingChanges: 0, rpoLagMs: 0 }), now), 0, 'nothing pending: no lag, however old the status');
  });
});
