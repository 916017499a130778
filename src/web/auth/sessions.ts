/**
 * Login sessions, kept in memory (a restart logs everyone out). The cookie carries a
 * random token; only its SHA-256 is kept, so a heap dump does not hand out sessions. Each
 * session has its own CSRF token, required in the `X-CSRF-Token` header of every
 * state-changing request (the cookie alone never authorizes a change).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const SESSION_COOKIE = 'tm_session';
/** A session unused this long ends. */
export const IDLE_MS = 30 * 60_000;
/** A session ends this long after login, used or not. */
export const ABSOLUTE_MS = 12 * 3600_000;
/** Most sessions kept at once; the least recently used go first. */
const MAX_SESSIONS = 10_000;

export interface Session {
  user: string;
  csrf: string;
  created: number;
  lastSeen: number;
}

const digest = (token: string): string => createHash('sha256').update(token).digest('hex');

export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Start a session; returns the cookie token (shown once) and the session. */
  create(user: string): { token: string; session: Session } {
    const token = randomBytes(32).toString('base64url');
    const t = this.now();
    const session: Session = { user, csrf: randomBytes(24).toString('base64url'), created: t, lastSeen: t };
    if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    this.sessions.set(digest(token), session);
    return { token, session };
  }

  /** The live session of a cookie token (refreshing its idle timer), or undefined. */
  get(token: string | undefined): Session | undefined {
    if (!token) return undefined;
    const key = digest(token);
    const s = this.sessions.get(key);
    if (!s) return undefined;
    const t = this.now();
    if (t - s.lastSeen > IDLE_MS || t - s.created > ABSOLUTE_MS) {
      this.sessions.delete(key);
      return undefined;
    }
    s.lastSeen = t;
    // Re-insert so Map order stays least-recently-used first.
    this.sessions.delete(key);
    this.sessions.set(key, s);
    return s;
  }

  end(token: string | undefined): void {
    if (token) this.sessions.delete(digest(token));
  }

  /** End every session of a user (removed, or password changed). */
  endUser(user: string): void {
    for (const [k, s] of this.sessions) if (s.user === user) this.sessions.delete(k);
  }
}

/** True when `given` is the session's CSRF token (constant time). */
export function csrfMatches(session: Session, given: string | undefined): boolean {
  if (!given) return false;
  const a = Buffer.from(session.csrf);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The Set-Cookie value. `Secure` only over TLS: on plain http (loopback) browsers would
 * drop a Secure cookie and nobody could log in.
 */
export function sessionCookie(token: string, secure: boolean, maxAgeS = ABSOLUTE_MS / 1000): string {
  return `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure ? '; Secure' : ''}`;
}
