/** `tidemark protect-volume BACKING`: serve a volume over NBD and journal every write in order. */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { TidemarkError } from '../../common/errors.js';
import { parseByteSize } from '../../common/byte-size.js';
import { runVolumeProtect } from '../../embedded/volume-protect.js';
import { formatBytes, progressLine, type GlobalOptions, withGlobals } from '../cli-context.js';
import { openOrCreateForWrite, validateGroup } from './protect.js';
import { parseListen } from '../../nbd/nbd-listen.js';
import { withShipper } from '../../tap/shipper/start-shipper.js';

interface Options extends GlobalOptions { group: string; listen: string; size?: string; sync?: boolean; commitInterval?: string; hub?: string }

export function registerProtectVolume(program: Command): void {
  withGlobals(program.command('protect-volume').argument('<backing>', 'backing file (created with --size) or block device')
    .description('serve a volume over NBD; every write is journaled in the order it is acknowledged'))
    .requiredOption('--group <name>', 'group to record the volume into')
    .requiredOption('--listen <addr>', 'where to serve NBD: unix:PATH or tcp:HOST:PORT')
    .option('--size <bytes>', 'create the backing file with this size (e.g. 4G) when it does not exist')
    .option('--sync', 'acknowledge a write only once it is journaled durably (RPO 0 on the vault)')
    .option('--commit-interval <ms>', 'without --sync, make acknowledged writes durable at least this often', '200')
    .option('--hub <url>', 'also stream every recovery point to this hub (tls://HOST:PORT; TLS identity from $TIDEMARK_TLS_DIR)')
    .action(async (backing: string, o: Options) => {
      const group = validateGroup(o.group);
      parseListen(o.listen);
      const size = o.size !== undefined ? parseByteSize(o.size, '--size') : undefined;
      const interval = Number(o.commitInterval ?? '200');
      if (!Number.isInteger(interval) || interval < 1 || interval > 3_600_000) {
        throw new TidemarkError('TM_USAGE', `--commit-interval "${o.commitInterval}" is not a number of milliseconds`, { hint: 'e.g. --commit-interval 200' });
      }
      const path = resolve(backing);
      const vault = openOrCreateForWrite(o, `protect-volume ${path}`);
      const line = progressLine(o);
      try {
        await withShipper(o.hub, vault, { group, json: o.json === true }, () => runVolumeProtect(vault, {
          backing: path, group, listen: o.listen, size, sync: o.sync === true, json: o.json === true, commitIntervalMs: interval,
          onProgress: (done, total) => line(`baseline: ${formatBytes(done)} of ${formatBytes(total)}`),
        }));
      } finally {
        line.done();
        vault.close();
      }
    });
}
