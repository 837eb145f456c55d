// Lab: the journey told as a story. One sentence per journey row: which role acted (MUA, MTA,
// MDA), at which post office, what it did and why, in the words of the RFCs. `postoffice lab`
// prints these lines as the hops happen; the dashboard shows the same sentences beside its picture.
import type { OfficeRow } from './journey.js';

/** The role of the mail path that recorded a row: MUA (a mail client), MTA (a transfer agent), MDA (the store). */
export type Role = 'MUA' | 'MTA' | 'MDA';

export function role(row: Pick<OfficeRow, 'agent'>): Role {
  switch (row.agent) {
    case 'MUA': case 'MUA access': return 'MUA';
    case 'MDA': return 'MDA';
    default: return 'MTA';
  }
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : null);
const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : typeof v === 'string' && v ? [v] : []);
const and = (xs: string[]) => (xs.length <= 1 ? xs.join('') : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`);
const clip = (s: string, n = 160) => (s.length > n ? s.slice(0, n - 1) + '…' : s);

const LISTENERS: Record<string, string> = {
  smtp: 'SMTP (port 25, the MX port)', submission: 'submission (port 587, STARTTLS + AUTH)', smtps: 'submission over implicit TLS (port 465)',
  pop3: 'POP3 (port 110)', pop3s: 'POP3S (port 995)', imap: 'IMAP (port 143)', imaps: 'IMAPS (port 993)',
};

/** "MX sina.test @127.0.0.1:5353 NOERROR: 10 mx.sina.test ttl=0" (relay/smtp-client.ts fmtExchange) -> its parts. */
export function parseExchange(line: string): { type: string; name: string; rcode: string; cached: boolean; answers: string[] } | null {
  const m = /^(\S+) (\S+) @\S+( \(cached\))? (\w+)(?: \([^)]*\))?(?:: (.*))?$/.exec(line);
  if (!m) return null;
  return { type: m[1], name: m[2], cached: !!m[3], rcode: m[4], answers: m[5] ? m[5].split('; ').map((a) => a.replace(/ ttl=\d+$/, '')) : [] };
}

/** When the next attempt is due, relative to the row: "at 13:05:12 UTC (in 5 s)". */
function when(iso: string | null, from: number): string {
  if (!iso) return 'later';
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return iso;
  const s = Math.round((t - from) / 1000);
  const dt = s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
  return `at ${new Date(t).toISOString().slice(11, 19)} UTC (in ${dt})`;
}

/** What a relay session transcript says happened: the commands sent and the last reply. */
function conversation(transcript: string[]): { commands: string[]; last: string | null; rcptReply: string | null } {
  const commands: string[] = [];
  let last: string | null = null;
  for (const l of transcript) {
    if (l.startsWith('C: ')) {
      const verb = /^C: (MAIL FROM|RCPT TO|DATA|STARTTLS|EHLO|HELO|RSET|QUIT|AUTH)/i.exec(l)?.[1]?.toUpperCase();
      if (verb && !commands.includes(verb) && verb !== 'EHLO' && verb !== 'HELO') commands.push(verb);
    } else if (l.startsWith('S: ')) last = l.slice(3);
  }
  // PIPELINING: replies arrive together; the one after MAIL's 250 is RCPT's
  const replies = transcript.filter((l) => /^S: \d{3} /.test(l)).map((l) => l.slice(3));
  const mailAt = replies.findIndex((r) => /^250 2\.1\.0/.test(r));
  const rcptReply = mailAt >= 0 ? replies[mailAt + 1] ?? null : null;
  return { commands, last, rcptReply };
}

function why(reply: string): string {
  const code = /^(\d)\d\d/.exec(reply)?.[1];
  if (code === '4') return 'a temporary refusal (4xx): try again later';
  if (code === '5') return 'a permanent refusal (5xx): retrying would not help';
  return '';
}

/** One sentence on what the row's agent did and why. */
export function explain(row: OfficeRow): string {
  const d = row.details ?? {};
  const at = row.office;
  const host = str(d.host);
  const ip = str(d.ip);
  const port = str(d.port);
  const where = host ? `${host}${ip && ip !== host ? ` (${ip}${port ? ` port ${port}` : ''})` : ''}` : 'the remote MX';
  const rcpts = and(list(d.rcpts ?? d.rcptTo ?? d.rcpt));
  switch (`${row.agent}/${row.step}`) {
    case 'MUA/submitted':
      return `${str(d.user) ?? 'a user'}'s mail client (MUA) handed the message to ${at} over ${LISTENERS[str(d.listener) ?? ''] ?? str(d.listener) ?? 'submission'}, after logging in: only its own users may send through it.`;
    case 'MTA in/received': {
      const tls = str(d.tls) ? ` over ${str(d.tls)}` : ' without TLS';
      const reply = str(d.reply) ?? '250';
      if (d.listener === 'smtp') {
        const a = (d.auth ?? null) as Record<string, unknown> | null;
        const checks = a ? ` It checked the sender: SPF ${a.spf}, DKIM ${a.dkim}, DMARC ${a.dmarc}${a.spf === 'pass' && a.dkim === 'pass' ? ' (the sending host is allowed by the domain and the signature matches its published key)' : ''}.` : '';
        const q = d.quarantined ? ` It failed ${String(d.quarantined)}, so it goes to Junk.` : '';
        return `${at}'s MTA accepted the mail for ${rcpts || 'its users'} from ${str(d.helo) ?? 'a remote MTA'} (${str(d.client) ?? '?'}) on its MX port${tls} and answered "${clip(reply, 80)}".${checks}${q}`;
      }
      return `${at}'s MTA took the message from ${str(d.user) ?? str(d.client) ?? 'the client'} (MAIL FROM ${str(d.mailFrom) || '<>'}, RCPT TO ${rcpts})${tls} and answered "${clip(reply, 80)}": from now on ${at} is responsible for it.`;
    }
    case 'MTA in/refused': {
      // issue 13: a policy refusal before any 250 (our own domain claimed on port 25, a submission limit)
      const reply = str(d.reply) ?? '';
      const limit = d.limit ? ` (${str(d.limit)}: ${str(d.used)} of ${str(d.max)})` : '';
      return `${at}'s MTA refused the message from ${str(d.user) ?? str(d.client) ?? 'the client'}: ${str(d.why) ?? 'policy'}${limit}. It answered "${clip(reply, 100)}", ${why(reply) || 'a refusal'}.`;
    }
    case 'MTA out/queued':
      return `${rcpts || 'The recipient'} is not at ${at}: its MTA put the message in the outbound queue (entry ${str(d.queueId) ?? '?'}) to relay it to ${str(d.domain) ?? 'the recipient\'s domain'}.`;
    case 'MTA out/attempt':
      return `${at}'s MTA starts delivery attempt ${str(d.attempt) ?? '?'} to ${str(d.domain) ?? 'the recipient domain'}${rcpts ? ` for ${rcpts}` : ''}.`;
    case 'MTA out/dkim signed':
      return `${at}'s MTA signed the message with DKIM (d=${str(d.domain)}, s=${str(d.selector)}), so the receiver can check in DNS that it comes from ${str(d.domain)} and was not changed on the way.`;
    case 'MTA out/dkim failed':
      return `${at}'s MTA could not sign the message with DKIM (${clip(str(d.error) ?? 'unknown error')}); it goes out unsigned.`;
    case 'MTA out/dns': {
      const domain = str(d.domain) ?? '?';
      const ex = list(d.answers).map(parseExchange).filter((x): x is NonNullable<ReturnType<typeof parseExchange>> => !!x);
      const mx = ex.find((x) => x.type === 'MX' && x.name === domain);
      const addrs = ex.filter((x) => (x.type === 'A' || x.type === 'AAAA') && x.answers.length).map((x) => `${x.name} is ${x.answers.join(', ')}`);
      if (d.result === 'hosts') {
        const found = mx?.answers.length ? mx.answers.map((a) => { const [p, h] = a.split(' '); return `${h}, preference ${p}`; }).join('; ') : `no MX record, so ${domain} itself (RFC 5321 §5.1)`;
        return `${at}'s MTA asked DNS for the MX of ${domain}: ${found}${addrs.length ? `; ${and(addrs)}` : ''}${mx?.cached ? ' (from its cache)' : ''}.`;
      }
      if (d.result === 'permanent') return `${at}'s MTA asked DNS for the MX of ${domain}: ${clip(str(d.reason) ?? 'no usable answer')}, a permanent answer: the mail cannot be delivered.`;
      return `${at}'s MTA asked DNS for the MX of ${domain} and got no usable answer (${mx?.rcode ?? 'no reply'}: ${clip(str(d.reason) ?? '')}): a temporary failure, it will ask again at the next attempt.`;
    }
    case 'MTA out/connected': {
      if (d.reused !== undefined) return `${at}'s MTA reused its open SMTP connection to ${where}${str(d.tls) ? ` (${str(d.tls)})` : ''} for this message.`;
      const pref = str(d.preference) ? `, the MX of preference ${str(d.preference)},` : '';
      return `${at}'s MTA connected to ${where}${pref} got the greeting "${clip(str(d.banner) ?? '220', 70)}"${str(d.tls) ? ` and switched to ${str(d.tls)} with STARTTLS (RFC 3207)` : ', and sent the mail without TLS'}.`;
    }
    case 'MTA out/connect failed': {
      const err = str(d.error) ?? 'no answer';
      const reason = /ECONNREFUSED/i.test(err) ? 'nothing listens there (connection refused)'
        : /greeting/i.test(err) ? 'the server never sent its 220 greeting in time'
          : /TLS|SSL|handshake|wrong version|ETLS/i.test(err) ? `the STARTTLS handshake failed (${/SSL routines:[^:]*:([^:]+)/.exec(err)?.[1] ?? clip(err, 90)})`
            : /timeout|ETIMEDOUT/i.test(err) ? 'the connection timed out' : clip(err, 120);
      return `${at}'s MTA could not deliver through ${where}: ${reason}; it tries the next MX, if any.`;
    }
    case 'MTA out/session': {
      // a recipient's own view leaves the dialogue out (it names every recipient, Bcc too)
      if (!Array.isArray(d.transcript)) return `${at}'s MTA spoke SMTP with ${where}.`;
      const c = conversation(list(d.transcript));
      if (c.rcptReply && !/^2/.test(c.rcptReply)) return `${at}'s MTA spoke SMTP with ${where}: MAIL FROM was accepted, but RCPT TO was answered "${clip(c.rcptReply, 100)}": ${why(c.rcptReply)}.`;
      return `${at}'s MTA spoke SMTP with ${where}: ${and(c.commands) || 'no commands'}; the last answer was "${clip(c.last ?? 'none', 90)}".`;
    }
    case 'MTA out/blocklisted':
      return `${where} refused ${rcpts || 'the recipient'} because the address of ${at}'s server is on ${str(d.list) ?? 'a blocklist'}: a reputation problem of the sending server, not of the recipient; its postmaster can ask for delisting at ${str(d.delist) ?? 'the list\'s site'}.`;
    case 'MTA out/delivered':
      return `${str(d.host) ?? 'The remote MTA'} answered "${clip(str(d.reply) ?? '250', 80)}" for ${rcpts || 'the recipient'}: the receiving post office has taken responsibility, and ${at} removes the message from its queue.`;
    case 'MTA out/deferred':
      return `Attempt ${str(d.attempt) ?? '?'} did not get through (${clip(str(d.reply) ?? 'no reply', 110)}): a temporary failure, so ${at} keeps the message queued and tries again ${when(str(d.nextAttempt), row.time)}.`;
    case 'MTA out/bounced':
      return `${rcpts || 'The recipient'} cannot be delivered (${clip(str(d.reply) ?? 'no reply', 110)}): a permanent failure, ${at}'s MTA gives up and will tell the sender.`;
    case 'MTA out/expired':
      return `${rcpts || 'The recipients'} could not be delivered before the queue lifetime ran out (${str(d.age)}): ${at} gives up (RFC 5321 §4.5.4.1).`;
    case 'MTA out/mail loop':
      return `${at}'s MTA found a mail loop (${str(d.reason) ?? `${str(d.received)} Received: fields`}) and stops the message.`;
    case 'MTA out/bounce sent': case 'MDA/bounce sent':
      return `${at} sent a bounce (an RFC 3464 delivery status notification, from MAILER-DAEMON with an empty envelope sender) to ${str(d.to)}, saying which recipient failed and why.`;
    case 'MTA out/bounce created': case 'MDA/bounce created':
      return `This is the bounce itself: ${at}'s MTA wrote it to ${str(d.to)} about ${str(d.about)}.`;
    case 'MTA out/delay warning sent':
      return `${at} told ${str(d.to)} that the message is delayed but still being tried (an RFC 3464 "delayed" notification).`;
    case 'MTA out/success report sent': case 'MDA/success report sent':
      return `${at} sent ${str(d.to)} the success report it asked for (RFC 3461 NOTIFY=SUCCESS).`;
    case 'MTA out/not reported':
      return `${at} sends no report here: ${str(d.why) ?? 'not asked for'}.`;
    case 'MTA out/smarthost':
      return `${at}'s MTA relays everything through its smarthost ${str(d.host)}:${str(d.port)} instead of looking up MX records.`;
    case 'MTA out/internal error':
      return `${at}'s MTA hit an internal error (${clip(str(d.error) ?? '')}); the message stays queued.`;
    case 'MDA/stored': {
      // our reports carry the original's id and their kind (mail/dsn.ts reportId)
      const kind = /\.(bounce|delay|success)[^.]*$/.exec(row.msgId)?.[1];
      if (kind) return `${at}'s MDA stored the ${kind === 'bounce' ? 'bounce' : kind === 'delay' ? 'delay warning' : 'success report'} in ${str(d.user)}'s ${str(d.mailbox) ?? 'INBOX'} (UID ${str(d.uid)}): the sender's mail client will show it.`;
      return `${at}'s MDA stored the message in ${str(d.user)}'s ${str(d.mailbox) ?? 'INBOX'} (UID ${str(d.uid)}): it waits there until a mail client fetches it.`;
    }
    case 'MUA access/retrieved':
      return `${str(d.user)}'s mail client (MUA) downloaded the message from ${at}'s MDA over POP3 (RETR, RFC 1939)${str(d.client) ? ` from ${str(d.client)}` : ''}.`;
    case 'MUA access/fetched':
      return `${str(d.user)}'s mail client (MUA) read the message from ${at}'s MDA over IMAP (FETCH, RFC 9051) in ${str(d.mailbox) ?? 'INBOX'}; it stays on the server.`;
    case 'MUA access/deleted':
      return `${str(d.user)}'s mail client deleted the message from ${at} over POP3 (DELE, then QUIT).`;
  }
  const rest = Object.entries(d).filter(([, v]) => v !== null && typeof v !== 'object').map(([k, v]) => `${k}=${String(v)}`).join(' ');
  return `${at}'s ${row.agent}: ${row.step}${rest ? ` (${clip(rest)})` : ''}.`;
}

/** One printed line of the story: time since the first row, role, post office, sentence. */
export function storyLine(row: OfficeRow, t0: number): string {
  const dt = `+${((row.time - t0) / 1000).toFixed(1)}s`.padStart(8);
  return `${dt}  ${role(row)}  ${row.office.padEnd(9)} ${explain(row)}`;
}

/** The path the rows took, each agent once in the order it first acted: "MUA 163.test -> MTA 163.test -> MTA sina.test -> MDA sina.test <- MUA sina.test". */
export function journeyPath(rows: OfficeRow[]): string {
  const seen: string[] = [];
  let readers = '';
  for (const r of rows) {
    const hop = `${role(r)} ${r.office}`;
    if (r.agent === 'MUA access') { if (!readers) readers = ` <- ${hop}`; continue; }
    if (!seen.includes(hop)) seen.push(hop);
  }
  return seen.join(' -> ') + readers;
}
