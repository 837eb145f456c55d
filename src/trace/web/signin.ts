// Sign-in and sign-out. The account is a postoffice account (the same password as for IMAP, POP3
// and SMTP AUTH), checked by the post office's Authenticator: a failure waits as long as it would
// there (the penalty grows per client address and per account), and the route is rate-limited.
// A sign-in always starts a new session (a new cookie value), so a planted cookie is worthless.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sleep } from '../../auth/authenticate.js';
import { sendPage, type Dashboard, type DashboardOffice } from './context.js';
import { html } from './html.js';
import { isLoopback } from '../../mail/address.js';
import { clearSessionCookie, overTls, sameOrigin, sameToken, setSessionCookie, type WebSession } from './session.js';

export const STYLE_PATH = '/dashboard.css';

const PLAIN_REFUSED = 'Signing in needs HTTPS when you are not on this machine: put a TLS proxy in front (sending X-Forwarded-Proto: https), or use an SSH tunnel (ssh -L 8080:127.0.0.1:8080 server) and open http://127.0.0.1:8080. (In Docker, publish the port on the host\'s 127.0.0.1 only and set POSTOFFICE_HTTP_PLAINTEXT_SIGNIN=any, as docker-compose.yml does.)';

/**
 * A password may come over plain HTTP only from this machine (the lab, an SSH tunnel), or from anywhere
 * when the operator says the port is reachable from this host alone (httpPlaintextSignIn=any: Docker
 * publishing 127.0.0.1:8080, where every client arrives from the bridge's gateway).
 */
const plainOk = (req: FastifyRequest, dash: Dashboard) =>
  overTls(req) || isLoopback(req.socket.remoteAddress) || dash.config.httpPlaintextSignIn === 'any';

/** Where to go after signing in: a path on this site only. */
function safeNext(v: unknown): string | null {
  return typeof v === 'string' && /^\/(?![/\\])[\x21-\x7e]*$/.test(v) && !v.startsWith('/login') ? v : null;
}

export function registerSignIn(app: FastifyInstance, dash: Dashboard): void {
  const form = (req: FastifyRequest, reply: FastifyReply, s: WebSession, o: { next: string | null; address?: string; error?: string; status?: number }) => {
    setSessionCookie(req, reply, s);
    req.web = s;
    return sendPage(req, reply, { title: 'Sign in' }, html`
<div class="signin panel">
  <h1>Sign in</h1>
  <p class="muted">With a postoffice account and its mail password. Admins see every page; other accounts see their own inbox.</p>
  ${o.error ? html`<div class="flash error" role="alert">${o.error}</div>` : ''}
  <form method="post" action="/login">
    <input type="hidden" name="_csrf" value="${s.csrf}">
    ${o.next ? html`<input type="hidden" name="next" value="${o.next}">` : ''}
    <label for="address">Address</label><input type="email" id="address" name="address" autocomplete="username" required value="${o.address ?? ''}" placeholder="me@163.test" autofocus>
    <label for="password">Password</label><input type="password" id="password" name="password" autocomplete="current-password" required>
    <button class="primary" type="submit">Sign in</button>
  </form>
  <p class="muted" style="font-size:.85rem">Make an admin with <code>postoffice user add ADDRESS --admin</code> or <code>postoffice user admin ADDRESS on</code>.</p>
</div>`, o.status ?? 200);
  };

  app.get('/login', { config: { access: 'public' } }, async (req, reply) => {
    const next = safeNext((req.query as Record<string, unknown>).next);
    if (req.web?.user) return reply.redirect(next ?? (req.web.user.admin ? '/' : '/inbox'), 303);
    return form(req, reply, req.web ?? dash.sessions.create(null), { next, ...(plainOk(req, dash) ? {} : { error: PLAIN_REFUSED }) });
  });

  app.post('/login', {
    config: { access: 'public', rateLimit: { max: 20, timeWindow: 60_000 } },
  }, async (req, reply) => {
    const body = (typeof req.body === 'object' && req.body ? req.body : {}) as Record<string, unknown>;
    const next = safeNext(body.next);
    const anon = req.web ?? dash.sessions.create(null);
    // as IMAP and POP3 do (RFC 8314): no password in clear text over the network, only on this machine
    if (!plainOk(req, dash)) return form(req, reply, anon, { next, error: PLAIN_REFUSED, status: 403 });
    // login CSRF: the form must be ours (its token, this origin)
    if (!req.web || !sameOrigin(req) || !sameToken(String(body._csrf ?? ''), req.web.csrf)) {
      return form(req, reply, anon, { next, error: 'This form has expired or did not come from this page: please sign in again.', status: 403 });
    }
    const address = String(body.address ?? '').trim().toLowerCase().slice(0, 320);
    const password = String(body.password ?? '').slice(0, 1024);
    const domain = address.split('@')[1] ?? '';
    let office: DashboardOffice = dash.offices[0];
    for (const o of dash.offices) if (domain && (await o.store.domains.isLocal(domain))) { office = o; break; }
    const { user, delayMs } = await dash.auth(office).login(address, password, req.ip, 'http');
    if (!user) {
      await sleep(delayMs);
      dash.log.info({ user: address, client: req.ip, proto: 'http' }, 'dashboard sign-in failed');
      return form(req, reply, anon, { next, address, error: 'Wrong address or password.', status: 401 });
    }
    dash.sessions.destroy(anon.id);
    const s = dash.sessions.create({ address: user.address, userId: user.id, office: office.name, admin: user.admin === true });
    setSessionCookie(req, reply, s);
    dash.log.info({ user: user.address, client: req.ip, proto: 'http', admin: user.admin === true }, 'dashboard sign-in');
    return reply.redirect(next ?? (user.admin ? '/' : '/inbox'), 303);
  });

  app.post('/logout', { config: { access: 'user' } }, async (req, reply) => {
    if (req.web) dash.sessions.destroy(req.web.id);
    clearSessionCookie(req, reply);
    return reply.redirect('/login', 303);
  });
}
