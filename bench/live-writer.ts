/**
 * The load generator of bench/live-load.ts, run in a worker thread so that its synchronous
 * writes never delay the sampler: writes `rateMB` MB/s (MB = 10^6 bytes) into `src` for
 * `seconds`, as a mix of
 *  - new files of 1–8 MiB of random bytes in src/new/ (the oldest deleted beyond `keepNew`), and
 *  - in-place edits of 4–64 KiB of random bytes at random offsets inside the large files
 *    `bigFiles` (pwrite through a descriptor kept open, as a database would),
 * with `editShare` of the bytes going to edits. Random bytes: the worst case for compression
 * and deduplication. Posts { type: 'progress' | 'done', ...WriterStats } to the parent.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { randomFillSync, randomInt } from 'node:crypto';
import { closeSync, fstatSync, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface WriterParams {
  src: string;
  seconds: number;
  rateMB: number;
  editShare: number;
  bigFiles: string[];
  keepNew: number;
}

export interface WriterStats {
  elapsedMs: number;
  bytes: number;
  newFiles: number;
  newBytes: number;
  edits: number;
  editBytes: number;
  deletedFiles: number;
  /** the longest the writer fell behind its schedule, ms */
  maxBehindMs: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;

function run(p: WriterParams): void {
  const buf = Buffer.allocUnsafe(8 * MiB);
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const newDir = join(p.src, 'new');
  mkdirSync(newDir, { recursive: true });
  const fds = p.bigFiles.map((f) => openSync(f, 'r+'));
  const sizes = fds.map((fd) => fstatSync(fd).size);
  const live: string[] = [];
  const s: WriterStats = { elapsedMs: 0, bytes: 0, newFiles: 0, newBytes: 0, edits: 0, editBytes: 0, deletedFiles: 0, maxBehindMs: 0 };
  const rate = p.rateMB * 1e6 / 1000; // bytes per ms
  const start = Date.now();
  let lastReport = start;
  let seq = 0;
  try {
    for (;;) {
      const now = Date.now();
      const elapsed = now - start;
      if (elapsed >= p.seconds * 1000) break;
      const due = rate * elapsed;
      if (s.bytes >= due) {
        // Ahead of schedule: sleep ~5 ms (Atomics.wait blocks this worker only).
        Atomics.wait(nap, 0, 0, 5);
        continue;
      }
      s.maxBehindMs = Math.max(s.maxBehindMs, (due - s.bytes) / rate);
      if (fds.length > 0 && s.editBytes < p.editShare * (s.bytes + 1)) {
        const i = randomInt(fds.length);
        const len = randomInt(4 * KiB, 64 * KiB + 1);
        const off = randomInt(0, Math.max(1, sizes[i]! - len));
        randomFillSync(buf, 0, len);
        writeSync(fds[i]!, buf, 0, len, off);
        s.edits++;
        s.editBytes += len;
        s.bytes += len;
      } else {
        const len = randomInt(1 * MiB, 8 * MiB + 1);
        randomFillSync(buf, 0, len);
        const name = join(newDir, `f${String(seq++).padStart(6, '0')}.bin`);
        const fd = openSync(name, 'w');
        try { writeSync(fd, buf, 0, len); } finally { closeSync(fd); }
        live.push(name);
        s.newFiles++;
        s.newBytes += len;
        s.bytes += len;
        while (live.length > p.keepNew) {
          unlinkSync(live.shift()!);
          s.deletedFiles++;
        }
      }
      if (now - lastReport >= 1000) {
        lastReport = now;
        parentPort?.postMessage({ type: 'progress', ...s, elapsedMs: Date.now() - start });
      }
    }
  } finally {
    for (const fd of fds) closeSync(fd);
  }
  parentPort?.postMessage({ type: 'done', ...s, elapsedMs: Date.now() - start });
}

if (parentPort && workerData) run(workerData as WriterParams);
