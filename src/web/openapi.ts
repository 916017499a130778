/** The OpenAPI 3.1 document of the console's API, generated from the route table. */
import { z } from 'zod';
import type { Route } from './router.js';

function schemaOf(s: z.ZodType): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

const ERROR = {
  description: 'An error',
  content: { 'application/json': { schema: { type: 'object', properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, hint: { type: 'string' } }, required: ['code', 'message'] } } } } },
};

/** Build the document (the paths, their parameters, bodies, roles and error answers). */
export function openApiDocument(routes: readonly Route[], version: string, kind: 'vault' | 'hub' = 'vault'): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const parameters: Record<string, unknown>[] = [];
    for (const [where, s] of [['path', r.params], ['query', r.query]] as const) {
      if (!s) continue;
      const js = schemaOf(s) as { properties?: Record<string, Record<string, unknown>>; required?: string[] };
      for (const [name, schema] of Object.entries(js.properties ?? {})) {
        parameters.push({ name, in: where, required: where === 'path' || (js.required ?? []).includes(name), schema, ...(schema.description ? { description: schema.description } : {}) });
      }
    }
    const op: Record<string, unknown> = {
      summary: r.summary,
      description: r.role === 'public' ? 'No session needed.' : `Needs a session with role ${r.role} or above${r.method !== 'GET' ? ', and the X-CSRF-Token header' : ''}.`,
      'x-role': r.role,
      parameters,
      responses: {
        200: { description: 'OK', content: { [r.produces ?? 'application/json']: {} } },
        400: ERROR, 401: ERROR, 403: ERROR, 404: ERROR, ...(r.path === '/api/login' ? { 429: ERROR } : {}),
      },
    };
    if (r.body) op.requestBody = { required: true, content: { 'application/json': { schema: schemaOf(r.body) } } };
    (paths[r.path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: { title: kind === 'hub' ? 'Tidemark hub console API' : 'Tidemark console API', version, description: 'Log in with POST /api/login (cookie session); send the returned csrfToken as X-CSRF-Token on every POST, PUT, PATCH and DELETE.' },
    components: { securitySchemes: { session: { type: 'apiKey', in: 'cookie', name: 'tm_session' } } },
    security: [{ session: [] }],
    paths,
  };
}
