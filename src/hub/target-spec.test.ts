import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseTargetSpec } from './target-spec.js';

describe('target specs', () => {
  it('parse with defaults: async, degrade after 5 s, unlimited, every group', () => {
    const t = parseTargetSpec('paris=tls://10.0.0.5:7500');
    assert.deepEqual({ ...t, schedule: undefined }, { name: 'paris', url: 'tls://10.0.0.5:7500', mode: 'async', outage: 'degrade', timeoutMs: 5000, schedule: undefined, rate: 'unlimited', groups: null });
  });

  it('parse every key', () => {
    const t = parseTargetSpec('a=tls://h:1,mode=sync,outage=block,timeout=750ms,rate=10MB@08:00-18:00;unlimited,groups=db|files');
    assert.equal(t.mode, 'sync');
    assert.equal(t.outage, 'block');
    assert.equal(t.timeoutMs, 750);
    assert.equal(t.schedule.length, 2);
    assert.deepEqual(t.groups, ['db', 'files']);
  });

  it('refuse what is not a target, saying what is wrong', () => {
    assert.throws(() => parseTargetSpec('tls://h:1'), /is not a target/);
    assert.throws(() => parseTargetSpec('a=tls://h:1,mode=fast'), /mode/);
    assert.throws(() => parseTargetSpec('a=tls://h:1,colour=red'), { code: 'TM_USAGE' });
    assert.throws(() => parseTargetSpec('a=http://h'), /not a node address/);
    assert.throws(() => parseTargetSpec('a=tls://h:1,groups=a,b'), { code: 'TM_USAGE' });
  });
});
