import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ABSOLUTE_MS, IDLE_MS, SessionStore, csrfMatches, sessionCookie } from './sessions.js';

describe('SessionStore', () => {
  it('ends a session after IDLE_MS unused, and after ABSOLUTE_MS whatever its use', () => {
    let now = 0;
    const s = new SessionStore(() => now);
    const idle = s.create('a').token;
    const busy = s.create('b').token;
    for (let t = 0; t < ABSOLUTE_MS; t += IDLE_MS / 2) { now = t; assert.ok(s.get(busy), `used at ${t}`); }
    assert.equal(s.get(idle), undefined, 'unused for longer than IDLE_MS');
    now = ABSOLUTE_MS + 1;
    assert.equal(s.get(busy), undefined, 'past ABSOLUTE_MS');
  });
  it('ends every session of a user, and only theirs', () => {
    const s = new SessionStore();
    const a1 = s.create('a').token, a2 = s.create('a').token, b = s.create('b').token;
    s.endUser('a');
    assert.equal(s.get(a1), undefined);
    assert.equal(s.get(a2), undefined);
    assert.ok(s.get(b));
    assert.equal(s.get('not-a-token'), undefined);
  });
  it('checks the CSRF token exactly', () => {
    const { session } = new SessionStore().create('a');
    assert.ok(csrfMatches(session, session.csrf));
    assert.equal(csrfMatches(session, session.csrf.slice(1)), false);
    assert.equal(csrfMatches(session, undefined), false);
  });
  it('marks the cookie Secure only over TLS', () => {
    assert.match(sessionCookie('t', true), /; Secure$/);
    assert.doesNotMatch(sessionCookie('t', false), /Secure/);
  });
});
