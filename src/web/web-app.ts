/**
 * A console's request handler, whatever it serves (a vault or a hub), separate from any
 * listening socket (as fastify and undici do): static files, then the API, where every
 * request is authenticated (session cookie), authorized (role), protected against CSRF
 * (token header on every change, Origin checked when sent), validated (route schemas) and
 * answered with JSON or a JSON error.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AuditLog } from './audit-log.js';
import { LoginLimiter, type LimiterOptions } from './auth/login-limiter.js';
import { SESSION_COOKIE, SessionStore, csrfMatches } from './auth/sessions.js';
import { UserStore, roleAtLeast } from './auth/user-store.js';
import { ConsoleSettings } from './console-settings.js';
import type { AuthDeps, ConsoleKind } from './console-deps.js';
import { ApiError, toHttpError } from './http-errors.js';
import { SECURITY_HEADERS, clientIp, parseCookies, readJsonBody, sendJson } from './http-kit.js';
import { openApiDocument } from './openapi.js';
import { matchRoute, validate, type Route } from './router.js';
import { sessionRoutes } from './routes/session-routes.js';
import { userRoutes } from './routes/user-routes.js';
import { loadAssets } from './static-assets.js';

export const API_VERSION = '1.0.0';

/** The state every console keeps in its state directory: users, audit log, settings; sessions in memory. */
export function authDeps(kind: ConsoleKind, stateDir: string, secure: boolean, limiter?: LimiterOptions): AuthDeps {
  return {
    kind, users: new UserStore(stateDir), sessions: new SessionStore(), limiter: new LoginLimiter(limiter),
    audit: new AuditLog(`${stateDir}/audit.jsonl`), settings: new ConsoleSettings(stateDir), secure,
  };
}

export interface WebApp {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** every route: logging in, users and the audit log, then the console's own */
  readonly routes: readonly Route[];
}

/** Build the handler: the session, user and audit routes every console has, then `own`. */
export function createWebApp(d: AuthDeps, own: readonly Route[], log: (line: string) => void): WebApp {
  const routes = [...sessionRoutes(d), ...own, ...userRoutes(d)];
  const openapi = Buffer.from(JSON.stringify(openApiDocument(routes, API_VERSION, d.kind)));
  const assets = loadAssets();

  async function api(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (url.pathname === '/api/openapi.json' && req.method === 'GET') {
      validate(undefined, Object.fromEntries(url.searchParams), 'query');
      res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      res.end(openapi);
      return;
    }
    const { route, params } = matchRoute(routes, req.method ?? 'GET', url.pathname);
    const ip = clientIp(req);
    const token = parseCookies(req).get(SESSION_COOKIE);
    const session = d.sessions.get(token) ?? null;
    let user = session ? d.users.get(session.user) ?? null : null;
    // A password or role changed since login (also from the CLI, in another process) ends the session.
    if (user && session && Date.parse(user.updated) > session.created) { d.sessions.end(token); user = null; }
    if (route.role !== 'public') {
      if (!session || !user) throw new ApiError('TM_AUTH_REQUIRED', 'Log in first: this endpoint needs a session', 'POST /api/login with {"user","password"}');
      if (!roleAtLeast(user.role, route.role)) throw new ApiError('TM_FORBIDDEN', `The role ${user.role} may not do this: it needs ${route.role}`);
    }
    if (route.method !== 'GET') {
      // A cross-site page cannot read the token, so it cannot forge a change with our cookie.
      const origin = req.headers.origin;
      if (origin && origin !== `${d.secure ? 'https' : 'http'}://${req.headers.host}`) throw new ApiError('TM_CSRF', `Cross-origin request from ${origin} refused`);
      if (route.role !== 'public' && !csrfMatches(session!, String(req.headers['x-csrf-token'] ?? ''))) {
        throw new ApiError('TM_CSRF', 'Missing or wrong X-CSRF-Token header', 'send the csrfToken returned by POST /api/login or GET /api/session');
      }
    }
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) {
      if (k in query) throw new ApiError('TM_BAD_REQUEST', `Invalid query: parameter "${k}" is given twice`);
      query[k] = v;
    }
    const reply = await route.handler({
      req, res, ip, user, session,
      params: validate(route.params, params, 'path parameters'),
      query: validate(route.query, query, 'query'),
      body: validate(route.body, route.method === 'GET' ? {} : await readJsonBody(req), 'body'),
    });
    if (reply) sendJson(res, reply.status ?? 200, reply.json, reply.headers);
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://console.invalid');
    } catch {
      sendJson(res, 400, { error: { code: 'TM_BAD_REQUEST', message: 'Malformed request URL' } });
      return;
    }
    if (!url.pathname.startsWith('/api/')) {
      const asset = req.method === 'GET' || req.method === 'HEAD' ? assets.get(url.pathname === '/index.html' ? '/' : url.pathname) : undefined;
      if (!asset) { sendJson(res, 404, { error: { code: 'TM_NO_ROUTE', message: `Nothing at ${url.pathname}` } }); return; }
      res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': asset.type, 'Content-Length': String(asset.body.length), 'Cache-Control': 'no-cache' });
      res.end(req.method === 'HEAD' ? undefined : asset.body);
      return;
    }
    api(req, res, url).catch((err: unknown) => {
      const e = toHttpError(err);
      if (e.status >= 500) log(`console: ${req.method} ${url.pathname}: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      if (res.headersSent) { res.destroy(); return; }
      sendJson(res, e.status, e.body, e.headers);
    });
  }

  return { handle, routes };
}
