/**
 * Small helpers for node:http: JSON replies with the console's security headers, bounded
 * JSON bodies, cookies and the client address. No framework: the console needs a handful
 * of routes, and every input is validated by a schema in the router anyway.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError } from './http-errors.js';

/** Largest JSON body accepted: every request body of the API is a small object. */
export const MAX_BODY_BYTES = 64 * 1024;

/** Headers on every response: no framing, no sniffing, no referrer, scripts only from us. */
export const SECURITY_HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
  'Cross-Origin-Opener-Policy': 'same-origin',
};

/** Send `body` as JSON (never cached: every API answer is about the live vault). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(data.length), 'Cache-Control': 'no-store', ...headers });
  res.end(data);
}

/** Read a JSON object body of at most MAX_BODY_BYTES; `{}` when there is none. */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const length = Number(req.headers['content-length'] ?? '0');
  if (length > MAX_BODY_BYTES) throw new ApiError('TM_TOO_LARGE', `The request body is ${length} bytes; at most ${MAX_BODY_BYTES} are accepted`);
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > MAX_BODY_BYTES) throw new ApiError('TM_TOO_LARGE', `The request body is over ${MAX_BODY_BYTES} bytes`);
    parts.push(chunk);
  }
  if (total === 0) return {};
  // JSON only: an HTML form (which a hostile page can post cross-site) cannot send it.
  const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new ApiError('TM_MEDIA_TYPE', `The request body must be application/json, not "${type || 'none'}"`);
  try {
    return JSON.parse(Buffer.concat(parts).toString('utf8')) as unknown;
  } catch (err) {
    throw new ApiError('TM_BAD_REQUEST', `The request body is not valid JSON: ${(err as Error).message}`);
  }
}

/** The cookies of a request, by name (the first of duplicates wins). */
export function parseCookies(req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of String(req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!out.has(name)) out.set(name, part.slice(eq + 1).trim());
  }
  return out;
}

/** The peer's address (the console is not meant to sit behind a proxy: no X-Forwarded-For). */
export function clientIp(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}
