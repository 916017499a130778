/**
 * Serve one file over NBD with Tidemark's server, for measuring it against `nbdkit file`:
 *   UV_THREADPOOL_SIZE=16 node dist/bench/nbd-serve.js unix:/tmp/tm.sock /tmp/disk.raw [sizeBytes]
 * Runs until SIGINT/SIGTERM. Not part of `npm run bench` (that one needs no NBD tools).
 */
import { FileExport } from '../src/nbd/file-export.js';
import { startNbdServer } from '../src/nbd/nbd-server.js';

async function main(): Promise<void> {
  const [listen, file, size] = process.argv.slice(2);
  if (listen === undefined || file === undefined) {
    process.stderr.write('usage: nbd-serve LISTEN FILE [SIZE]\n');
    process.exit(2);
  }
  const exp = await FileExport.open(file, size === undefined ? {} : { size: Number(size) });
  const server = await startNbdServer({ listen, exports: [exp], log: (l) => process.stderr.write(`${l}\n`) });
  process.stdout.write(`${server.address}\n`);
  const stop = async (): Promise<void> => {
    await server.close();
    await exp.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

await main();
