/**
 * Worker thread of {@link PackFlusher}: names a finished pack (SHA-256 of its whole
 * content) and writes it durably through writeFileDurable, then hands the pack's body
 * buffer back for reuse. Knows nothing of the index: the main thread records the pack
 * only once this answers, which is the ordering rule (pack durable before the index names it).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { writeFileDurable } from '../../common/durable-file.js';
import { TidemarkError } from '../../common/errors.js';
import { packRelPath } from './pack-format.js';
import type { FlushReply, FlushRequest } from './pack-flusher.js';

const { port, counter: shared } = workerData as { port: MessagePort; counter: SharedArrayBuffer };
const counter = new Int32Array(shared);

port.on('message', (m: FlushRequest) => {
  const body = new Uint8Array(m.buffer, 0, m.bodyLength);
  let reply: FlushReply;
  try {
    const parts = [m.header, body, m.trailer, m.footer];
    const hash = createHash('sha256');
    let size = 0;
    for (const p of parts) { hash.update(p); size += p.length; }
    const name = hash.digest('hex');
    writeFileDurable(join(m.vaultDir, packRelPath(name)), parts, 0o400);
    reply = { name, size, buffer: m.buffer };
  } catch (err) {
    reply = { error: (err as Error).message, code: err instanceof TidemarkError ? err.code : undefined, retryable: err instanceof TidemarkError && err.retryable, buffer: m.buffer };
  }
  port.postMessage(reply, [m.buffer]);
  Atomics.add(counter, 0, 1);
  Atomics.notify(counter, 0);
});
