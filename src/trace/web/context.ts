// What every dashboard page module gets: the post offices shown, the sign-in sessions, and helpers
// to answer with a page. Routes say who may open them in `config.access` (default: admins only).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Authenticator } from '../../auth/authenticate.js';
import type { ConnectionLimiter } from '../../auth/limits.js';
import type { Config } from '../../config/config.js';
import type { Logger } from '../../log/log.js';
import type { QueueRunner } from '../../relay/queue-runner.js';
import type { Store } from '../../store/index.js';
import type { Html } from './html.js';
import { page, type PageOptions } from './layout.js';
import type { SessionTable, WebSession } from './session.js';

export interface ListenerInfo { name: string; port: number; state: 'listening' | 'disabled' }

/** One post office shown by the dashboard (the lab shows two). */
export interface DashboardOffice {
  /** what the pages call it, e.g. "163.test" */
  name: string;
  store: Store;
  /** its own name (EHLO, Received:, banners): what clients connect to */
  hostname: string;
  /** the address its listeners are bound to, e.g. 127.0.0.2 */
  listen?: string;
  listeners: () => ListenerInfo[];
  limiter?: ConnectionLimiter;
  relay?: QueueRunner | null;
  /** its login checker, so that failures on the dashboard are delayed with those of SMTP, IMAP and POP3 */
  auth?: Authenticator;
}

/**
 * public: anyone; probe: loopback or the bearer token (/metrics, /healthz); user: any signed-in
 * account; admin: a signed-in admin; api: a signed-in admin or the bearer token.
 */
export type Access = 'public' | 'probe' | 'user' | 'admin' | 'api';

declare module 'fastify' {
  interface FastifyContextConfig { access?: Access }
  interface FastifyRequest { web: WebSession | null; nonce: string; bearer: boolean }
}

export interface Dashboard {
  offices: DashboardOffice[];
  office(name: string): DashboardOffice | undefined;
  sessions: SessionTable;
  config: Config;
  log: Logger;
  auth(o: DashboardOffice): Authenticator;
  /** answers with a page in the frame (top bar, style sheet, live script) */
  send(req: FastifyRequest, reply: FastifyReply, o: Omit<PageOptions, 'session' | 'nonce'>, body: Html, status?: number): FastifyReply;
}

export function sendPage(req: FastifyRequest, reply: FastifyReply, o: Omit<PageOptions, 'session' | 'nonce'>, body: Html, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(page({ ...o, session: req.web, nonce: req.nonce }, body));
}

/** a flash message carried in the query string after a POST (?ok=... or ?error=...) */
export function flashOf(req: FastifyRequest): PageOptions['flash'] {
  const q = req.query as Record<string, string | undefined>;
  if (q.error) return { text: q.error.slice(0, 300), error: true };
  if (q.ok) return { text: q.ok.slice(0, 300) };
  return null;
}

/** After a POST: back to `to` with a message (303 See Other: the browser GETs it). */
export function redirectWithFlash(reply: FastifyReply, to: string, msg: { ok?: string; error?: string }): FastifyReply {
  const q = new URLSearchParams(msg as Record<string, string>).toString();
  return reply.redirect(`${to}${to.includes('?') ? '&' : '?'}${q}`, 303);
}
