/**
 * startNbdServer: listen on a unix socket or TCP address and serve NbdExports over NBD.
 * The protocol lives in the codec modules and NbdConnection; this file only owns the
 * listening socket, the set of live connections and shutdown.
 */
import net from 'node:net';
import { TidemarkError } from '../common/errors.js';
import type { NbdExport } from './nbd-export.js';
import { BufferPool } from './nbd-buffer-pool.js';
import { parseListen } from './nbd-listen.js';
import { NbdConnection } from './nbd-connection.js';
import { PREFERRED_BLOCK_SIZE } from './nbd-handshake.js';
import { DEFAULT_MAX_REQUEST_BYTES } from './nbd-protocol.js';

/** How to start a server. */
export interface NbdServerOptions {
  /** `unix:/path/to/socket` or `tcp:HOST:PORT` (port 0 picks a free one). */
  listen: string;
  /** A fixed list (LIST shows it) or a lookup by name. */
  exports: readonly NbdExport[] | ((name: string) => NbdExport | undefined);
  /** Largest READ/WRITE payload accepted; default 32 MiB. */
  maxRequestBytes?: number;
  /** A client that has not chosen an export after this long is cut off; default 30 s. */
  handshakeTimeoutMs?: number;
  log?: (line: string) => void;
}

/** A running server. */
export interface NbdServer {
  /** Where it listens, in the form of `listen` with the real port. */
  readonly address: string;
  /** Live connections. */
  readonly connections: number;
  /**
   * Stop listening, let requests in flight finish and answer them, close every connection
   * (clients that do not hang up are cut off after 2 s). Resolves only once every export
   * call has settled, so the caller may then close its exports; an export call that never
   * settles keeps it waiting.
   */
  close(): Promise<void>;
}

/** Bytes of requests in flight per connection before it stops reading: two max requests. */
const IN_FLIGHT_FACTOR = 2;
/** READ buffers kept for reuse across the server's connections. */
const POOL_BYTES = 32 * 1024 * 1024;
const DEFAULT_HANDSHAKE_TIMEOUT_MS = 30_000;
/** A client that does not hang up after shutdown is cut off after this long. */
const CLOSE_GRACE_MS = 2000;

/** Start serving; resolves once the socket listens. */
export async function startNbdServer(options: NbdServerOptions): Promise<NbdServer> {
  const where = parseListen(options.listen);
  const maxRequestBytes = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  if (!Number.isInteger(maxRequestBytes) || maxRequestBytes < PREFERRED_BLOCK_SIZE || maxRequestBytes > 2 ** 31) {
    throw new TidemarkError('TM_USAGE', `Cannot start the NBD server: maxRequestBytes ${maxRequestBytes} is out of range`,
      { hint: `use a whole number of bytes from ${PREFERRED_BLOCK_SIZE} to 2 GiB` });
  }
  const log = options.log ?? ((): void => undefined);
  const source = options.exports;
  const lookup = typeof source === 'function'
    ? (name: string): NbdExport | undefined => source(name)
    : (name: string): NbdExport | undefined => source.find((e) => e.name === name) ?? (name === '' ? source[0] : undefined);
  const list = (): readonly NbdExport[] | undefined => (typeof source === 'function' ? undefined : source);
  const live = new Set<NbdConnection>();
  const pool = new BufferPool(POOL_BYTES);
  let nextId = 1;

  const server = net.createServer((socket) => {
    if (where.kind === 'tcp') socket.setNoDelay(true);
    const id = `#${nextId++}`;
    const conn = new NbdConnection(socket, {
      lookup, list, maxRequestBytes, maxInFlightBytes: IN_FLIGHT_FACTOR * maxRequestBytes, pool, log,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
    }, id);
    live.add(conn);
    void conn.done.then(() => live.delete(conn));
  });
  server.on('error', (err) => log(`nbd: listener error: ${err.message}`));

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new TidemarkError('TM_IO',
      `Cannot listen for NBD on "${options.listen}": ${err.message}`, {
        cause: err,
        hint: (err as NodeJS.ErrnoException).code === 'EADDRINUSE'
          ? 'another server listens there, or a stale unix socket file is left over: stop it or remove the file'
          : undefined,
      })));
    if (where.kind === 'unix') server.listen(where.path, resolve);
    else server.listen(where.port, where.host, resolve);
  });

  const bound = server.address();
  const address = where.kind === 'unix' || bound === null || typeof bound === 'string'
    ? options.listen
    : `tcp:${where.host.includes(':') ? `[${where.host}]` : where.host}:${bound.port}`;
  log(`nbd: listening on ${address}`);

  return {
    address,
    get connections() { return live.size; },
    async close() {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      const conns = [...live];
      for (const c of conns) c.shutdown();
      const grace = setTimeout(() => { for (const c of conns) c.destroy(); }, CLOSE_GRACE_MS);
      await Promise.all(conns.map((c) => c.done));
      clearTimeout(grace);
      await stopped;
    },
  };
}
