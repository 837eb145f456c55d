// A message's journey drawn as the path it took: boxes for the agents (MUA, MTA, MTA, MDA, MUA)
// with their hosts, and between them the hops: protocol, port, TLS and time, one line per
// attempt (failed ones in red), each a link to the transcript of the session that carried it.
import type { OfficeRow } from '../journey.js';
import { html, rel, seg, type Html } from './html.js';

export interface PictureOffice { name: string; hostname: string; listeners: { name: string; port: number; state: string }[] }

export interface Station { role: 'MUA' | 'MTA' | 'MDA'; name: string; sub: string[]; failed?: boolean }
export interface Attempt { proto: string; lines: string[]; when: string; failed: boolean; href: string | null; title: string }
export interface Hop { attempts: Attempt[] }
export interface Path { stations: Station[]; hops: Hop[] }

const str = (v: unknown): string => (v === null || v === undefined ? '' : String(v));
/** the SMTP session id in our transaction id "sid.n" */
export const smtpSid = (msgId: string) => msgId.replace(/\.\d+$/, '');
/** "250 2.6.0 Ok: queued as ..." -> "250" */
const replyCode = (v: unknown): string | null => /^([2-5]\d\d)\b/.exec(str(v))?.[1] ?? null;
const FAILED_STEPS = /fail|deferred|bounce|refused|rejected|error|loop|expired/i;
const PROTO: Record<string, string> = { smtp: 'SMTP', submission: 'SMTP submission', smtps: 'SMTPS', imap: 'IMAP', imaps: 'IMAPS', pop3: 'POP3', pop3s: 'POP3S' };

/** Builds the stations and hops from the joined rows of every post office. */
/** what the transcripts say about a session (protocol, our end, TLS), by `${office}/${sid}` */
export type SessionFacts = Map<string, { protocol: string; local: string | null; tls: string | null }>;

