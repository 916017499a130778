/**
 * Starting and stopping the console: open the vault read-only (or use the embedding
 * process's), create the first admin on first start, listen (http, or https with a
 * certificate), sample RPO lag for the overview's chart, and close it all again.
 */
import { join } from 'node:path';
import { TidemarkError } from '../common/errors.js';
import { Vault } from '../vault/vault.js';
import { createConsoleApp, type ConsoleApp } from './console-app.js';
import { liveLagMs, liveRuns } from './queries/overview-query.js';
import { sampleEvery } from './rpo-history.js';
import { listenWeb, type ListeningWeb } from './web-listener.js';

export { parseListen } from './web-listener.js';

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

/** Start the console; resolves once it listens. */
export async function startConsole(o: ConsoleOptions): Promise<RunningConsole> {
  const log = o.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const owned = !o.vault;
  if (!o.vault && !o.vaultDir) throw new TidemarkError('TM_INTERNAL', 'startConsole needs a vault or a vaultDir');
  const vault = o.vault ?? Vault.open(o.vaultDir!, { passphraseFile: o.passphraseFile, write: false, command: 'console' });
  let web: ListeningWeb | undefined;
  let stopSampling = (): void => undefined;
  try {
    const stateDir = o.stateDir ?? join(vault.dir, 'console');
    const app = createConsoleApp({ vault, stateDir, secure: !!o.tls, sources: o.sources, restoreRoot: o.restoreRoot, log });
    web = await listenWeb(app.handle, { listen: o.listen ?? DEFAULT_LISTEN, tls: o.tls, users: app.deps.users, addUserCommand: 'tidemark console user add', log });
    const { url, initialPasswordFile } = web;
    const w = web;
    stopSampling = sampleEvery(app.deps.history, o.sampleMs ?? 30_000, () => {
      const runs = liveRuns(vault);
      const now = Date.now();
      return vault.index.groups().filter((g) => g.lastSeq > 0).map((g) => {
        const run = runs.get(g.name);
        return { group: g.name, lagMs: run ? liveLagMs(run, now) : null };
      });
    }, log);
    let closed: Promise<void> | null = null;
    return {
      url, app, initialPasswordFile,
      close() {
        closed ??= (async () => {
          stopSampling();
          await w.close();
          await app.deps.jobs.settle();
          await app.deps.images.closeAll();
          if (owned) vault.close();
        })();
        return closed;
      },
    };
  } catch (err) {
    stopSampling();
    void web?.close();
    if (owned) vault.close();
    throw err;
  }
}
