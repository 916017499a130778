/**
 * The vault console as a request handler (see web-app.ts for what every console does with a
 * request): groups, timelines, trees, downloads, restores, images, bookmarks and policies
 * of an open vault, with its RPO history and the source directories it must not restore over.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Vault } from '../vault/vault.js';
import type { LimiterOptions } from './auth/login-limiter.js';
import type { ConsoleDeps } from './console-deps.js';
import { liveRuns } from './queries/overview-query.js';
import { RestoreJobs } from './restore-jobs.js';
import { ImageSessions } from './image-sessions.js';
import type { Route } from './router.js';
import { RpoHistory } from './rpo-history.js';
import { actionRoutes } from './routes/action-routes.js';
import { adminRoutes } from './routes/admin-routes.js';
import { groupRoutes } from './routes/group-routes.js';
import { authDeps, createWebApp } from './web-app.js';

export { API_VERSION } from './web-app.js';

export interface ConsoleAppOptions {
  vault: Vault;
  /** where users, settings, the audit log and RPO history live (default VAULT/console) */
  stateDir: string;
  /** served over TLS: cookies get `Secure` */
  secure: boolean;
  /** source directories protected by the embedding process, by group */
  sources?: Record<string, string>;
  /** when set, restores may write only inside this directory */
  restoreRoot?: string;
  limiter?: LimiterOptions;
  /** where server errors are logged (default: stderr) */
  log?: (line: string) => void;
}

export interface ConsoleApp {
  handle(req: IncomingMessage, res: ServerResponse): void;
  readonly routes: readonly Route[];
  readonly deps: ConsoleDeps;
}

/** Build the console's request handler over an open vault. */
export function createConsoleApp(o: ConsoleAppOptions): ConsoleApp {
  const log = o.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const auth = authDeps('vault', o.stateDir, o.secure, o.limiter);
  const settings = auth.settings;
  for (const [group, source] of Object.entries(o.sources ?? {})) settings.update(group, { source });
  const deps: ConsoleDeps = {
    ...auth, vault: o.vault,
    history: new RpoHistory(o.stateDir), jobs: new RestoreJobs(o.vault, auth.audit), images: new ImageSessions(o.vault), restoreRoot: o.restoreRoot,
    sources() {
      const all = settings.sources();
      for (const [g, run] of liveRuns(o.vault)) all.set(g, run.source);
      for (const [g, s] of Object.entries(o.sources ?? {})) all.set(g, s);
      return all;
    },
  };
  const app = createWebApp(deps, [...groupRoutes(deps), ...actionRoutes(deps), ...adminRoutes(deps)], log);
  return { handle: app.handle, routes: app.routes, deps };
}
