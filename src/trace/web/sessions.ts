// Protocol sessions (SMTP in and out, IMAP, POP3) and their transcripts: C: what the client sent,
// S: what the server answered, TLS: the handshake, with the time of every line. Passwords and AUTH
// payloads were replaced by *** in the session itself, before anything was stored.
import type { FastifyInstance } from 'fastify';
import type { TranscriptSummary } from '../../store/index.js';
import { flashOf, type Dashboard } from './context.js';
import { ago, fmtBytes, fmtTime, html, seg, type Html } from './html.js';
import { transcriptHref } from './picture.js';

export interface SessionLine extends TranscriptSummary { office: string }

const PROTO_ROLE: Record<string, string> = {
  smtp: 'MTA in', submission: 'MTA in (submission)', smtps: 'MTA in (submission)', relay: 'MTA out', imap: 'MDA ← MUA', imaps: 'MDA ← MUA', pop3: 'MDA ← MUA', pop3s: 'MDA ← MUA',
};

export async function sessionLines(dash: Dashboard, limit: number, filter: { office?: string; msgId?: string; before?: number } = {}): Promise<SessionLine[]> {
  const offices = filter.office ? dash.offices.filter((o) => o.name === filter.office) : dash.offices;
  const per = await Promise.all(offices.map(async (o) => (await o.store.transcripts.list({
    limit, ...(filter.msgId ? { msgId: filter.msgId } : {}), ...(filter.before ? { beforeStarted: filter.before } : {}),
  })).map((s) => ({ ...s, office: o.name }))));
  return per.flat().sort((a, b) => b.started - a.started).slice(0, limit);
}

export function sessionTable(rows: SessionLine[], now = Date.now()): Html {
  if (!rows.length) return html`<p class="muted">No sessions recorded. Transcripts are kept when the config key <code>transcripts</code> is <code>on</code> (<code>POSTOFFICE_TRANSCRIPTS=on</code>; the lab turns it on).</p>`;
  return html`<table class="sessions"><thead><tr><th>Started</th><th>Post office</th><th>Protocol</th><th>Peer</th><th>User</th><th>TLS</th><th>Lines</th><th>Messages</th></tr></thead><tbody>
${rows.map((s) => html`<tr data-key="${s.office}/${s.sid}/${s.ended ?? 'open'}/${s.lines}">
  <td title="${fmtTime(s.started)}"><a href="${transcriptHref(s.office, s.sid)}">${ago(s.started, now)}</a>${s.ended ? '' : html` <span class="tag plain">open</span>`}</td>
  <td>${s.office}</td>
  <td><b>${s.protocol}</b> <span class="muted">${PROTO_ROLE[s.protocol] ?? ''}</span></td>
  <td class="mono">${s.remote ?? ''}</td><td>${s.user ?? ''}</td>
  <td>${s.tls ? html`<span class="ok" title="${s.tls}">${s.tls.split(' ')[0]}</span>` : html`<span class="muted">none</span>`}</td>
  <td>${s.lines} <span class="muted">(${fmtBytes(s.bytes)})</span></td>
  <td>${s.msgIds.slice(0, 3).map((m) => html`<a class="mono" href="/messages/${seg(m)}">${m}</a> `)}${s.msgIds.length > 3 ? `+${s.msgIds.length - 3}` : ''}</td></tr>`)}
</tbody></table>`;
}

