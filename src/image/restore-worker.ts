/**
 * Worker thread of {@link RestorePool}: writes whole files. For each job it creates the
 * file (O_EXCL|O_NOFOLLOW, at a path the main thread built and checked), reads, opens and
 * verifies every chunk (AEAD, zstd, id: the same Sealer as the main thread), writes it,
 * then sets size, owner, mode and times. Damage (TM_CORRUPT) removes the partial file and
 * is answered as such; any other error is answered with its message and errno code.
 */
import { closeSync, constants as fsc, fchmodSync, fchownSync, ftruncateSync, futimesSync, openSync, rmSync, writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { TidemarkError } from '../common/errors.js';
import { Sealer } from '../vault/crypto/sealer.js';
import { PackReader } from '../vault/pack/pack-reader.js';
import type { RestoreJob, RestoreReply } from './restore-pool.js';
import { seconds } from './restore-times.js';

const data = workerData as { vaultDir: string; encKey: Uint8Array; idKey: Uint8Array };
const sealer = new Sealer({ encKey: Buffer.from(data.encKey), idKey: Buffer.from(data.idKey), gearSeed: Buffer.alloc(32) });
const packs = new PackReader(data.vaultDir, sealer);
const isRoot = process.getuid?.() === 0;

function write(job: RestoreJob, abs: Buffer): number {
  const fd = openSync(abs, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
  let bytes = 0;
  try {
    let pos = 0;
    for (const x of job.extents) {
      if (x.blob !== null) {
        const plain = packs.readBlob(x.blob.pack, { ...x.blob, id: Buffer.from(x.blob.id, 'hex') });
        if (plain.length !== x.length) {
          throw new TidemarkError('TM_CORRUPT', `chunk ${x.blob.id.slice(0, 16)} has ${plain.length} bytes, the journal says ${x.length}`);
        }
        let off = 0;
        while (off < plain.length) off += writeSync(fd, plain, off, plain.length - off, pos + off);
        bytes += plain.length;
      }
      pos += x.length;
    }
    // Holes stay holes: skipped extents are never written, the size is set once.
    if (pos !== job.size || job.extents.at(-1)?.blob === null) ftruncateSync(fd, job.size);
    if (isRoot) fchownSync(fd, job.uid, job.gid);
    fchmodSync(fd, job.mode);
    const t = seconds(job.mtimeNs);
    futimesSync(fd, t, t);
  } finally {
    closeSync(fd);
  }
  return bytes;
}

parentPort!.on('message', (job: RestoreJob) => {
  let reply: RestoreReply;
  const abs = Buffer.from(job.abs.buffer, job.abs.byteOffset, job.abs.byteLength);
  try {
    reply = { n: job.n, bytes: write(job, abs) };
  } catch (err) {
    if (err instanceof TidemarkError && err.code === 'TM_CORRUPT') {
      try { rmSync(abs, { force: true }); } catch { /* reported below through the damage */ }
      reply = { n: job.n, damaged: err.message };
    } else {
      const e = err as NodeJS.ErrnoException;
      reply = { n: job.n, error: e.message, code: e.code };
    }
  }
  parentPort!.postMessage(reply);
});
