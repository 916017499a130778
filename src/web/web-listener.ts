/**
 * Putting a console's handler on a socket, for every kind of console: create the first
 * admin on first start (and say so loudly), listen on http or https (with a certificate),
 * and close again, ending open connections.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { TidemarkError, isErrno, wrapIo } from '../common/errors.js';
import type { UserStore } from './auth/user-store.js';

/** Parse HOST:PORT, [V6]:PORT or PORT. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]*)):(\d{1,5})$/.exec(text.trim()) ?? /^()()(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new TidemarkError('TM_USAGE', `"${text}" is not a listen address`, { hint: 'use HOST:PORT, e.g. 127.0.0.1:8470 (port 0 picks a free port)' });
  return { host: m[1] || m[2] || '127.0.0.1', port };
}

export interface ListenWebOptions {
  /** HOST:PORT, [IPv6]:PORT or PORT (port 0: any free port) */
  listen: string;
  /** serve https with this PEM certificate and key */
  tls?: { certFile: string; keyFile: string };
  /** where the first admin is created */
  users: UserStore;
  /** the command that adds users to this console, for the first-start message */
  addUserCommand: string;
  log: (line: string) => void;
}

export interface ListeningWeb {
  server: Server;
  url: string;
  /** the file holding the generated admin password, when this start created the admin */
  initialPasswordFile: string | null;
  close(): Promise<void>;
}

/** Create the first admin if there is none, then listen; resolves once listening. */
export async function listenWeb(handle: (req: IncomingMessage, res: ServerResponse) => void, o: ListenWebOptions): Promise<ListeningWeb> {
  const { host, port } = parseListen(o.listen);
  const initialPasswordFile = await o.users.ensureAdmin();
  let tls: { cert: Buffer; key: Buffer } | undefined;
  if (o.tls) {
    try {
      tls = { cert: readFileSync(o.tls.certFile), key: readFileSync(o.tls.keyFile) };
    } catch (err) {
      throw wrapIo(err, 'Cannot read the TLS certificate or key');
    }
  }
  const s = tls ? createHttpsServer(tls, handle) : createHttpServer(handle);
  s.headersTimeout = 20_000;
  s.requestTimeout = 0; // downloads of large files may take long; idle sockets still time out
  await new Promise<void>((resolve, reject) => {
    const fail = (err: Error): void => {
      const busy = isErrno(err, 'EADDRINUSE');
      reject(new TidemarkError('TM_IO', `Cannot listen on ${host}:${port}: ${busy ? 'the address is already in use (EADDRINUSE)' : err.message}`, {
        cause: err, hint: busy ? 'another console or program listens there: choose another address with --listen (or --console for protect and hub)' : 'check the --listen address',
      }));
    };
    s.once('error', fail);
    s.listen(port, host, () => { s.off('error', fail); resolve(); });
  });
  const addr = s.address() as AddressInfo;
  const url = `${tls ? 'https' : 'http'}://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}/`;
  if (initialPasswordFile) {
    o.log([
      '',
      '*** Tidemark console: first start, an admin account was created.',
      `***   open ${url} and log in as "admin" with the password in`,
      `***   ${initialPasswordFile}`,
      `*** Change it, or add users with \`${o.addUserCommand} NAME --role viewer|operator|admin\`.`,
      '',
    ].join('\n'));
  }
  return {
    server: s, url, initialPasswordFile,
    close: () => new Promise<void>((resolve) => { s.close(() => resolve()); s.closeAllConnections(); }),
  };
}

/**
 * Start a console beside the work of a long-running process (`protect`, `hub`), which never
 * depends on it: if it cannot start (port busy, bad address), a warning goes to stderr and
 * the process goes on without it. Null when it did not start (or `listen` is false).
 */
export async function startBeside<T extends { url: string }>(listen: string | false, start: (listen: string) => Promise<T>, goesOn: string): Promise<T | null> {
  if (listen === false) return null;
  try {
    const c = await start(listen);
    process.stderr.write(`Tidemark console at ${c.url}\n`);
    return c;
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`warning: the web console did not start (${msg}); ${goesOn} (use --console ADDR or --no-console)\n`);
    return null;
  }
}
