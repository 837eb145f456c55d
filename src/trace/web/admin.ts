// The admin pages that change things: the outbound queue (retry now, delete) and the accounts
// (users, aliases, domains: add, delete, reset a password, admin on/off). Every change is a POST
// from a form of these pages (CSRF token and same-origin checked before the handler runs) and
// answers with a redirect back and a one-line message.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hashPassword } from '../../auth/password.js';
import { parseAddress, normalizeDomain } from '../../mail/address.js';
import { flashOf, redirectWithFlash, type Dashboard, type DashboardOffice } from './context.js';
import { ago, fmtBytes, fmtTime, html, seg, type Html } from './html.js';
import type { WebSession } from './session.js';

const csrf = (s: WebSession | null) => html`<input type="hidden" name="_csrf" value="${s?.csrf ?? ''}">`;
const body = (req: FastifyRequest) => (typeof req.body === 'object' && req.body ? req.body : {}) as Record<string, unknown>;
const field = (req: FastifyRequest, name: string, max = 320) => String(body(req)[name] ?? '').trim().slice(0, max);

/** Store refusals (exists, not found, invalid) are told as they are; anything else is an internal error. */
function failure(dash: Dashboard, err: unknown): string {
  const e = err as Error & { reason?: string };
  if (e && typeof e.reason === 'string') return e.message;
  dash.log.error({ err, code: 'DASHBOARD_CHANGE_FAILED' }, 'dashboard change failed');
  return 'internal error (see the server log)';
}

function officeOf(dash: Dashboard, req: FastifyRequest): DashboardOffice | null {
  return dash.office((req.params as { office: string }).office) ?? null;
}

/** Runs one change and redirects back with what happened. */
async function change(dash: Dashboard, req: FastifyRequest, reply: FastifyReply, back: string, run: (o: DashboardOffice) => Promise<string>): Promise<FastifyReply> {
  const o = officeOf(dash, req);
  if (!o) return redirectWithFlash(reply, back, { error: 'no such post office' });
  try {
    const ok = await run(o);
    dash.log.info({ user: req.web?.user?.address, office: o.name, url: req.url, result: ok }, 'dashboard change');
    return redirectWithFlash(reply, back, { ok });
  } catch (err) {
    return redirectWithFlash(reply, back, { error: failure(dash, err) });
  }
}

class Refused extends Error { readonly reason = 'invalid'; }

/** the queue entry id of the URL: a positive integer, or a refusal */
function entryId(req: FastifyRequest): number {
  const id = Number((req.params as { id: string }).id);
  if (!Number.isSafeInteger(id) || id <= 0) throw new Refused('no such queue entry');
  return id;
}

