/**
 * Starting and stopping the console: open the vault read-only (or use the embedding
 * process's), create the first admin on first start, listen (http, or https with a
 * certificate), sample RPO lag for the overview's chart, and close it all again.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { TidemarkError, isErrno, wrapIo } from '../common/errors.js';
import { Vault } from '../vault/vault.js';
import { createConsoleApp, type ConsoleApp } from './console-app.js';
import { liveLagMs, liveRuns } from './queries/overview-query.js';

/** Where the console listens unless told otherwise. */
export const DEFAULT_LISTEN = '127.0.0.1:8470';

export interface ConsoleOptions {
  /** an open vault to serve (the embedding `protect` passes its own); else `vaultDir` is opened read-only */
  vault?: Vault;
  vaultDir?: string;
  passphraseFile?: string;
  /** HOST:PORT, [IPv6]:PORT or PORT (port 0: any free port) */
  listen?: string;
  /** console state (users, audit log, settings, RPO history); default VAULT/console */
  stateDir?: string;
  /** serve https with this PEM certificate and key (cookies then get `Secure`) */
  tls?: { certFile: string; keyFile: string };
  /** protected source directories of the embedding process, by group */
  sources?: Record<string, string>;
  /** when set, restores may write only inside this directory (a console run as root should set it) */
  restoreRoot?: string;
  /** how often RPO lag is sampled for the chart */
  sampleMs?: number;
  /** where first-start instructions and server errors go (default stderr) */
  log?: (line: string) => void;
}

export interface RunningConsole {
  url: string;
  app: ConsoleApp;
  /** the file holding the generated admin password, when this start created the admin */
  initialPasswordFile: string | null;
  close(): Promise<void>;
}

/** Parse HOST:PORT, [V6]:PORT or PORT. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]*)):(\d{1,5})$/.exec(text.trim()) ?? /^()()(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new TidemarkError('TM_USAGE', `"${text}" is not a listen address`, { hint: 'use HOST:PORT, e.g. 127.0.0.1:8470 (port 0 picks a free port)' });
  return { host: m[1] || m[2] || '127.0.0.1', port };
}

/** Start the console; resolves once it listens. */
export async function startConsole(o: ConsoleOptions): Promise<RunningConsole> {
  const log = o.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const { host, port } = parseListen(o.listen ?? DEFAULT_LISTEN);
  const owned = !o.vault;
  if (!o.vault && !o.vaultDir) throw new TidemarkError('TM_INTERNAL', 'startConsole needs a vault or a vaultDir');
  const vault = o.vault ?? Vault.open(o.vaultDir!, { passphraseFile: o.passphraseFile, write: false, command: 'console' });
  let server: Server | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const stateDir = o.stateDir ?? join(vault.dir, 'console');
    const app = createConsoleApp({ vault, stateDir, secure: !!o.tls, sources: o.sources, restoreRoot: o.restoreRoot, log });
    const initialPasswordFile = await app.deps.users.ensureAdmin();
    let tls: { cert: Buffer; key: Buffer } | undefined;
    if (o.tls) {
      try {
        tls = { cert: readFileSync(o.tls.certFile), key: readFileSync(o.tls.keyFile) };
      } catch (err) {
        throw wrapIo(err, 'Cannot read the TLS certificate or key');
      }
    }
    server = tls ? createHttpsServer(tls, app.handle) : createHttpServer(app.handle);
    server.headersTimeout = 20_000;
    server.requestTimeout = 0; // downloads of large files may take long; idle sockets still time out
    const s = server;
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error): void => {
        const busy = isErrno(err, 'EADDRINUSE');
        reject(new TidemarkError('TM_IO', `Cannot listen on ${host}:${port}: ${busy ? 'the address is already in use (EADDRINUSE)' : err.message}`, {
          cause: err, hint: busy ? 'another console or program listens there: choose another address with --listen (or --console for protect)' : 'check the --listen address',
        }));
      };
      s.once('error', fail);
      s.listen(port, host, () => { s.off('error', fail); resolve(); });
    });
    const addr = s.address() as AddressInfo;
    const url = `${tls ? 'https' : 'http'}://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}/`;
    if (initialPasswordFile) {
      log([
        '',
        '*** Tidemark console: first start, an admin account was created.',
        `***   open ${url} and log in as "admin" with the password in`,
        `***   ${initialPasswordFile}`,
        '*** Change it, or add users with `tidemark console user add NAME --role viewer|operator|admin`.',
        '',
      ].join('\n'));
    }
    const sample = (): void => {
      try {
        const runs = liveRuns(vault);
        const now = Date.now();
        app.deps.history.record(vault.index.groups().filter((g) => g.lastSeq > 0).map((g) => {
          const run = runs.get(g.name);
          return { group: g.name, lagMs: run ? liveLagMs(run, now) : null };
        }));
      } catch (err) {
        log(`console: sampling RPO lag failed: ${(err as Error).message}`);
      }
    };
    sample();
    timer = setInterval(sample, o.sampleMs ?? 30_000);
    timer.unref();
    let closed: Promise<void> | null = null;
    return {
      url, app, initialPasswordFile,
      close() {
        closed ??= (async () => {
          clearInterval(timer);
          await new Promise<void>((resolve) => { s.close(() => resolve()); s.closeAllConnections(); });
          await app.deps.jobs.settle();
          await app.deps.images.closeAll();
          if (owned) vault.close();
        })();
        return closed;
      },
    };
  } catch (err) {
    clearInterval(timer);
    server?.close();
    if (owned) vault.close();
    throw err;
  }
}
