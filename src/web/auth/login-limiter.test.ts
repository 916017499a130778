import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LoginLimiter } from './login-limiter.js';

describe('LoginLimiter', () => {
  it('refuses a pair after 5 failures in a minute, until the oldest leaves the window', () => {
    let now = 1_000_000;
    const l = new LoginLimiter({ now: () => now });
    for (let i = 0; i < 5; i++) { assert.equal(l.retryAfterMs('1.2.3.4', 'bob'), 0); l.recordFailure('1.2.3.4', 'bob'); now += 1000; }
    assert.equal(l.retryAfterMs('1.2.3.4', 'bob'), 55_000);
    assert.equal(l.retryAfterMs('5.6.7.8', 'bob'), 0, 'another address is not held back');
    assert.equal(l.retryAfterMs('1.2.3.4', 'alice'), 0, 'another user from the same address is not held back');
    now += 55_000;
    assert.equal(l.retryAfterMs('1.2.3.4', 'bob'), 0);
  });
  it('limits one address across user names', () => {
    const l = new LoginLimiter({ perAddress: 3, now: () => 0 });
    for (const u of ['a', 'b', 'c']) l.recordFailure('9.9.9.9', u);
    assert.ok(l.retryAfterMs('9.9.9.9', 'd') > 0);
  });
  it('forgets a pair\'s failures after a success', () => {
    const l = new LoginLimiter({ perUser: 2, now: () => 0 });
    l.recordFailure('ip', 'u');
    l.recordSuccess('ip', 'u');
    l.recordFailure('ip', 'u');
    assert.equal(l.retryAfterMs('ip', 'u'), 0);
  });
});
