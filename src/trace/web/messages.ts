// The message list (the newest journeys, one line per message across every post office) and one
// message's journey: the path drawn as a picture, then every step told as a sentence.
import type { FastifyInstance } from 'fastify';
import { decodeMimeWords } from '../../mail/mime.js';
import type { JourneySummary } from '../../store/index.js';
import { joinedTrace, type OfficeRow } from '../journey.js';
import { explain, role } from '../story.js';
import { flashOf, type Dashboard } from './context.js';
import { ago, fmtTime, html, rel, seg, type Html } from './html.js';
import { isFailedStep, journeyPath, renderPath, smtpSid, transcriptHref, type SessionFacts } from './picture.js';

export interface MessageLine {
  key: string; messageId: string | null; subject: string | null; offices: string[]; msgIds: { office: string; msgId: string }[];
  first: number; last: number; lastStep: string; lastAgent: string; lastOffice: string; steps: number;
}

/** The newest messages of every office, one line per Message-ID (a relayed mail has a journey at both ends). */
export async function messageLines(dash: Dashboard, limit: number, beforeTime?: number): Promise<MessageLine[]> {
  const per = await Promise.all(dash.offices.map(async (o) => ({ o, rows: await o.store.journey.recent({ limit, ...(beforeTime ? { beforeTime } : {}) }) })));
  const byKey = new Map<string, MessageLine>();
  for (const { o, rows } of per) {
    for (const r of (rows as JourneySummary[]).map((x) => ({ ...x, subject: x.subject ? decodeMimeWords(x.subject) : null }))) {
      const key = r.messageId ? `mid:${r.messageId}` : `id:${o.name}/${r.msgId}`;
      const m = byKey.get(key);
      if (!m) {
        byKey.set(key, { key, messageId: r.messageId, subject: r.subject, offices: [o.name], msgIds: [{ office: o.name, msgId: r.msgId }], first: r.first, last: r.last, lastStep: r.lastStep, lastAgent: r.lastAgent, lastOffice: o.name, steps: r.steps });
        continue;
      }
      if (!m.offices.includes(o.name)) m.offices.push(o.name);
      m.msgIds.push({ office: o.name, msgId: r.msgId });
      m.subject ??= r.subject;
      m.first = Math.min(m.first, r.first);
      m.steps += r.steps;
      if (r.last >= m.last) Object.assign(m, { last: r.last, lastStep: r.lastStep, lastAgent: r.lastAgent, lastOffice: o.name });
    }
  }
  return [...byKey.values()].sort((a, b) => b.last - a.last).slice(0, limit);
}

export const messageHref = (m: { messageId: string | null; msgIds: { msgId: string }[] }) => `/messages/${seg(m.messageId ?? m.msgIds[0].msgId)}`;

export function roleTag(agent: string): Html {
  const r = role({ agent: agent as OfficeRow['agent'] });
  return html`<span class="tag ${r}" title="${agent}">${r}</span>`;
}

export function stepTag(step: string): Html {
  return html`<span class="tag ${isFailedStep(step) ? 'bad' : 'plain'}">${step}</span>`;
}

export function messageTable(lines: MessageLine[], now = Date.now()): Html {
  if (!lines.length) return html`<p class="muted">No messages yet. Send one (for instance with <code>postoffice lab send</code>) and it appears here by itself.</p>`;
  return html`<table class="messages"><thead><tr><th>Last step</th><th>Subject</th><th>Message-ID</th><th>Post offices</th><th>Steps</th><th>When</th></tr></thead><tbody>
${lines.map((m) => html`<tr data-key="${m.key}|${m.last}">
  <td>${roleTag(m.lastAgent)} ${stepTag(m.lastStep)} <span class="muted">at ${m.lastOffice}</span></td>
  <td><a href="${messageHref(m)}">${m.subject || '(no subject)'}</a></td>
  <td class="mono muted">${m.messageId ?? m.msgIds[0].msgId}</td>
  <td>${m.offices.join(' → ')}</td>
  <td>${m.steps}</td>
  <td title="${fmtTime(m.last)}">${ago(m.last, now)}</td></tr>`)}
</tbody></table>`;
}

