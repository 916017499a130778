/**
 * The API's route table: each route names its method, path pattern, the least role that
 * may call it, and zod schemas for its path parameters, query and body. The same table
 * drives dispatch, input validation (unknown keys are refused) and the OpenAPI document,
 * so what is documented is what is enforced.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { ApiError } from './http-errors.js';
import type { PublicUser, Role } from './auth/user-store.js';
import type { Session } from './auth/sessions.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** What a handler returns: a JSON answer, or nothing when it wrote the response itself. */
export interface Reply {
  status?: number;
  json: unknown;
  headers?: Record<string, string>;
}

export interface RouteContext<P, Q, B> {
  req: IncomingMessage;
  res: ServerResponse;
  ip: string;
  /** null only on public routes */
  user: PublicUser | null;
  session: Session | null;
  params: P;
  query: Q;
  body: B;
}

export interface RouteSpec<P, Q, B> {
  method: Method;
  /** e.g. `/api/groups/{group}/timeline` */
  path: string;
  summary: string;
  /** least role allowed; `public` needs no session */
  role: Role | 'public';
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  /** content type of a 200 answer (default application/json) */
  produces?: string;
  handler(ctx: RouteContext<P, Q, B>): Promise<Reply | void> | Reply | void;
}

/** A route with its types erased, as the table holds it. */
export interface Route {
  method: Method;
  path: string;
  summary: string;
  role: Role | 'public';
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  produces?: string;
  pattern: RegExp;
  handler(ctx: RouteContext<unknown, unknown, unknown>): Promise<Reply | void> | Reply | void;
}

/** Define a route; the handler sees the parsed types of its schemas. */
export function route<P = Record<string, never>, Q = Record<string, never>, B = Record<string, never>>(spec: RouteSpec<P, Q, B>): Route {
  const pattern = new RegExp('^' + spec.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, '(?<$1>[^/]+)') + '$');
  return { ...spec, pattern, handler: spec.handler as Route['handler'] } as Route;
}

/** Parse `input` with `schema`, or throw a 400 naming every problem. */
export function validate<T>(schema: z.ZodType<T> | undefined, input: unknown, what: string): T {
  if (!schema) {
    const keys = input && typeof input === 'object' ? Object.keys(input) : [];
    if (keys.length > 0) throw new ApiError('TM_BAD_REQUEST', `Invalid ${what}: this endpoint takes none (got ${keys.map((k) => JSON.stringify(k)).join(', ')})`);
    return {} as T;
  }
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : what}: ${i.message}`);
  throw new ApiError('TM_BAD_REQUEST', `Invalid ${what}: ${problems.join('; ')}`);
}

/** Find the route for a request; 404 or 405 as ApiErrors. */
export function matchRoute(routes: readonly Route[], method: string, pathname: string): { route: Route; params: Record<string, string> } {
  let pathMatched = false;
  for (const r of routes) {
    const m = r.pattern.exec(pathname);
    if (!m) continue;
    pathMatched = true;
    if (r.method !== method) continue;
    const params: Record<string, string> = {};
    for (const [k, v] of Object.entries(m.groups ?? {})) {
      try { params[k] = decodeURIComponent(v); } catch { throw new ApiError('TM_BAD_REQUEST', `Invalid path parameter ${k}: bad percent-encoding`); }
    }
    return { route: r, params };
  }
  if (pathMatched) throw new ApiError('TM_METHOD', `${method} is not allowed on ${pathname}`);
  throw new ApiError('TM_NO_ROUTE', `There is no API endpoint ${pathname}`, 'see /api/openapi.json');
}
