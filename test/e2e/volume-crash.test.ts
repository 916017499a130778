/**
 * SIGKILL of a volume tap (default mode: writes go to its write log, FLUSH makes them
 * durable) at random moments while qemu-io writes and flushes: after each kill, the
 * image at `latest` (the reader folds the log the dead tap left) holds every write whose
 * FLUSH was acknowledged, and a restarted tap on the same backing store goes on from
 * there. Several rounds on one vault, so replays and restarts follow one another.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeVault, type TestVault } from '../helpers/cli.js';
import { killAllLive } from '../helpers/live.js';
import { startVolume } from '../helpers/volume.js';

const SLOT = 64 * 1024;
const SLOTS = 256; // a 16 MiB volume
const ROUNDS = 4;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('volume tap under SIGKILL', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  after(async () => {
    await killAllLive();
    for (const c of cleanups.reverse()) await c();
  });

  it('every write whose FLUSH was acknowledged survives a kill at a random moment', async () => {
    const tv: TestVault = await makeVault();
    cleanups.push(() => tv.cleanup());
    const backing = path.join(tv.root, 'crash.img');
    const out = mkdtempSync(path.join(tmpdir(), 'tm-vcrash-'));
    cleanups.push(() => rmSync(out, { recursive: true, force: true }));
    /** the pattern each slot must hold: the last write to it whose flush was acknowledged */
    const must = new Map<number, number>();
    for (let round = 0; round < ROUNDS; round++) {
      const { proc, uri } = await startVolume(tv, backing, 'crash', ['--size', `${(SLOT * SLOTS) / (1024 * 1024)}M`]);
      await proc.waitFor((e) => e.event === 'baseline', 60_000, 'the baseline line');
      const cmds: string[] = [];
      const writes: { slot: number; pattern: number }[] = [];
      for (let k = 0; k < 2000; k++) {
        const slot = randomInt(SLOTS);
        const pattern = ((round * 61 + k) % 254) + 1;
        writes.push({ slot, pattern });
        cmds.push(`write -P ${pattern} ${slot * SLOT} ${SLOT}`, 'flush');
      }
      const io = spawn('qemu-io', ['-f', 'raw', ...cmds.flatMap((c) => ['-c', c]), uri], { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      io.stdout.setEncoding('utf8');
      io.stdout.on('data', (s: string) => { text += s; });
      const ioDone = new Promise<void>((r) => io.on('close', () => r()));
      const target = 20 + randomInt(300);
      for (let i = 0; i < 1500 && (text.match(/^wrote /gm)?.length ?? 0) < target; i++) await sleep(10);
      await proc.kill();
      await ioDone;
      const acked = text.match(/^wrote \d+\/\d+ bytes at offset \d+$/gm)?.length ?? 0;
      assert.ok(acked >= 20, `round ${round}: qemu-io saw only ${acked} writes before the kill`);
      // qemu-io runs its commands in order: write k's line is printed after write k is
      // acknowledged, and write k+1 is sent only after flush k returned.
      for (let k = 0; k < acked - 1; k++) must.set(writes[k]!.slot, writes[k]!.pattern);
      const file = path.join(out, `round-${round}.img`);
      const r = await tv.run(['image', 'crash', '--at', 'latest', '--to', file]);
      assert.equal(r.code, 0, r.stderr);
      const img = readFileSync(file);
      // The last acknowledged write (its flush may not have returned) and the one after it
      // (sent, maybe received, never acknowledged) may or may not be there.
      const maybe = new Set([writes[acked - 1]!.slot, writes[acked]!.slot]);
      for (const [slot, pattern] of must) {
        if (maybe.has(slot)) continue;
        const bytes = img.subarray(slot * SLOT, (slot + 1) * SLOT);
        assert.ok(bytes.every((b) => b === pattern), `round ${round}: slot ${slot} lost its flushed write (pattern ${pattern}, found ${bytes[0]})`);
      }
      // The next baseline records whichever state those slots are in.
      for (const slot of maybe) must.delete(slot);
    }
  });
});
