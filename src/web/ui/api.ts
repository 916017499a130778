/** The browser side of the REST API: JSON calls with the session's CSRF token, errors as exceptions. */

/** The logged-in user; `console` says what this console serves: a vault, or a hub (`tidemark hub`). */
export interface Me { user: string; role: 'viewer' | 'operator' | 'admin'; csrfToken: string; console: 'vault' | 'hub' }

export class ApiCallError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly hint?: string) {
    super(message);
  }
}

let csrf = '';

export function setCsrf(token: string): void {
  csrf = token;
}

/** Call the API; resolves to the parsed JSON, rejects with ApiCallError. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  const data = (await res.json().catch(() => ({}))) as { error?: { code: string; message: string; hint?: string } };
  if (!res.ok) {
    const e = data.error ?? { code: 'TM_HTTP', message: `HTTP ${res.status}` };
    if (res.status === 401 && path !== '/api/login' && location.hash !== '#/login') location.hash = '#/login';
    throw new ApiCallError(res.status, e.code, e.message, e.hint);
  }
  return data as T;
}

/** A query string from defined values. */
export function qs(params: Record<string, string | number | undefined>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
}

/** A message for an error shown to the user. */
export function describeError(err: unknown): string {
  if (err instanceof ApiCallError) return err.hint ? `${err.message} (${err.hint})` : err.message;
  return err instanceof Error ? err.message : String(err);
}
