// The HTTP listener (fastify): the lab's dashboard for one or several post offices, health and
// metrics probes, the journey API, and the autoconfiguration mail clients ask for
// (trace/autoconfig.ts). Every page and API needs a signed-in account, except /health,
// autoconfig/autodiscover, ACME's /.well-known/acme-challenge/, MTA-STS's /.well-known/mta-sts.txt, and /healthz and /metrics (loopback, or Authorization: Bearer <httpTraceToken>).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Authenticator } from '../auth/authenticate.js';
import type { Config, Ports } from '../config/config.js';
import type { Logger } from '../log/log.js';
import { registry, watchOffice } from '../log/metrics.js';
import { isLoopback } from '../mail/address.js';
import { policyText } from '../mail/mta-sts.js';
import { autoconfigXml, autodiscoverEmail, autodiscoverXml } from './autoconfig.js';
import { joinedTrace } from './journey.js';
import { sendPage, type Dashboard, type DashboardOffice } from './web/context.js';
import { html } from './web/html.js';
import { registerPages } from './web/pages.js';
import { COOKIE, SessionTable, sameOrigin, sameToken } from './web/session.js';
import { STYLE_PATH, registerSignIn } from './web/signin.js';
import { CSS } from './web/style.js';

export type { DashboardOffice, ListenerInfo } from './web/context.js';

export interface DashboardHandle {
  port: number;
  app: FastifyInstance;
  /** every route and who may open it (tests check that none is open by mistake) */
  routes: { method: string; url: string; access: string }[];
  close(): Promise<void>;
}

export interface DashboardOptions {
  offices: DashboardOffice[];
  /** null: no listener of its own (the routes serve only through app.routing, e.g. the HTTPS listener) */
  port: number | null;
  host: string;
  config: Config;
  log: Logger;
  /** more routes (the lab's control API); they are admin-only unless they set config.access */
  extraRoutes?: (app: FastifyInstance, dashboard: Dashboard) => void;
  /** built-in ACME (tls/acme.ts): the key authorization of an open HTTP-01 challenge */
  acme?: { challengeResponse(token: string): string | undefined } | null;
  /** the certificate in use (tls/tls.ts), reported by /health */
  certificate?: () => { source: string; daysLeft: number; validTo: string };
}

const tokenOk = (authorization: string | undefined, token: string): boolean => {
  if (!token) return false;
  const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
  if (!m) return false;
  const h = (v: string) => createHash('sha256').update(v).digest();
  return timingSafeEqual(h(m[1]), h(token));
};

/** /metrics and /healthz: loopback clients (a local Prometheus, the lab), others with `Authorization: Bearer <httpTraceToken>`. */
export function probeAllowed(req: { socket: { remoteAddress?: string }; headers: { authorization?: string } }, token: string): boolean {
  return isLoopback(req.socket.remoteAddress) || tokenOk(req.headers.authorization, token);
}