export function registerSessions(app: FastifyInstance, dash: Dashboard): void {
  app.get('/sessions', async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    const before = Number(q.before) || undefined;
    const PAGE = 100;
    const rows = await sessionLines(dash, PAGE, { office: q.office, msgId: q.msgId, before });
    const older = rows.length === PAGE ? rows[rows.length - 1].started : null;
    const keep = new URLSearchParams(Object.entries({ office: q.office, msgId: q.msgId }).filter((e): e is [string, string] => !!e[1]));
    return dash.send(req, reply, { title: 'Sessions', section: '/sessions', live: true, flash: flashOf(req) }, html`
<h1>Sessions</h1>
<p class="lead">Every connection to or from the post office${dash.offices.length > 1 ? 's' : ''}: SMTP from clients and other MTAs, SMTP out (relay) to the next MX, IMAP and POP3 from mail clients. Open one to read the conversation line by line.</p>
<p>${[['', 'all post offices'], ...dash.offices.map((o) => [o.name, o.name])].map(([v, label], i) => html`${i ? ' · ' : ''}${(q.office ?? '') === v && !q.msgId ? html`<b>${label}</b>` : html`<a href="/sessions${v ? `?office=${encodeURIComponent(v)}` : ''}">${label}</a>`}`)}${q.msgId ? html` · only the sessions of <span class="mono">${q.msgId}</span>` : ''}</p>
<div id="live">${sessionTable(rows)}</div>
<p>${before ? html`<a href="/sessions?${keep.toString()}">← newest</a> ` : ''}${older ? html`<a href="/sessions?${new URLSearchParams([...keep, ['before', String(older)]]).toString()}">older →</a>` : ''}</p>`);
  });

  app.get('/sessions/:office/:sid', async (req, reply) => {
    const { office, sid } = req.params as { office: string; sid: string };
    const o = dash.office(office);
    const t = o ? await o.store.transcripts.get(sid) : null;
    if (!o || !t) {
      return dash.send(req, reply, { title: 'No such session', section: '/sessions' }, html`<p><a href="/sessions">← Sessions</a></p><h1>No such session</h1>
        <p class="lead">No transcript <code>${sid}</code> at ${office}: it was not recorded (config <code>transcripts</code> off) or it was pruned (<code>transcriptRetention</code>).</p>`, 404);
    }
    const t0 = t.started;
    const line = (l: { t: number; dir: string; text: string }) => {
      const err = l.dir === 'S' && /^[45]\d\d[ -]/.test(l.text);
      return html`<div class="l ${l.dir}${err ? ' err' : ''}"><span class="t">+${((l.t - t0) / 1000).toFixed(3)}</span><span class="d">${l.dir === 'note' ? '··' : `${l.dir}:`}</span><span class="x">${l.text}</span></div>`;
    };
    return dash.send(req, reply, { title: `${t.protocol} session ${sid}`, section: '/sessions', live: !t.ended }, html`
<p><a href="/sessions">← Sessions</a></p>
<h1>${t.protocol.toUpperCase()} session <span class="mono">${sid}</span> <span class="muted" style="font-size:1rem">at ${office}</span></h1>
<div id="live">
<div class="panel"><dl class="kv">
  <dt>Role</dt><dd>${PROTO_ROLE[t.protocol] ?? t.protocol}</dd>
  <dt>Our end</dt><dd class="mono">${t.local ?? ''}</dd><dt>Peer</dt><dd class="mono">${t.remote ?? ''}</dd>
  <dt>User</dt><dd>${t.user ?? html`<span class="muted">not signed in</span>`}</dd>
  <dt>TLS</dt><dd>${t.tls ?? html`<span class="muted">none (plain text on the wire)</span>`}</dd>
  <dt>Time</dt><dd>${fmtTime(t.started)} UTC${t.ended ? `, ${((t.ended - t.started) / 1000).toFixed(3)} s` : html` <span class="tag plain">still open</span>`}</dd>
  <dt>Messages</dt><dd>${t.msgIds.length ? t.msgIds.map((m) => html`<a class="mono" href="/messages/${seg(m)}">${m}</a> `) : html`<span class="muted">none</span>`}</dd>
</dl></div>
<p class="legend"><span style="color:#2f6fdb">C:</span> the client · <span style="color:#2f855a">S:</span> the server · <span style="color:#b7791f">TLS</span> the handshake · times in seconds from the connection. Passwords and AUTH data show as ***.</p>
<div class="transcript" id="transcript">${t.lines.map(line)}${t.truncated ? html`<div class="l note"><span class="t"></span><span class="d">··</span><span class="x">(transcript cut here: the store keeps at most a bounded number of lines per session)</span></div>` : ''}</div>
</div>`);
  });
}