const HIDE = new Set(['transcript']);
function detailText(d: Record<string, unknown>): string {
  return Object.entries(d).filter(([k, v]) => !HIDE.has(k) && v !== null && v !== undefined && !(Array.isArray(v) && !v.length))
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ');
}

/** the transcript a journey row points at, if any */
export function rowSession(r: OfficeRow): string | null {
  const d = r.details;
  if (typeof d.sid === 'string' && d.sid) return d.sid;
  if (typeof d.session === 'string' && d.session) return d.session;
  if (r.agent === 'MTA in' && r.step === 'received') return smtpSid(r.msgId);
  if (r.agent === 'MUA' && r.step === 'submitted') return smtpSid(r.msgId);
  return null;
}

export function stepsTable(rows: OfficeRow[], links: boolean): Html {
  const t0 = rows[0]?.time ?? 0;
  const sentence = (r: OfficeRow) => { try { return explain(r); } catch { return detailText(r.details); } };
  return html`<table class="steps"><thead><tr><th>Time</th><th>Post office</th><th>Role</th><th>Step</th><th>What happened</th><th></th></tr></thead><tbody>
${rows.map((r) => {
    const sid = rowSession(r);
    return html`<tr class="${isFailedStep(r.step) ? 'failed' : ''}" data-key="${r.office}/${r.msgId}/${r.id}/${r.step}/${r.time}">
  <td class="mono" title="${fmtTime(r.time)}">${rel(r.time, t0)}</td><td>${r.office}</td><td>${roleTag(r.agent)}</td><td>${stepTag(r.step)}</td>
  <td class="sentence">${sentence(r)}<details><summary class="muted">details</summary><code>${detailText(r.details)}</code>${Array.isArray(r.details.transcript) ? html`<pre class="mono">${(r.details.transcript as unknown[]).map(String).join('\n')}</pre>` : ''}</details></td>
  <td>${links && sid ? html`<a href="${transcriptHref(r.office, sid)}">transcript</a>` : ''}</td></tr>`;
  })}
</tbody></table>`;
}

/**
 * A journey as one of its recipients may see it (their web inbox): the steps for other recipients
 * are left out and recipient lists cut to them, so that a Bcc stays blind. The sender sees all.
 */
export function forRecipient(rows: OfficeRow[], address: string): OfficeRow[] {
  const me = address.toLowerCase();
  const sender = rows.some((r) => (r.step === 'submitted' && String(r.details.user ?? '').toLowerCase() === me));
  if (sender) return rows;
  const mine = (v: unknown) => String(v ?? '').toLowerCase() === me;
  const out: OfficeRow[] = [];
  for (const r of rows) {
    const d = r.details;
    if ((r.agent === 'MDA' || r.agent === 'MUA access') && typeof d.user === 'string' && !mine(d.user)) continue;
    if (typeof d.rcpt === 'string' && !mine(d.rcpt)) continue;
    const details: Record<string, unknown> = { ...d };
    delete details.transcript; // the SMTP dialogue names every recipient
    for (const k of ['rcptTo', 'rcpts']) {
      if (Array.isArray(d[k])) details[k] = (d[k] as unknown[]).map((x) => String(x).split(' ')[0]).filter(mine);
    }
    out.push({ ...r, details });
  }
  return out;
}