export function registerAdmin(app: FastifyInstance, dash: Dashboard): void {
  // ---------------------------------------------------------------- queue
  app.get('/queue', async (req, reply) => {
    const now = Date.now();
    const sections: Html[] = [];
    for (const o of dash.offices) {
      const q = await o.store.queue.list();
      sections.push(html`<h2>${o.name} <span class="muted" style="font-size:.9rem">${q.length} entr${q.length === 1 ? 'y' : 'ies'}</span></h2>
${q.length ? html`<table><thead><tr><th>#</th><th>Message</th><th>From → to</th><th>Size</th><th>Attempts</th><th>Next attempt</th><th>Last reply</th><th></th></tr></thead><tbody>
${q.map((e) => html`<tr data-key="${o.name}/${e.id}/${e.attempts}/${e.status}">
  <td>${e.id}</td><td><a class="mono" href="/messages/${seg(e.msgId)}">${e.msgId}</a></td>
  <td><code>&lt;${e.mailFrom}&gt;</code> → ${e.rcpts.filter((r) => r.status === 'pending').map((r) => html`<code>${r.address}</code> `)} <span class="muted">(${e.domain})</span></td>
  <td>${fmtBytes(e.size)}</td><td>${e.attempts}</td>
  <td title="${fmtTime(e.nextAttempt)}">${e.status !== 'queued' ? e.status : e.nextAttempt <= now ? 'now' : `in ${Math.round((e.nextAttempt - now) / 1000)} s`}</td>
  <td class="${e.lastReply && /^[45]/.test(e.lastReply) ? 'bad' : ''}">${e.lastReply ?? html`<span class="muted">—</span>`}</td>
  <td style="white-space:nowrap">
    <form class="inline" method="post" action="/queue/${seg(o.name)}/${e.id}/retry">${csrf(req.web)}<button title="make it due now: the relay tries at once">Retry now</button></form>
    <form class="inline" method="post" action="/queue/${seg(o.name)}/${e.id}/delete">${csrf(req.web)}<button class="danger" title="drop it without a bounce">Delete</button></form>
  </td></tr>`)}
</tbody></table>` : html`<p class="muted">Empty: nothing waits to be relayed.</p>`}`);
    }
    return dash.send(req, reply, { title: 'Queue', section: '/queue', live: true, flash: flashOf(req) }, html`
<h1>Outbound queue</h1>
<p class="lead">Mail for other domains waits here until the next MTA takes it (250). A 4xx reply or no connection means "try later": the relay retries on its schedule, and bounces what is still here when it expires. A 5xx reply bounces at once.</p>
<div id="live">${sections}</div>`);
  });
  app.post('/queue/:office/:id/retry', async (req, reply) => change(dash, req, reply, '/queue', async (o) => {
    const id = entryId(req);
    const n = await o.store.queue.flush(id);
    if (!n) throw new Refused(`no queued entry ${id} at ${o.name}`);
    return `entry ${id} is due now: the relay tries it at once`;
  }));
  app.post('/queue/:office/:id/delete', async (req, reply) => change(dash, req, reply, '/queue', async (o) => {
    const id = entryId(req);
    if (!(await o.store.queue.del(id))) throw new Refused(`no queue entry ${id} at ${o.name}`);
    return `entry ${id} deleted (no bounce is sent)`;
  }));

  // ---------------------------------------------------------------- accounts
  app.get('/accounts', async (req, reply) => {
    const me = req.web!.user!;
    const sections: Html[] = [];
    for (const o of dash.offices) {
      const [domains, users, aliases] = await Promise.all([o.store.domains.list(), o.store.users.list(), o.store.aliases.list()]);
      const base = `/accounts/${seg(o.name)}`;
      sections.push(html`<section class="panel" id="office-${o.name}">
<h2 style="margin-top:0">${o.name} <span class="muted" style="font-size:.9rem">${o.hostname}</span></h2>
<h3>Users</h3>
<table><thead><tr><th>Address</th><th>Mail</th><th>Admin</th><th>Reset password</th><th></th></tr></thead><tbody>
${await Promise.all(users.map(async (u) => {
    const use = await o.store.users.usage(u.id);
    const self = me.office === o.name && me.address === u.address;
    return html`<tr data-key="${o.name}/${u.address}/${u.admin}">
  <td><b>${u.address}</b>${self ? html` <span class="muted">(you)</span>` : ''}</td>
  <td>${use.messages} <span class="muted">(${fmtBytes(use.bytes)})</span></td>
  <td><form class="inline" method="post" action="${base}/users/admin">${csrf(req.web)}<input type="hidden" name="address" value="${u.address}"><input type="hidden" name="on" value="${u.admin ? 'off' : 'on'}">
    ${u.admin ? html`<span class="tag plain">admin</span> ` : ''}<button ${self ? html`disabled title="you cannot take your own admin right"` : ''}>${u.admin ? 'Remove admin' : 'Make admin'}</button></form></td>
  <td><form class="inline" method="post" action="${base}/users/password">${csrf(req.web)}<input type="hidden" name="address" value="${u.address}"><input type="password" name="password" placeholder="new password" autocomplete="new-password" required> <button>Set</button></form></td>
  <td><form class="inline" method="post" action="${base}/users/delete">${csrf(req.web)}<input type="hidden" name="address" value="${u.address}"><button class="danger" ${self ? html`disabled title="you cannot delete yourself"` : ''}>Delete</button></form></td></tr>`;
  }))}
</tbody></table>
<form method="post" action="${base}/users/add" style="margin-top:.6rem">${csrf(req.web)}
  <input type="email" name="address" placeholder="new@${domains[0]?.name ?? 'example.test'}" required> <input type="password" name="password" placeholder="password" autocomplete="new-password" required>
  <label><input type="checkbox" name="admin" value="on"> admin</label> <button class="primary">Add user</button></form>
<div class="grid" style="margin-top:1rem">
<div><h3>Aliases</h3>
${aliases.length ? html`<table><tbody>${aliases.map((a) => html`<tr><td><code>${a.source}</code> → <code>${a.target}</code></td><td><form class="inline" method="post" action="${base}/aliases/delete">${csrf(req.web)}<input type="hidden" name="source" value="${a.source}"><input type="hidden" name="target" value="${a.target}"><button class="danger">Delete</button></form></td></tr>`)}</tbody></table>` : html`<p class="muted">No aliases.</p>`}
<form method="post" action="${base}/aliases/add" style="margin-top:.5rem">${csrf(req.web)}<input type="text" name="source" placeholder="info@${domains[0]?.name ?? ''}" required> → <input type="text" name="target" placeholder="me@${domains[0]?.name ?? ''}" required> <button>Add alias</button></form></div>
<div><h3>Domains</h3>
<table><tbody>${domains.map((d) => html`<tr><td><b>${d.name}</b></td><td>${d.users} user(s)</td><td><form class="inline" method="post" action="${base}/domains/delete">${csrf(req.web)}<input type="hidden" name="name" value="${d.name}"><button class="danger">Delete</button></form></td></tr>`)}</tbody></table>
<form method="post" action="${base}/domains/add" style="margin-top:.5rem">${csrf(req.web)}<input type="text" name="name" placeholder="example.org" required> <button>Add domain</button></form></div>
</div></section>`);
    }
    return dash.send(req, reply, { title: 'Accounts', section: '/accounts', flash: flashOf(req) }, html`
<h1>Accounts</h1>
<p class="lead">Who receives mail here (the local domains), who may log in (users, with the same password for IMAP, POP3, SMTP AUTH and this dashboard), and which other addresses deliver to them (aliases).</p>
${sections}`);
  });

  const back = '/accounts';
  app.post('/accounts/:office/users/add', async (req, reply) => change(dash, req, reply, back, async (o) => {
    const a = parseAddress(field(req, 'address'));
    const pw = field(req, 'password', 1024);
    if (!a) throw new Refused('that is not an address (local@domain)');
    if (!pw) throw new Refused('the password is empty');
    if (!(await o.store.domains.isLocal(a.domain))) throw new Refused(`${a.domain} is not a domain of ${o.name}: add the domain first`);
    const u = await o.store.users.add(a.key, await hashPassword(pw));
    if (field(req, 'admin') === 'on') await o.store.users.setAdmin(u.address, true);
    return `added ${u.address}${field(req, 'admin') === 'on' ? ' (admin)' : ''}`;
  }));
  app.post('/accounts/:office/users/delete', async (req, reply) => change(dash, req, reply, back, async (o) => {
    const address = field(req, 'address').toLowerCase();
    const me = req.web!.user!;
    if (me.office === o.name && me.address === address) throw new Refused('you cannot delete the account you are signed in with');
    if (!(await o.store.users.del(address))) throw new Refused(`no such user: ${address}`);
    dash.sessions.destroyUser(o.name, address);
    return `deleted ${address} and its mailboxes`;
  }));
  app.post('/accounts/:office/users/password', async (req, reply) => change(dash, req, reply, back, async (o) => {
    const address = field(req, 'address').toLowerCase();
    const pw = field(req, 'password', 1024);
    if (!pw) throw new Refused('the password is empty');
    if (!(await o.store.users.setPassword(address, await hashPassword(pw)))) throw new Refused(`no such user: ${address}`);
    const me = req.web!.user!;
    if (!(me.office === o.name && me.address === address)) dash.sessions.destroyUser(o.name, address);
    return `password changed for ${address}`;
  }));
  app.post('/accounts/:office/users/admin', async (req, reply) => change(dash, req, reply, back, async (o) => {
    const address = field(req, 'address').toLowerCase();
    const on = field(req, 'on') === 'on';
    const me = req.web!.user!;
    if (!on && me.office === o.name && me.address === address) throw new Refused('you cannot take your own admin right (ask another admin, or use the CLI)');
    if (!(await o.store.users.setAdmin(address, on))) throw new Refused(`no such user: ${address}`);
    dash.sessions.destroyUser(o.name, address);
    return `${address} is ${on ? 'now an admin' : 'no longer an admin'}`;
  }));
  app.post('/accounts/:office/aliases/add', async (req, reply) => change(dash, req, reply, back, async (o) => {
    const source = field(req, 'source');
    const target = field(req, 'target');
    if (!source || !target) throw new Refused('an alias needs a source and a target');
    return (await o.store.aliases.add(source, target)) ? `added alias ${source.toLowerCase()} → ${target.toLowerCase()}` : 'that alias exists already';
  }));
  app.post('/accounts/:office/aliases/delete', async (req, reply) => change(dash, req, reply, back, async (o) => {
    const n = await o.store.aliases.del(field(req, 'source').toLowerCase(), field(req, 'target').toLowerCase() || undefined);
    if (!n) throw new Refused('no such alias');
    return `deleted ${n} alias(es)`;
  }));
  app.post('/accounts/:office/domains/add', async (req, reply) => change(dash, req, reply, back, async (o) => {
    const d = normalizeDomain(field(req, 'name', 253));
    if (!d) throw new Refused('that is not a domain name');
    return (await o.store.domains.add(d)) ? `added domain ${d}` : `domain ${d} exists already`;
  }));
  app.post('/accounts/:office/domains/delete', async (req, reply) => change(dash, req, reply, back, async (o) => {
    const d = field(req, 'name', 253).toLowerCase();
    if (!(await o.store.domains.del(d))) throw new Refused(`no such domain: ${d}`);
    return `deleted domain ${d}`;
  }));
}
