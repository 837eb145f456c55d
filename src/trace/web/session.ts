// Dashboard sign-in sessions: a random id in an HttpOnly, SameSite=Strict cookie, the session
// itself in memory on the server (lost on restart: sign in again), with an idle and an absolute
// expiry. Every session, signed in or not, has its own CSRF token, which every POST form carries.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

export const COOKIE = 'po_session';

export interface WebUser { address: string; userId: number; office: string; admin: boolean }

export interface WebSession {
  id: string;
  csrf: string;
  user: WebUser | null;
  created: number;
  seen: number;
}

export interface SessionOptions {
  /** ms without a request before a session ends */
  idleMs: number;
  /** ms after sign-in before a session ends, used or not */
  maxAgeMs: number;
  /** sessions kept at most (the oldest go first) */
  maxSessions: number;
}

const token = () => randomBytes(32).toString('base64url');

export class SessionTable {
  private readonly byId = new Map<string, WebSession>();
  /**
   * Sessions that have not signed in (they carry the sign-in form's CSRF token) live apart, with
   * their own cap and a short idle time: a flood of visits to /login never pushes out signed-in ones.
   */
  private readonly anonymous = new Map<string, WebSession>();

  constructor(private readonly opts: SessionOptions = { idleMs: 2 * 3600_000, maxAgeMs: 12 * 3600_000, maxSessions: 10_000 }) {}

  get size(): number { return this.byId.size + this.anonymous.size; }

  private expired(s: WebSession, now: number): boolean {
    const idle = s.user ? this.opts.idleMs : Math.min(this.opts.idleMs, 30 * 60_000);
    return now - s.seen > idle || now - s.created > this.opts.maxAgeMs;
  }

  get(id: string | undefined, now = Date.now()): WebSession | null {
    if (!id) return null;
    const map = this.byId.has(id) ? this.byId : this.anonymous;
    const s = map.get(id);
    if (!s) return null;
    if (this.expired(s, now)) { map.delete(id); return null; }
    s.seen = now;
    return s;
  }

  /** A new session (anonymous, or signed in: a sign-in always gets a new id, against fixation). */
  create(user: WebUser | null, now = Date.now()): WebSession {
    const s: WebSession = { id: token(), csrf: token(), user, created: now, seen: now };
    const map = user ? this.byId : this.anonymous;
    map.set(s.id, s);
    if (map.size > this.opts.maxSessions) this.prune(now);
    // the oldest go first (a Map iterates in insertion order)
    while (map.size > this.opts.maxSessions) map.delete(map.keys().next().value as string);
    return s;
  }

  destroy(id: string): void { this.byId.delete(id); this.anonymous.delete(id); }

  /** Ends every session of this user (after a password reset or a changed admin right). */
  destroyUser(office: string, address: string): void {
    for (const [id, s] of this.byId) if (s.user && s.user.office === office && s.user.address === address) this.byId.delete(id);
  }

  prune(now = Date.now()): void {
    for (const map of [this.byId, this.anonymous]) for (const [id, s] of map) if (this.expired(s, now)) map.delete(id);
  }
}

/**
 * The browser reached us over TLS: our own (an https server) or a TLS proxy in front that says so
 * (X-Forwarded-Proto: https). A client could send that header itself, but it would only fool itself.
 */
export function overTls(req: FastifyRequest): boolean {
  return req.protocol === 'https' || String(req.headers['x-forwarded-proto'] ?? '').split(',')[0].trim().toLowerCase() === 'https';
}

/** Sets the session cookie: HttpOnly, SameSite=Strict, Secure when the request came over TLS. */
export function setSessionCookie(req: FastifyRequest, reply: FastifyReply, s: WebSession): void {
  reply.setCookie(COOKIE, s.id, { path: '/', httpOnly: true, sameSite: 'strict', secure: overTls(req) });
}

export function clearSessionCookie(req: FastifyRequest, reply: FastifyReply): void {
  reply.clearCookie(COOKIE, { path: '/', httpOnly: true, sameSite: 'strict', secure: overTls(req) });
}

export function sameToken(a: string, b: string): boolean {
  const h = (v: string) => createHash('sha256').update(v).digest();
  return a.length > 0 && timingSafeEqual(h(a), h(b));
}

/**
 * A POST is accepted only from our own pages: the browser says where it comes from (Origin, and
 * Sec-Fetch-Site in current browsers) and it must be this very site. Clients that send neither
 * are refused as well: the API for scripts is the bearer token, which is no cookie. The Origin's
 * host and port must be the Host asked for (its scheme may differ: a TLS proxy in front speaks
 * plain HTTP to us).
 */
export function sameOrigin(req: FastifyRequest): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return false;
  const origin = req.headers.origin;
  if (origin === undefined) return site === 'same-origin';
  let host: string;
  try {
    const u = new URL(origin);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return false;
    host = u.host;
  } catch {
    return false; // "null" (a sandboxed frame, a redirect across sites) or garbage
  }
  const asked = (req.headers.host ?? '').toLowerCase();
  // URL drops the default port; the Host header may carry it
  return host === asked || `${host}:${origin.startsWith('https:') ? 443 : 80}` === asked;
}
