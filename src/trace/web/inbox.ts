// A small read-only web inbox for the signed-in user: the mailboxes, the messages, one message
// with its header, its text (HTML mail is shown in a sandboxed frame that may run nothing and load
// nothing) and the journey that brought it here. Only the user's own mailboxes are reachable.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { simpleParser } from 'mailparser';
import { headerEnd } from '../../mail/headers.js';
import { decodeMimeWords, type Envelope } from '../../mail/mime.js';
import type { MailboxRecord } from '../../store/index.js';
import { type Dashboard, type DashboardOffice } from './context.js';
import { ago, fmtBytes, fmtTime, html } from './html.js';
import { journeyView } from './messages.js';

const MAX_BODY = 2 * 1024 * 1024;

const who = (list: Envelope['from']) => (list ?? []).map((a) => (a.name ? `${decodeMimeWords(a.name)} <${a.mailbox}@${a.host}>` : `${a.mailbox}@${a.host}`)).join(', ');
/** INBOX first, then the others by name */
const boxOrder = (a: MailboxRecord, b: MailboxRecord) => (a.name === 'INBOX' ? -1 : b.name === 'INBOX' ? 1 : a.name.localeCompare(b.name));

export function registerInbox(app: FastifyInstance, dash: Dashboard): void {
  const mine = (req: FastifyRequest): DashboardOffice => dash.office(req.web!.user!.office) ?? dash.offices[0];
  /** the mailbox if it is the signed-in user's own */
  const ownBox = async (req: FastifyRequest): Promise<MailboxRecord | null> => {
    const id = Number((req.params as { mailbox: string }).mailbox);
    if (!Number.isSafeInteger(id)) return null;
    const mb = await mine(req).store.mailboxes.getById(id);
    return mb && mb.userId === req.web!.user!.userId ? mb : null;
  };
  /** a message of a mailbox already known to be the user's; a UID that is no number is no message */
  const ownMessage = async (o: DashboardOffice, mailboxId: number, uidText: string) => {
    const uid = Number(uidText);
    return Number.isSafeInteger(uid) && uid > 0 ? o.store.messages.get(mailboxId, uid) : null;
  };
  const missing = (req: FastifyRequest, reply: Parameters<Dashboard['send']>[1]) =>
    dash.send(req, reply, { title: 'Not found', section: '/inbox' }, html`<p><a href="/inbox">← Inbox</a></p><h1>Not found</h1><p class="lead">No such mailbox or message in your account.</p>`, 404);

  app.get('/inbox', { config: { access: 'user' } }, async (req, reply) => {
    const o = mine(req);
    const boxes = await o.store.mailboxes.list(req.web!.user!.userId);
    const inbox = boxes.find((b) => b.name === 'INBOX');
    if (inbox) return reply.redirect(`/inbox/${inbox.id}`, 303);
    return dash.send(req, reply, { title: 'Inbox', section: '/inbox' }, html`<h1>Your mail</h1><p class="muted">No mailboxes.</p>`);
  });

  app.get('/inbox/:mailbox', { config: { access: 'user' } }, async (req, reply) => {
    const mb = await ownBox(req);
    if (!mb) return missing(req, reply);
    const o = mine(req);
    const boxes = [...(await o.store.mailboxes.list(req.web!.user!.userId))].sort(boxOrder);
    const status = await Promise.all(boxes.map((b) => o.store.mailboxes.status(b.id)));
    // the newest 200 by UID from the mailbox's UID vector: a million-message mailbox is not read whole
    const view = await o.store.mailboxes.view(mb.id);
    const newest = view ? Array.from(view.uids.subarray(Math.max(0, view.uids.length - 200))) : [];
    const list = (await o.store.messages.some(mb.id, newest)).reverse();
    const rows = await Promise.all(list.map(async (m) => ({ m, env: ((await o.store.messages.meta(m.blobId)).mime as { envelope?: Envelope } | null)?.envelope ?? null })));
    return dash.send(req, reply, { title: mb.name, section: '/inbox', live: true }, html`
<h1>Your mail <span class="muted" style="font-size:1rem">${req.web!.user!.address}</span></h1>
<p class="lead">What your mail client would show over IMAP: the mailboxes the MDA keeps for you, newest message first. Open one to see its header and the journey that brought it.</p>
<div class="grid" style="grid-template-columns: 14rem 1fr">
<nav class="panel"><b>Mailboxes</b><ul style="list-style:none;padding:0;margin:.4rem 0 0">${boxes.map((b, i) => html`<li><a href="/inbox/${b.id}" style="${b.id === mb.id ? 'font-weight:700' : ''}">${b.name}</a> <span class="muted">${status[i]?.messages ?? 0}${status[i]?.unseen ? html`, <b>${status[i]!.unseen} new</b>` : ''}</span></li>`)}</ul></nav>
<div id="live">${rows.length ? html`<table><thead><tr><th>From</th><th>Subject</th><th>Date</th><th>Size</th></tr></thead><tbody>
${rows.map(({ m, env }) => html`<tr data-key="${mb.id}/${m.uid}"><td>${who(env?.from ?? null)}</td><td><a href="/inbox/${mb.id}/${m.uid}">${m.flags.includes('\\Seen') ? '' : html`<b>● </b>`}${env?.subject ? decodeMimeWords(env.subject) : '(no subject)'}</a></td><td title="${fmtTime(m.internalDate)}">${ago(m.internalDate)}</td><td>${fmtBytes(m.size)}</td></tr>`)}
</tbody></table>` : html`<p class="muted">${mb.name} is empty.</p>`}</div>
</div>`);
  });

  app.get('/inbox/:mailbox/:uid', { config: { access: 'user' } }, async (req, reply) => {
    const mb = await ownBox(req);
    const o = mine(req);
    const m = mb ? await ownMessage(o, mb.id, (req.params as { uid: string }).uid) : null;
    if (!mb || !m) return missing(req, reply);
    const raw = await o.store.messages.raw(m.blobId);
    const headEnd = headerEnd(raw, 64 * 1024);
    // the fields without the line end of the last one (the count below splits on line ends)
    const header = raw.subarray(0, headEnd ? headEnd.fieldsEnd : Math.min(raw.length, 64 * 1024)).toString('utf8').replace(/\r?\n$/, '');
    const parsed = await simpleParser(raw.length > MAX_BODY ? raw.subarray(0, MAX_BODY) : raw, { skipImageLinks: true, skipTextToHtml: true, skipTextLinks: true });
    const me = req.web!.user!;
    const journey = m.msgId ? await journeyView(dash, m.msgId, me.admin, me.admin ? undefined : me.address) : null;
    return dash.send(req, reply, { title: parsed.subject ?? 'Message', section: '/inbox' }, html`
<p><a href="/inbox/${mb.id}">← ${mb.name}</a></p>
<h1>${parsed.subject || '(no subject)'}</h1>
<div class="panel"><dl class="kv">
  <dt>From</dt><dd>${parsed.from?.text ?? ''}</dd><dt>To</dt><dd>${[parsed.to].flat().map((a) => a?.text ?? '').join(', ')}</dd>
  <dt>Date</dt><dd>${parsed.date ? fmtTime(parsed.date.getTime()) + ' UTC' : ''}</dd>
  ${parsed.attachments.length ? html`<dt>Attachments</dt><dd>${parsed.attachments.map((a) => html`<span class="tag plain">${a.filename ?? 'unnamed'} · ${a.contentType} · ${fmtBytes(a.size)}</span> `)}</dd>` : ''}
</dl></div>
<details><summary>The whole header (${header.split(/\r?\n(?![ \t])/).length} fields: every hop added its Received: line on top)</summary><div class="headers">${header}</div></details>
<h2>Text</h2>
${parsed.text ? html`<pre class="body">${parsed.text.slice(0, 200_000)}</pre>` : html`<p class="muted">No plain-text part.</p>`}
${parsed.html ? html`<h2>HTML part</h2><p class="muted">Shown in a sandbox: no scripts, no remote images, no forms.</p><iframe class="mail" sandbox="" src="/inbox/${mb.id}/${m.uid}/html" title="the HTML part of the message"></iframe>` : ''}
${journey ? html`<h2>How it got here</h2>${journey.view}` : ''}`);
  });

  // The HTML part alone, for the sandboxed frame: its own CSP allows inline styles and data: images only.
  app.get('/inbox/:mailbox/:uid/html', { config: { access: 'user' } }, async (req, reply) => {
    const mb = await ownBox(req);
    const o = mine(req);
    const m = mb ? await ownMessage(o, mb.id, (req.params as { uid: string }).uid) : null;
    if (!mb || !m) return reply.code(404).send({ error: 'not found' });
    const raw = await o.store.messages.raw(m.blobId);
    const parsed = await simpleParser(raw.length > MAX_BODY ? raw.subarray(0, MAX_BODY) : raw, { skipImageLinks: true, skipTextToHtml: true, skipTextLinks: true });
    reply.header('content-security-policy', "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; frame-ancestors 'self'");
    reply.header('x-frame-options', 'SAMEORIGIN');
    return reply.type('text/html; charset=utf-8').send(typeof parsed.html === 'string' ? parsed.html : '');
  });
}