export async function startDashboard(opts: DashboardOptions): Promise<DashboardHandle> {
  const { offices, config, log } = opts;
  if (offices.length === 0) throw new Error('startDashboard: no post office');
  const token = config.httpTraceToken ?? '';
  const sessions = new SessionTable();
  const auths = new Map<DashboardOffice, Authenticator>();
  const dash: Dashboard = {
    offices, sessions, config, log,
    office: (name) => offices.find((o) => o.name === name),
    auth(o) {
      let a = o.auth ?? auths.get(o);
      if (!a) { a = new Authenticator(o.store, { cacheTtlMs: config.authCacheTtlMs }); auths.set(o, a); }
      return a;
    },
    send: sendPage,
  };

  const app = Fastify({
    logger: false,
    bodyLimit: 64 * 1024,
    requestTimeout: 10_000,
    // SSE streams stay open; they end with the client or at close()
    forceCloseConnections: true,
    routerOptions: { ignoreTrailingSlash: true },
    // Outlook asks /Autodiscover/Autodiscover.xml, others the lower-case path
    rewriteUrl: (req) => (req.url ?? '/').replace(/^\/autodiscover\/autodiscover\.xml(?=$|\?)/i, '/autodiscover/autodiscover.xml'),
  });
  const routes: DashboardHandle['routes'] = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) if (method !== 'HEAD') routes.push({ method, url: r.url, access: r.config?.access ?? 'admin' });
  });
  app.decorateRequest('web', null);
  app.decorateRequest('nonce', '');
  app.decorateRequest('bearer', false);
  await app.register(cookie);
  await app.register(formbody, { bodyLimit: 64 * 1024 });
  await app.register(rateLimit, { global: false });
  // Outlook posts XML; anything else that is no form is read as text and judged by its route
  app.addContentTypeParser(['text/xml', 'application/xml'], { parseAs: 'string' }, (_req, body, done) => done(null, body));
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  app.addHook('onRequest', async (req, reply) => {
    req.nonce = randomBytes(16).toString('base64');
    req.web = sessions.get(req.cookies[COOKIE]);
    req.bearer = tokenOk(req.headers.authorization, token);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'same-origin');
    reply.header('cache-control', 'no-store');
    reply.header('content-security-policy',
      `default-src 'self'; script-src 'nonce-${req.nonce}'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-src 'self'; ` +
      `form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'`);
    reply.header('x-frame-options', 'DENY');
  });

  // Who may open what: a route says so in config.access; a route that says nothing is for admins.
  app.addHook('preHandler', async (req, reply) => {
    const access = req.routeOptions.config?.access ?? 'admin';
    if (access === 'public') return;
    if (access === 'probe') {
      if (!probeAllowed(req, token)) return reply.code(403).send({ error: 'loopback clients only, or Authorization: Bearer <httpTraceToken>' });
      return;
    }
    if (access === 'api' && req.bearer) return;
    // the account as it is now: deleted or no longer an admin (the CLI, another process) takes effect at once
    if (req.web?.user) {
      const u = req.web.user;
      const rec = await dash.office(u.office)?.store.users.get(u.address);
      if (!rec) { sessions.destroy(req.web.id); req.web = null; }
      else u.admin = rec.admin === true;
    }
    const user = req.web?.user ?? null;
    const wantsHtml = req.method === 'GET' && !req.url.startsWith('/api/') && req.url !== '/events';
    if (!user) {
      if (wantsHtml) return reply.redirect(`/login?next=${encodeURIComponent(req.url)}`, 303);
      return reply.code(401).send({ error: 'sign in first (or Authorization: Bearer <httpTraceToken> for /api)' });
    }
    if ((access === 'admin' || access === 'api') && !user.admin) {
      if (wantsHtml) {
        return sendPage(req, reply, { title: 'Admins only' }, html`<h1>Admins only</h1>
          <p class="lead">This page is for the post office's administrators. You are signed in as ${user.address}: your own mail is in <a href="/inbox">your inbox</a>.</p>`, 403);
      }
      return reply.code(403).send({ error: 'admins only' });
    }
    // CSRF: a POST made with the session cookie must come from our own page and carry its token
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const body = req.body as Record<string, unknown> | undefined;
      const sent = typeof body === 'object' && body && typeof body._csrf === 'string' ? body._csrf : String(req.headers['x-csrf-token'] ?? '');
      if (!sameOrigin(req) || !sameToken(sent, req.web!.csrf)) {
        return reply.code(403).type('text/plain; charset=utf-8').send('refused: this form did not come from this dashboard (cross-site request)\n');
      }
    }
  });

  app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
    const code = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (code === 500) log.error({ err, url: req.url, code: 'HTTP_HANDLER_FAILED' }, 'dashboard request failed');
    reply.code(code).send({ error: code === 500 ? 'internal error' : err.message });
  });
  app.setNotFoundHandler((req, reply) => {
    if (req.method === 'GET' && req.web?.user && (req.headers.accept ?? '').includes('text/html')) {
      return sendPage(req, reply, { title: 'Not found' }, html`<h1>Not found</h1><p class="lead">There is no page <code>${req.url}</code>. <a href="/">Back to the overview</a>.</p>`, 404);
    }
    return reply.code(404).send({ error: 'not found' });
  });

  // ---- probes: public health, and for loopback / the token: healthz and metrics
  const first = offices[0];
  app.get('/health', { config: { access: 'public' } }, async () => ({
    status: 'ok', hostname: first.hostname, listeners: first.listeners(), offices: offices.map((o) => o.name),
    ...(opts.certificate ? { certificate: opts.certificate() } : {}),
  }));
  app.get('/healthz', { config: { access: 'probe' } }, async (_req, reply) => {
    const checks = await Promise.all(offices.map(async (o) => {
      try {
        const [queue, last] = await Promise.all([o.store.queue.list(), o.store.journey.lastId()]);
        return { office: o.name, store: 'ok', queue: queue.filter((e) => e.status === 'queued').length, journeyLastId: last, connections: o.limiter?.open ?? null };
      } catch (err) {
        return { office: o.name, store: 'failing', error: (err as Error).message };
      }
    }));
    const ok = checks.every((c) => c.store === 'ok');
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'failing', offices: checks });
  });
  app.get('/metrics', { config: { access: 'probe' } }, async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  const unwatch = offices.map((o) => watchOffice({
    name: o.hostname,
    connections: o.limiter ? () => o.limiter!.open : undefined,
    queueSize: async () => (await o.store.queue.list()).filter((e) => e.status === 'queued').length,
  }));

  // ---- autoconfiguration: the office of the address asked for (or of the Host name), else the first
  const officeFor = async (address: string | null, host: string | undefined): Promise<DashboardOffice> => {
    const domain = (address ?? '').split('@')[1]?.toLowerCase() ?? host?.replace(/:\d+$/, '').replace(/^autoconfig\./i, '').toLowerCase() ?? '';
    for (const o of offices) if (domain && (await o.store.domains.isLocal(domain))) return o;
    return first;
  };
  const info = (o: DashboardOffice) => ({ hostname: o.hostname, listeners: o.listeners().filter((l) => l.name !== 'http') as { name: keyof Ports; port: number; state: 'listening' | 'disabled' }[] });
  const autoconfig = async (req: FastifyRequest, reply: FastifyReply) => {
    const o = await officeFor((req.query as Record<string, string>).emailaddress ?? null, req.headers.host);
    const ds = await o.store.domains.list();
    return reply.type('application/xml; charset=utf-8').send(autoconfigXml({ ...info(o), domains: ds.map((d) => d.name) }));
  };
  app.get('/mail/config-v1.1.xml', { config: { access: 'public' } }, autoconfig);
  app.get('/.well-known/autoconfig/mail/config-v1.1.xml', { config: { access: 'public' } }, autoconfig);
  // Outlook POSTs its request (a few hundred bytes: anything over 16 KiB is refused)
  const autodiscover = async (req: FastifyRequest, reply: FastifyReply) => {
    const email = autodiscoverEmail(typeof req.body === 'string' ? req.body : '');
    if (!email) return reply.code(400).type('text/plain').send('no <EMailAddress> in the request\n');
    const o = await officeFor(email, req.headers.host);
    return reply.type('application/xml; charset=utf-8').send(autodiscoverXml(info(o), email));
  };
  app.post('/autodiscover/autodiscover.xml', { config: { access: 'public' }, bodyLimit: 16 * 1024 }, autodiscover);

  // ---- the journey as JSON (for scripts): a signed-in admin, or the bearer token
  app.get('/api/trace/:id', { config: { access: 'api' } }, async (req, reply) => {
    const rows = await joinedTrace(offices, (req.params as { id: string }).id);
    return reply.code(rows.length ? 200 : 404).send(rows.length ? rows : { error: 'no such message' });
  });

  // ---- RFC 8555 §8.3 HTTP-01: the CA fetches http://<name>/.well-known/acme-challenge/<token> (port 80)
  if (opts.acme) {
    const acme = opts.acme;
    app.get('/.well-known/acme-challenge/:token', { config: { access: 'public' } }, async (req, reply) => {
      const token = (req.params as { token: string }).token;
      const answer = /^[A-Za-z0-9_-]{1,256}$/.test(token) ? acme.challengeResponse(token) : undefined;
      if (!answer) return reply.code(404).type('text/plain; charset=utf-8').send('no such ACME challenge\n');
      return reply.type('application/octet-stream').send(answer);
    });
  }

  // ---- RFC 8461 §3.2: our MTA-STS policy, at https://mta-sts.DOMAIN/.well-known/mta-sts.txt (config mtaSts)
  app.get('/.well-known/mta-sts.txt', { config: { access: 'public' } }, async (req, reply) => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    const domain = host.startsWith('mta-sts.') ? host.slice('mta-sts.'.length) : '';
    let office: DashboardOffice | undefined;
    for (const o of offices) if (domain && (await o.store.domains.isLocal(domain))) { office = o; break; }
    if (config.mtaSts === 'none' || !office) {
      return reply.code(404).type('text/plain; charset=utf-8').send(config.mtaSts === 'none' ? 'no MTA-STS policy here (config mtaSts is none)\n' : `no MTA-STS policy for ${host || 'this host'}: ask mta-sts.<one of our domains>\n`);
    }
    return reply.type('text/plain; charset=utf-8').header('cache-control', 'max-age=300')
      .send(policyText({ mode: config.mtaSts, mx: [office.hostname], maxAge: config.mtaStsMaxAge }));
  });

  app.get(STYLE_PATH, { config: { access: 'public' } }, async (_req, reply) => reply.type('text/css; charset=utf-8').header('cache-control', 'max-age=300').send(CSS));
  registerSignIn(app, dash);
  const pages = registerPages(app, dash);
  opts.extraRoutes?.(app, dash);

  if (opts.port === null) await app.ready();
  else await app.listen({ port: opts.port, host: opts.host });
  const a = opts.port === null ? null : app.server.address();
  return {
    port: typeof a === 'object' && a ? a.port : opts.port ?? 0,
    app,
    routes,
    async close() {
      for (const u of unwatch) u();
      pages.close();
      await app.close();
    },
  };
}