export function journeyPath(
  rows: OfficeRow[], offices: PictureOffice[], link: (office: string, sid: string) => string | null, sessions: SessionFacts = new Map(),
  journeyHref: (id: string) => string | null = () => null,
): Path {
  const stations: Station[] = [];
  const hops: Hop[] = [];
  if (rows.length === 0) return { stations, hops };
  const t0 = rows[0].time;
  const order = [...new Set(rows.map((r) => r.office))];
  const office = (name: string) => offices.find((o) => o.name === name);
  const portOf = (name: string, listener: string) => office(name)?.listeners.find((l) => l.name === listener && l.state === 'listening')?.port ?? null;
  const add = (hop: Hop | null, st: Station) => {
    if (stations.length > 0) hops.push(hop ?? { attempts: [] });
    stations.push(st);
  };
  let pendingHop: Hop | null = null;

  for (const [i, name] of order.entries()) {
    const R = rows.filter((r) => r.office === name);
    const host = office(name)?.hostname ?? name;
    const received = R.find((r) => r.agent === 'MTA in' && r.step === 'received');
    const submitted = R.find((r) => r.agent === 'MUA' && r.step === 'submitted');
    const inHop = (r: OfficeRow): Hop => {
      const d = r.details;
      const listener = str(d.listener);
      const port = portOf(name, listener);
      return {
        attempts: [{
          proto: PROTO[listener] ?? (listener.toUpperCase() || 'SMTP'),
          lines: [port ? `port ${port}` : '', d.tls ? str(d.tls).split(' ')[0] : 'no TLS', replyCode(d.reply) ? `${replyCode(d.reply)} accepted` : ''].filter(Boolean),
          when: rel(r.time, t0), failed: false, href: link(name, str(d.sid) || smtpSid(r.msgId)),
          title: `${listener}: ${str(d.client)} -> ${host}${d.tls ? `, ${str(d.tls)}` : ''}`,
        }],
      };
    };
    // where the mail came from: a mail client (submission) or another MTA that is not ours
    if (i === 0 && submitted) add(null, { role: 'MUA', name: str(submitted.details.user) || 'sender', sub: ['mail client (sender)', `from ${str(submitted.details.client)}`] });
    else if (i === 0 && received) add(null, { role: 'MTA', name: str(received.details.helo) || str(received.details.client), sub: ['sending MTA', `from ${str(received.details.client)}`] });
    const hasMta = R.some((r) => r.agent === 'MTA in' || r.agent === 'MTA out');
    // the hop into this MTA: the previous post office's relay attempts, else how it was received
    if (hasMta) add(pendingHop ?? (received ? inHop(received) : null), { role: 'MTA', name: host, sub: [`${name}: mail transfer agent`] });
    pendingHop = null;

    // MTA out: one line per attempt (the steps after each "attempt" row)
    const out = R.filter((r) => r.agent === 'MTA out');
    const attempts: Attempt[] = [];
    let lastHost = '';
    let delivered = false;
    let reached = false;
    let lastReply = '';
    let cur: { start: OfficeRow; rows: OfficeRow[] } | null = null;
    const flush = () => {
      if (!cur) return;
      const c = cur.rows.find((r) => r.step === 'connected');
      const cf = cur.rows.find((r) => r.step === 'connect failed');
      const end = [...cur.rows].reverse().find((r) => ['delivered', 'deferred', 'bounced', 'expired', 'mail loop', 'auth failed'].includes(r.step));
      const dns = cur.rows.find((r) => r.step === 'dns' || r.step === 'smarthost');
      const d = (c ?? cf)?.details ?? {};
      if (d.host) lastHost = str(d.host);
      if (c) reached = true;
      if (end?.details.reply) lastReply = str(end.details.reply);
      const failed = !end || end.step !== 'delivered';
      if (!failed) delivered = true;
      const sid = str((c ?? cf ?? end)?.details.sid) || str(cur.rows.find((r) => r.details.sid)?.details.sid);
      attempts.push({
        proto: `SMTP attempt ${str(cur.start.details.attempt) || attempts.length + 1}`,
        lines: [
          d.port ? `port ${str(d.port)}` : (dns && dns.details.result && dns.details.result !== 'hosts' ? `DNS: ${str(dns.details.result)}` : ''),
          c ? (d.tls ? str(d.tls).split(' ')[0] : 'no TLS') : cf ? 'no connection' : '',
          end ? `${replyCode(end.details.reply) ?? ''} ${end.step}`.trim() : 'in progress',
        ].filter(Boolean),
        when: rel(cur.start.time, t0), failed, href: sid ? link(name, sid) : null,
        title: [(c ?? cf) ? `${host} -> ${str(d.host)} [${str(d.ip)}]:${str(d.port)}` : '', end?.details.reply ? str(end.details.reply) : '', cf ? str(cf.details.error) : ''].filter(Boolean).join(' · '),
      });
      cur = null;
    };
    for (const r of out) {
      if (r.step === 'attempt') { flush(); cur = { start: r, rows: [] }; continue; }
      if (cur) cur.rows.push(r);
    }
    flush();
    const next = order[i + 1];
    if (attempts.length) {
      const hop: Hop = { attempts };
      if (next && rows.some((r) => r.office === next && r.agent === 'MTA in')) pendingHop = hop;
      else {
        // the next MTA: one of ours that recorded nothing (it refused before DATA), or another server
        const ours = offices.find((o) => o.hostname === lastHost);
        const code = replyCode(lastReply);
        const what = delivered ? 'took the mail' : !reached ? 'not reached' : code?.startsWith('5') ? `refused it (${code})` : `said try later${code ? ` (${code})` : ''}`;
        add(hop, { role: 'MTA', name: lastHost || 'remote MX', sub: [`${ours ? `${ours.name}: ` : ''}receiving MTA`, what], failed: !delivered });
      }
    }

    // MDA: stored into a mailbox here
    const stored = R.filter((r) => r.agent === 'MDA' && r.step === 'stored');
    if (stored.length && !pendingHop) {
      const s = stored[0];
      add({ attempts: [{ proto: 'local delivery', lines: [`${str(s.details.mailbox) || 'INBOX'} uid ${str(s.details.uid)}`, 'same transaction'], when: rel(s.time, t0), failed: false, href: null, title: 'the MDA stores the message in the recipient\'s mailbox' }] },
        { role: 'MDA', name: host, sub: stored.map((x) => `${str(x.details.user)} · ${str(x.details.mailbox) || 'INBOX'}`) });
      // MDA <- MUA: the recipient's client fetched it (IMAP) or retrieved it (POP3)
      const access = R.filter((r) => r.agent === 'MUA access' && (r.step === 'fetched' || r.step === 'retrieved'));
      if (access.length) {
        const bySession = new Map<string, OfficeRow>();
        for (const a of access) if (!bySession.has(str(a.details.session))) bySession.set(str(a.details.session), a);
        const users = [...new Set(access.map((a) => str(a.details.user)))];
        add({
          attempts: [...bySession.values()].map((a) => {
            const f = sessions.get(`${name}/${str(a.details.session)}`);
            const port = f?.local?.split(':').pop();
            return {
            proto: a.step === 'retrieved' ? `${f?.protocol.toUpperCase() ?? 'POP3'} RETR` : `${f?.protocol.toUpperCase() ?? 'IMAP'} FETCH`,
            lines: [port ? `port ${port}` : '', f ? (f.tls ? f.tls.split(' ')[0] : 'no TLS') : '', a.details.client ? `client ${str(a.details.client)}` : ''].filter(Boolean),
            when: rel(a.time, t0), failed: false, href: a.details.session ? link(name, str(a.details.session)) : null,
            title: `${a.step} by ${str(a.details.user)}`,
          };
          }),
        }, { role: 'MUA', name: users.join(', '), sub: ['mail client (recipient)', 'reads the mail'] });
      }
    }
  }
  // a report back to the sender (RFC 3464): a bounce, a delay warning or a success report
  for (const r of rows.filter((x) => /^(bounce|delay warning|success report) sent$/.test(x.step))) {
    const to = str(r.details.to);
    const local = offices.find((o) => to.endsWith(`@${o.name}`));
    const kind = r.step.replace(/ sent$/, '');
    add({
      attempts: [{
        proto: `${kind} (DSN)`, lines: ['RFC 3464 report', to ? `to ${to}` : ''].filter(Boolean), when: rel(r.time, t0),
        failed: false, href: r.details.dsn ? journeyHref(str(r.details.dsn)) : null, title: `${r.office} sends a ${kind} report to the sender`,
      }],
    }, local
      ? { role: 'MDA', name: local.hostname, sub: [to, 'the report lands in the sender\'s INBOX'] }
      : { role: 'MTA', name: to.split('@')[1] ?? 'the sender', sub: ['the report is relayed to the sender'] });
  }
  return { stations, hops };
}

