import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newMasterKey } from '../crypto/master-key.js';
import { Sealer } from '../crypto/sealer.js';
import { DEFAULT_POLICY, formatDuration, parseDuration, parseKeepCount, readPolicy, writePolicy } from './retention-policy.js';

describe('retention policy', () => {
  it('parses durations in minutes, hours, days and weeks', () => {
    assert.equal(parseDuration('30m'), 30 * 60_000);
    assert.equal(parseDuration('12h'), 12 * 3_600_000);
    assert.equal(parseDuration('7d'), 7 * 86_400_000);
    assert.equal(parseDuration('2w'), 14 * 86_400_000);
    assert.equal(parseDuration('0'), 0);
    assert.equal(parseDuration(' 3d '), 3 * 86_400_000);
  });

  it('rejects malformed durations with a message naming the option', () => {
    for (const bad of ['', '7', '7x', '-1d', '1.5d', 'd', '7 d', '1y', '99999w']) {
      assert.throws(() => parseDuration(bad, '--keep-within'), (e: Error & { code?: string }) => e.code === 'TM_USAGE' && e.message.includes('--keep-within'), bad);
    }
  });

  it('formats durations with the largest whole unit', () => {
    assert.equal(formatDuration(7 * 86_400_000), '7d');
    assert.equal(formatDuration(36 * 3_600_000), '36h');
    assert.equal(formatDuration(90 * 60_000), '90m');
    assert.equal(formatDuration(0), '0');
  });

  it('parses counts and rejects negative, fractional or huge ones', () => {
    assert.equal(parseKeepCount('48', '--keep-hourly'), 48);
    assert.equal(parseKeepCount('0', '--keep-hourly'), 0);
    for (const bad of ['-1', '1.5', 'x', '', '99999999']) assert.throws(() => parseKeepCount(bad, '--keep-daily'), /--keep-daily/);
  });

  describe('storage', () => {
    let dir: string;
    const sealer = new Sealer(newMasterKey());
    before(() => { dir = mkdtempSync(join(tmpdir(), 'tidemark-policy-')); });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('gives the defaults for a group without a stored policy', () => {
      assert.deepEqual(readPolicy({ dir, sealer }, 'nothing'), { policy: DEFAULT_POLICY, stored: false });
    });

    it('stores a policy sealed and reads it back', () => {
      const p = { keepWithinMs: 3_600_000, keepHourly: 5, keepDaily: 2, keepBookmarks: true as const };
      writePolicy({ dir, sealer }, 'g1', p, new Date('2026-01-02T03:04:05Z'));
      const file = readFileSync(join(dir, 'policies', 'g1.policy'));
      assert.equal(file.includes(Buffer.from('keepHourly')), false, 'the file is sealed');
      assert.deepEqual(readPolicy({ dir, sealer }, 'g1'), { policy: p, stored: true, updated: '2026-01-02T03:04:05.000Z' });
    });

    it('refuses a policy file copied from another group or altered', () => {
      writePolicy({ dir, sealer }, 'g2', DEFAULT_POLICY);
      writeFileSync(join(dir, 'policies', 'g3.policy'), readFileSync(join(dir, 'policies', 'g2.policy')));
      assert.throws(() => readPolicy({ dir, sealer }, 'g3'), /belongs to group "g2"/);
      const bytes = readFileSync(join(dir, 'policies', 'g2.policy'));
      bytes[bytes.length - 1]! ^= 1;
      writeFileSync(join(dir, 'policies', 'g2.policy'), bytes);
      assert.throws(() => readPolicy({ dir, sealer }, 'g2'), /authentication failed/);
      assert.throws(() => readPolicy({ dir, sealer: new Sealer(newMasterKey()) }, 'g1'), /authentication failed/);
    });
  });
});
