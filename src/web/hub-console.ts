/**
 * The console served by `tidemark hub`: the same logins, roles, CSRF, login limit and audit
 * log as a vault's console (web-app.ts), its state (users, audit log, RPO targets) in
 * HUBSTATE/console, and the hub's own pages: replication per group and target with 24 h
 * of lag (sampled every 30 s into HUBSTATE/console/rpo-history.jsonl), and the I/O profile. A hub keeps no vault (only its spool), so there is nothing to browse or
 * restore here: that is the target vault's console.
 */
import { join } from 'node:path';
import type { LimiterOptions } from './auth/login-limiter.js';
import type { AuthDeps } from './console-deps.js';
import type { Route } from './router.js';
import { RpoHistory, sampleEvery } from './rpo-history.js';
import { groupLagMs, hubRoutes, type HubView } from './routes/hub-routes.js';
import { authDeps, createWebApp, type WebApp } from './web-app.js';
import { listenWeb, startBeside } from './web-listener.js';

/** Where the hub's console listens unless told otherwise (protect's is 8470). */
export const HUB_CONSOLE_LISTEN = '127.0.0.1:8471';

export interface HubConsoleApp extends WebApp {
  readonly deps: AuthDeps;
  readonly history: RpoHistory;
  readonly routes: readonly Route[];
}

/** Build the hub console's request handler. */
export function createHubConsoleApp(o: { hub: HubView; stateDir: string; secure: boolean; limiter?: LimiterOptions; log: (line: string) => void }): HubConsoleApp {
  const deps = authDeps('hub', o.stateDir, o.secure, o.limiter);
  const history = new RpoHistory(o.stateDir);
  return { ...createWebApp(deps, hubRoutes(deps, o.hub, history), o.log), deps, history };
}

export interface RunningHubConsole {
  url: string;
  app: HubConsoleApp;
  initialPasswordFile: string | null;
  close(): Promise<void>;
}

export interface HubConsoleOptions {
  /** HOST:PORT (port 0: any free port) */
  listen: string;
  /** the hub's state directory; the console keeps its own in HUBSTATE/console */
  hubState: string;
  tls?: { certFile: string; keyFile: string };
  /** how often replication lag is sampled for the 24 h chart */
  sampleMs?: number;
  log?: (line: string) => void;
}

/** Start the hub's console; resolves once it listens. */
export async function startHubConsole(hub: HubView, o: HubConsoleOptions): Promise<RunningHubConsole> {
  const log = o.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const stateDir = join(o.hubState, 'console');
  const app = createHubConsoleApp({ hub, stateDir, secure: !!o.tls, log });
  const web = await listenWeb(app.handle, { listen: o.listen, tls: o.tls, users: app.deps.users, addUserCommand: `tidemark console user add --state-dir ${stateDir}`, log });
  const stop = sampleEvery(app.history, o.sampleMs ?? 30_000, () => hub.status().groups.map((g) => ({ group: g.group, lagMs: groupLagMs(g) })), log);
  return { url: web.url, app, initialPasswordFile: web.initialPasswordFile, close: () => { stop(); return web.close(); } };
}

/** The console beside a running hub: null (after a warning) when it cannot start; the hub goes on. */
export function startHubConsoleBeside(hub: HubView, listen: string | false, hubState: string, tls?: HubConsoleOptions['tls']): Promise<RunningHubConsole | null> {
  return startBeside(listen, (l) => startHubConsole(hub, { listen: l, hubState, tls }), 'the hub goes on without it');
}
