// The overview: per post office, its listeners and open connections, the mail counted since the
// process started (received, stored, relayed, deferred, bounced), the queue, and recent failures.
import type { FastifyInstance } from 'fastify';
import { metrics } from '../../log/metrics.js';
import { flashOf, type Dashboard } from './context.js';
import { ago, fmtTime, html, seg, type Html } from './html.js';
import { messageHref, messageLines, roleTag, stepTag } from './messages.js';
import { isFailedStep } from './picture.js';

const LISTENER: Record<string, string> = {
  smtp: 'SMTP: MTA in (the MX port)', submission: 'Submission: mail clients send (STARTTLS + AUTH)', smtps: 'Submission over TLS',
  imap: 'IMAP: mail clients read (STARTTLS)', imaps: 'IMAPS', pop3: 'POP3 (STLS)', pop3s: 'POP3S', http: 'HTTP: this dashboard',
  https: 'HTTPS: this dashboard over TLS (MTA-STS policy)',
};

/** a counter's value for one office (the label is the office's hostname) */
async function counted(m: { get(): Promise<{ values: { value: number; labels: Record<string, unknown> }[] }> }, office: string): Promise<number> {
  return (await m.get()).values.filter((v) => v.labels.office === office).reduce((n, v) => n + v.value, 0);
}

export function registerOverview(app: FastifyInstance, dash: Dashboard): void {
  app.get('/', async (req, reply) => {
    const now = Date.now();
    const lines = await messageLines(dash, 200);
    const panels: Html[] = [];
    for (const o of dash.offices) {
      const [queue, received, delivered, relayed, deferred, bounced] = await Promise.all([
        o.store.queue.list(), counted(metrics.received, o.hostname), counted(metrics.delivered, o.hostname),
        counted(metrics.relayed, o.hostname), counted(metrics.deferred, o.hostname), counted(metrics.bounced, o.hostname),
      ]);
      const waiting = queue.filter((e) => e.status === 'queued');
      const open = new Map((await metrics.listenerConnections.get()).values.filter((v) => v.labels.office === o.hostname).map((v) => [String(v.labels.listener), v.value]));
      const listeners = o.listeners();
      panels.push(html`<section class="panel" data-key="${o.name}">
<h2 style="margin-top:0">${o.name} <span class="muted mono" style="font-size:.85rem">${o.hostname}${o.listen ? ` · ${o.listen}` : ''}</span></h2>
<div class="stats">
  <div class="stat"><b>${o.limiter ? o.limiter.open : '–'}</b><span>connections now</span></div>
  <div class="stat"><b>${received}</b><span>received</span></div>
  <div class="stat"><b>${delivered}</b><span>stored (MDA)</span></div>
  <div class="stat"><b>${relayed}</b><span>relayed out</span></div>
  <div class="stat"><b class="${deferred ? 'bad' : ''}">${deferred}</b><span>deferred</span></div>
  <div class="stat"><b class="${bounced ? 'bad' : ''}">${bounced}</b><span>bounced</span></div>
  <div class="stat"><b><a href="/queue">${waiting.length}</a></b><span>in the queue</span></div>
</div>
<p class="muted" style="font-size:.8rem;margin:.2rem 0 .6rem">Counted since this process started; the same numbers are at <code>/metrics</code>.</p>
<table><thead><tr><th>Listener</th><th>Port</th><th>Open now</th><th>What it is for</th></tr></thead><tbody>
${listeners.map((l) => html`<tr><td><b>${l.name}</b></td><td>${l.state !== 'listening' ? html`<span class="muted">off</span>`
    : l.name === 'http' ? html`<span class="mono">${req.headers.host ?? l.port}</span>` : html`<span class="mono">${o.listen ?? ''}${o.listen ? ':' : ''}${l.port}</span>`}</td>
  <td>${l.name === 'http' ? '' : open.get(l.name) ?? 0}</td><td class="muted">${LISTENER[l.name] ?? ''}</td></tr>`)}
</tbody></table>
${waiting.filter((e) => e.lastReply).length ? html`<h3>Waiting after a failed attempt</h3><ul>${waiting.filter((e) => e.lastReply).slice(0, 5).map((e) => html`<li><a class="mono" href="/messages/${seg(e.msgId)}">${e.msgId}</a> to ${e.domain}: <span class="bad">${e.lastReply}</span>, next try ${e.nextAttempt <= now ? 'now' : `in ${Math.round((e.nextAttempt - now) / 1000)} s`}</li>`)}</ul>` : ''}
</section>`);
    }
    const failures = lines.filter((m) => isFailedStep(m.lastStep)).slice(0, 10);
    return dash.send(req, reply, { title: 'Overview', section: '/', live: true, flash: flashOf(req) }, html`
<h1>Overview</h1>
<p class="lead">${dash.offices.length > 1 ? `${dash.offices.length} post offices run in this process.` : 'One post office.'} A message goes MUA → MTA → MTA → MDA ← MUA: a mail client submits it, transfer agents relay it by MX, the delivery agent files it, and the recipient's client fetches it. Open <a href="/messages">Messages</a> to watch one travel.</p>
<div id="live">
<div class="grid">${panels}</div>
<h2>Recent failures</h2>
${failures.length ? html`<table><tbody>${failures.map((m) => html`<tr data-key="${m.key}|${m.last}"><td>${roleTag(m.lastAgent)} ${stepTag(m.lastStep)}</td><td><a href="${messageHref(m)}">${m.subject || '(no subject)'}</a></td><td>${m.lastOffice}</td><td title="${fmtTime(m.last)}">${ago(m.last, now)}</td></tr>`)}</tbody></table>` : html`<p class="muted">None: every recent message's last step went well.</p>`}
<h2>Latest messages</h2>
${lines.length ? html`<table><tbody>${lines.slice(0, 8).map((m) => html`<tr data-key="${m.key}|${m.last}"><td>${roleTag(m.lastAgent)} ${stepTag(m.lastStep)}</td><td><a href="${messageHref(m)}">${m.subject || '(no subject)'}</a></td><td>${m.offices.join(' → ')}</td><td title="${fmtTime(m.last)}">${ago(m.last, now)}</td></tr>`)}</tbody></table>` : html`<p class="muted">No mail yet.</p>`}
</div>`);
  });
}