/** The picture and the steps of one message (also shown in a user's own web inbox, without transcript links and only their part). */
export async function journeyView(dash: Dashboard, id: string, links: boolean, viewer?: string): Promise<{ rows: OfficeRow[]; view: Html }> {
  const all = await joinedTrace(dash.offices, id);
  const rows = viewer ? forRecipient(all, viewer) : all;
  if (!rows.length) return { rows, view: html`<p class="muted">No journey recorded for this message.</p>` };
  const offices = dash.offices.map((o) => ({ name: o.name, hostname: o.hostname, listeners: o.listeners() }));
  // the reading sessions' protocol, port and TLS come from their transcripts (when recorded)
  const facts: SessionFacts = new Map();
  await Promise.all(dash.offices.map(async (o) => {
    const ids = [...new Set(rows.filter((r) => r.office === o.name && r.agent === 'MUA access').map((r) => r.msgId))];
    for (const msgId of ids) {
      for (const t of await o.store.transcripts.list({ limit: 50, msgId })) facts.set(`${o.name}/${t.sid}`, { protocol: t.protocol, local: t.local, tls: t.tls });
    }
  }));
  const path = journeyPath(rows, offices, (office, sid) => (links ? transcriptHref(office, sid) : null), facts, (id) => (links ? `/messages/${seg(id)}` : null));
  const recv = rows.find((r) => r.step === 'received');
  const failed = rows.filter((r) => isFailedStep(r.step)).length;
  return {
    rows,
    view: html`
<div class="panel">
  <dl class="kv">
    ${recv ? html`<dt>Envelope</dt><dd>MAIL FROM <code>&lt;${String(recv.details.mailFrom ?? '')}&gt;</code> → RCPT TO ${(Array.isArray(recv.details.rcptTo) ? recv.details.rcptTo : []).map((x) => html`<code>&lt;${String(x)}&gt;</code> `)}</dd>` : ''}
    <dt>Our ids</dt><dd class="mono">${[...new Map(rows.map((r) => [`${r.office}/${r.msgId}`, r])).values()].map((r, i) => html`${i ? ', ' : ''}${links
      ? html`<a href="/sessions?office=${seg(r.office)}&amp;msgId=${seg(r.msgId)}" title="the sessions that carried it at ${r.office}">${r.msgId}</a>` : r.msgId} (${r.office})`)}</dd>
    <dt>Started</dt><dd>${fmtTime(rows[0].time)} UTC, ${rows.length} steps over ${rel(rows[rows.length - 1].time, rows[0].time).slice(1)}${failed ? html`, <span class="bad">${failed} failed</span>` : ''}</dd>
  </dl>
</div>
<h2>The path</h2>
<p class="legend">Boxes are the agents of the mail path: <span class="tag MUA">MUA</span> a mail client, <span class="tag MTA">MTA</span> a transfer agent (SMTP server), <span class="tag MDA">MDA</span> the store that files it into a mailbox. Arrows are the hops: protocol, port, TLS and the time since the first step${links ? '; click one to read its protocol transcript' : ''}. Failed attempts are red and dashed.</p>
<div class="panel">${renderPath(path)}</div>
<h2>Step by step</h2>
${stepsTable(rows, links)}`,
  };
}

export function registerMessages(app: FastifyInstance, dash: Dashboard): void {
  app.get('/messages', async (req, reply) => {
    const before = Number((req.query as Record<string, string | undefined>).before) || undefined;
    const PAGE = 100;
    const lines = await messageLines(dash, PAGE, before);
    const older = lines.length === PAGE ? Math.min(...lines.map((m) => m.last)) : null;
    return dash.send(req, reply, { title: 'Messages', section: '/messages', live: true, flash: flashOf(req) }, html`
<h1>Messages</h1>
<p class="lead">Every message the post office${dash.offices.length > 1 ? 's' : ''} handled, newest first, with the last step of its journey. Open one to see the path it took. New mail appears here by itself.</p>
<div id="live">${messageTable(lines)}</div>
<p>${before ? html`<a href="/messages">← newest</a> ` : ''}${older ? html`<a href="/messages?before=${older}">older →</a>` : ''}</p>`);
  });

  app.get('/messages/:id', async (req, reply) => {
    const id = (req.params as { id: string }).id;
    const { rows, view } = await journeyView(dash, id, true);
    const subject = (await messageLines(dash, 200)).find((m) => m.messageId && rows.some((r) => r.messageId === m.messageId))?.subject ?? null;
    return dash.send(req, reply, { title: `Journey of ${subject ?? id}`, section: '/messages', live: true }, html`
<p><a href="/messages">← Messages</a></p>
<h1>Journey of ${subject ? html`“${subject}”` : html`<span class="mono">${id}</span>`}</h1>
<p class="lead mono">${rows.find((r) => r.messageId)?.messageId ?? id}</p>
<div id="live">${view}</div>`, rows.length ? 200 : 404);
  });
}
