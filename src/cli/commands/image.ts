/**
 * `tidemark image GROUP --at P`: a volume group as of a point, served over NBD at once
 * (`--listen`, read-only, or `--rw` through a copy-on-write overlay), or written out as a
 * physical copy (`--to FILE|DEVICE`).
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { TidemarkError } from '../../common/errors.js';
import { resolvePoint } from '../../image/point.js';
import { VolumeImage } from '../../image/volume-image.js';
import { ChunkCache } from '../../image/chunk-cache.js';
import { ImageExport } from '../../image/image-export.js';
import { copyImage } from '../../image/image-copy.js';
import { startNbdServer } from '../../nbd/nbd-server.js';
import { parseListen } from '../../nbd/nbd-listen.js';
import { nbdUri } from '../../nbd/nbd-uri.js';
import { formatBytes, openVault, output, progressLine, withGlobals, type GlobalOptions } from '../cli-context.js';
import { ReadHold } from '../../vault/vault-holds.js';

/** The chunk cache of `--to` (a sequential copy). */
const COPY_CACHE_BYTES = 4 * 1024 * 1024;

interface Options extends GlobalOptions { at?: string; listen?: string; to?: string; rw?: boolean; overlay?: string }

export function registerImage(program: Command): void {
  withGlobals(program.command('image').argument('<group>', 'volume group')
    .description('serve a volume as it was at a point over NBD (--listen), or write it out (--to)'))
    .option('--at <point>', 'latest, an ISO-8601 time, seq:N or bookmark:NAME', 'latest')
    .option('--listen <addr>', 'serve the image over NBD: unix:PATH or tcp:HOST:PORT')
    .option('--rw', 'with --listen: writable through a copy-on-write overlay (the journal is never touched)')
    .option('--overlay <file>', 'with --rw: keep the overlay in FILE (and FILE.map) and reuse it next time')
    .option('--to <file>', 'write a physical copy to FILE or a block device')
    .action(async (group: string, o: Options) => {
      if ((o.listen === undefined) === (o.to === undefined)) throw new TidemarkError('TM_USAGE', 'give exactly one of --listen ADDR or --to FILE');
      if (o.to !== undefined && (o.rw || o.overlay)) throw new TidemarkError('TM_USAGE', '--rw and --overlay go with --listen, not --to');
      if (o.overlay !== undefined && !o.rw) throw new TidemarkError('TM_USAGE', '--overlay needs --rw');
      if (o.listen !== undefined) parseListen(o.listen);
      const vault = openVault(o, false, 'image');
      let hold: ReadHold | undefined;
      try {
        const point = resolvePoint(vault, group, o.at);
        // Prune keeps this point (and every pack) while the image is served or copied.
        hold = ReadHold.take(vault, o.to !== undefined ? 'image --to' : 'image --listen', point);
        // A copy reads each chunk's blocks one after the other: it needs no more than a few chunks cached.
        const image = new VolumeImage(vault, point, o.to !== undefined ? { cache: new ChunkCache(COPY_CACHE_BYTES) } : {});
        const at = { group, seq: point.seq, time: new Date(point.time).toISOString(), size: image.size };
        if (o.to !== undefined) {
          const to = resolve(o.to);
          const line = progressLine(o);
          const started = Date.now();
          const r = copyImage(image, to, (done, total) => line(`image: ${formatBytes(done)} of ${formatBytes(total)}`));
          line.done();
          output(o, { ...at, to, ...r, seconds: (Date.now() - started) / 1000 },
            () => `Wrote group "${group}" at seq:${point.seq} (${at.time}) to ${to}: ${formatBytes(r.bytes)}, ${formatBytes(r.bytesWritten)} written, the rest holes`);
          return;
        }
        const exp = new ImageExport(image, { rw: o.rw === true, overlay: o.overlay ? resolve(o.overlay) : undefined });
        const server = await startNbdServer({ listen: o.listen!, exports: [exp], log: (l) => process.stderr.write(`tidemark nbd: ${l}\n`) });
        const uri = nbdUri(server.address);
        const ready = { event: 'ready', ...at, rw: o.rw === true, uri, address: server.address, overlay: o.overlay ? resolve(o.overlay) : null };
        if (o.json) process.stdout.write(JSON.stringify(ready) + '\n');
        else {
          process.stdout.write([
            `Serving group "${group}" at seq:${point.seq} (${at.time}), ${formatBytes(image.size)}, ${o.rw ? 'read/write (copy-on-write overlay)' : 'read-only'}, at ${uri}`,
            'Attach it with, for example:',
            `  nbdfuse /mnt/img '${uri}' &   then   losetup -f --show${o.rw ? '' : ' -r'} /mnt/img/nbd`,
            `  qemu-img info '${uri}'`,
            'Stop with Ctrl-C.',
          ].join('\n') + '\n');
        }
        await new Promise<void>((r) => { process.once('SIGINT', r); process.once('SIGTERM', r); });
        await server.close();
        exp.close();
        if (o.json) process.stdout.write(JSON.stringify({ event: 'stopped', group, seq: point.seq }) + '\n');
      } finally {
        hold?.release();
        vault.close();
      }
    });
}