export function renderPath(p: Path): Html {
  if (!p.stations.length) return html`<p class="muted">No steps recorded for this message.</p>`;
  const station = (s: Station) => html`<div class="station ${s.role}${s.failed ? ' failed' : ''}"><div class="role">${s.role}</div><div class="name">${s.name.split('@').map((x, i) => html`${i ? html`@<wbr>` : ''}${x}`)}</div>${s.sub.map((x) => html`<div class="sub">${x}</div>`)}</div>`;
  const attempt = (a: Attempt) => {
    const inner = html`<span class="proto">${a.proto}</span><br>${a.lines.map((l, i) => html`${i ? html`<br>` : ''}${l}`)}<div class="arrow"></div><span class="when">${a.when}</span>`;
    return a.href
      ? html`<a class="attempt${a.failed ? ' failed' : ''}" href="${a.href}" title="${a.title} — open the transcript">${inner}</a>`
      : html`<span class="attempt${a.failed ? ' failed' : ''}" title="${a.title}">${inner}</span>`;
  };
  const parts: Html[] = [];
  p.stations.forEach((s, i) => {
    if (i > 0) parts.push(html`<div class="hop">${p.hops[i - 1].attempts.map(attempt)}</div>`);
    parts.push(station(s));
  });
  return html`<div class="journey" id="journey-picture" role="img" aria-label="${p.stations.map((s) => `${s.role} ${s.name}`).join(' -> ')}">${parts}</div>`;
}

export const isFailedStep = (step: string) => FAILED_STEPS.test(step);
export const transcriptHref = (office: string, sid: string) => `/sessions/${seg(office)}/${seg(sid)}`;
