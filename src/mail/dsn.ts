// RFC 3464 delivery status notifications, as pure functions (no I/O): which recipients a report
// covers (RFC 3461 §4.1 NOTIFY), and the report's bytes: multipart/report;
// report-type=delivery-status, with a human-readable part, message/delivery-status, and the
// original's header (RFC 6522 §3, text/rfc822-headers) or the whole original (message/rfc822) when
// the sender asked RET=FULL (failure reports only: a success report carries the header, as
// Postfix's do). MTA in (a success report on local delivery) and MTA out (bounces, delay warnings,
// "relayed" reports) both build their reports here and hand them to store.deliver themselves.
import { randomBytes } from 'node:crypto';
import { headerBlock, fieldValue } from './headers.js';
import { rfc5322Date } from './received.js';

export interface DsnRecipient {
  address: string;
  /** RFC 3464 §2.3.3 */
  action: 'failed' | 'delayed' | 'delivered' | 'relayed';
  /** RFC 3463 enhanced status, e.g. 5.1.1 */
  status: string;
  /** the MX that gave the reply, if any */
  remoteMta?: string | null;
  /** the remote reply, as on the wire ("550 5.1.1 no such user") */
  diagnostic?: string | null;
  /** RFC 3461 ORCPT, when known */
  originalRecipient?: string | null;
  /** the refusal named a blocklist (MTA out recognises it): which one, where to delist, one sentence for the human part */
  blocklist?: { list: string; delist: string; sentence: string } | null;
}

export interface DsnInput {
  reportingMta: string;      // our hostname
  mailFrom: string;          // whom the report goes to
  originalMsgId: string;     // our queue id of the original
  arrivalDate: Date;
  envid?: string | null;
  recipients: DsnRecipient[];
  original: Buffer;          // the original message as queued
  returnFull?: boolean;      // RET=FULL
  lastAttempt?: Date;
  willRetryUntil?: Date;     // for delay warnings
  /** the report's Date: (default now) */
  date?: Date;
}

function originalSubject(raw: Buffer): string | null {
  const v = fieldValue(raw, 'subject');
  return v === null ? null : v.replace(/\t/g, ' ').trim();
}

/** Keep the report's header ASCII-clean: the original subject may be encoded or 8-bit. */
function asciiLine(s: string, max = 200): string {
  return s.replace(/[^\x20-\x7e]/g, '?').slice(0, max);
}

/** The explanation under a recipient whose refusal named a blocklist (wrapped for the text part). */
function blocklistLines(r: DsnRecipient): string[] {
  if (!r.blocklist) return [];
  const words = r.blocklist.sentence.split(' ');
  const lines: string[] = [];
  let line = '   ';
  for (const w of words) {
    if (line.length + w.length + 1 > 76 && line.trim()) { lines.push(line); line = '   '; }
    line += ` ${w}`;
  }
  if (line.trim()) lines.push(line);
  return lines.map((l) => asciiLine(l, 998));
}

/** Build the DSN message bytes (CRLF). */
export function buildDsn(d: DsnInput): { raw: Buffer; messageId: string } {
  const boundary = `=_dsn_${randomBytes(9).toString('hex')}`;
  const messageId = `<${randomBytes(10).toString('hex')}.dsn@${d.reportingMta}>`;
  const failed = d.recipients.filter((r) => r.action === 'failed');
  const delayed = d.recipients.filter((r) => r.action === 'delayed');
  const subject = originalSubject(d.original);
  const succeeded = d.recipients.filter((r) => r.action === 'delivered' || r.action === 'relayed');
  const subj = failed.length ? 'Undelivered Mail Returned to Sender' : delayed.length ? 'Delayed Mail (still being retried)' : 'Successful Mail Delivery Report';

  const human: string[] = [
    `This is the mail system at host ${d.reportingMta}.`,
    '',
  ];
  if (failed.length) {
    human.push('I\'m sorry to have to inform you that your message could not', 'be delivered to one or more recipients. It\'s attached below.', '');
    for (const r of failed) human.push(`<${r.address}>: ${r.diagnostic ?? r.status}${r.remoteMta ? ` (host ${r.remoteMta})` : ''}`, ...blocklistLines(r));
  }
  if (delayed.length) {
    human.push('Your message could not be delivered yet. The mail system will keep trying', `until ${d.willRetryUntil ? rfc5322Date(d.willRetryUntil) : 'it expires'}; you do not need to send it again.`, '');
    for (const r of delayed) human.push(`<${r.address}>: ${r.diagnostic ?? r.status}${r.remoteMta ? ` (host ${r.remoteMta})` : ''}`, ...blocklistLines(r));
  }
  if (succeeded.length) {
    human.push('Your message was delivered to the recipients below. Where it was stored in a', 'mailbox, no further reports follow; where it was relayed to another mail system,', 'that system may still report errors.', '');
    for (const r of succeeded) human.push(`<${r.address}>: ${r.action === 'delivered' ? 'delivered to the mailbox' : `relayed${r.remoteMta ? ` to ${r.remoteMta}` : ''}`}${r.diagnostic ? `: ${r.diagnostic}` : ''}`);
  }
  if (subject) human.push('', `Subject of the original: ${asciiLine(subject)}`);

  // RFC 3464 §2.2 per-message fields, §2.3 per-recipient fields
  const status: string[] = [`Reporting-MTA: dns; ${d.reportingMta}`];
  if (d.envid) status.push(`Original-Envelope-Id: ${asciiLine(d.envid)}`);
  status.push(`X-Postoffice-Queue-ID: ${d.originalMsgId}`, `Arrival-Date: ${rfc5322Date(d.arrivalDate)}`);
  for (const r of d.recipients) {
    status.push('');
    if (r.originalRecipient) status.push(`Original-Recipient: ${r.originalRecipient}`);
    status.push(`Final-Recipient: rfc822; ${r.address}`, `Action: ${r.action}`, `Status: ${r.status}`);
    if (r.remoteMta) status.push(`Remote-MTA: dns; ${r.remoteMta}`);
    if (r.diagnostic && /^\d{3}/.test(r.diagnostic)) status.push(`Diagnostic-Code: smtp; ${asciiLine(r.diagnostic, 900)}`);
    // RFC 3464 §2.3 allows X- extension fields: which blocklist the refusal named, and where to delist
    if (r.blocklist && r.action !== 'delivered' && r.action !== 'relayed') status.push(`X-Postoffice-Blocklist: ${asciiLine(r.blocklist.list)}; ${asciiLine(r.blocklist.delist, 300)}`);
    if (d.lastAttempt) status.push(`Last-Attempt-Date: ${rfc5322Date(d.lastAttempt)}`);
    if (r.action === 'delayed' && d.willRetryUntil) status.push(`Will-Retry-Until: ${rfc5322Date(d.willRetryUntil)}`);
  }

  const head = [
    `From: Mail Delivery System <MAILER-DAEMON@${d.reportingMta}>`,
    `To: <${d.mailFrom}>`,
    `Subject: ${subj}`,
    `Date: ${rfc5322Date(d.date ?? new Date())}`,
    `Message-ID: ${messageId}`,
    'Auto-Submitted: auto-replied', // RFC 3834 §5
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary="${boundary}"`,
    '',
    'This is a MIME-encapsulated message.',
    '',
  ].join('\r\n');
  const parts = [
    `--${boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Description: Notification\r\n\r\n${human.join('\r\n')}\r\n`,
    `--${boundary}\r\nContent-Type: message/delivery-status\r\nContent-Description: Delivery report\r\n\r\n${status.join('\r\n')}\r\n`,
  ];
  const what = failed.length || delayed.length ? 'Undelivered Message' : 'Message';
  const originalPart = d.returnFull && failed.length
    ? Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Type: message/rfc822\r\nContent-Description: ${what}\r\n\r\n`), d.original, Buffer.from('\r\n')])
    : Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Type: text/rfc822-headers\r\nContent-Description: ${what} Headers\r\n\r\n`), headerBlock(d.original)]);
  const raw = Buffer.concat([
    Buffer.from(head + '\r\n' + parts.join(''), 'latin1'),
    originalPart,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { raw, messageId };
}

/** What a report is about: the original transaction as the sender made it. */
export interface ReportAbout {
  msgId: string;
  mailFrom: string;
  arrival: Date;
  envid: string | null;
  ret: string | null;
  /** RFC 3461 NOTIFY per recipient (absent: the default, FAILURE and DELAY) */
  notify: Record<string, string[] | undefined>;
}

export type ReportKind = 'failure' | 'delay' | 'success';
const KIND_WORD: Record<ReportKind, string> = { failure: 'FAILURE', delay: 'DELAY', success: 'SUCCESS' };
const KIND_ID: Record<ReportKind, string> = { failure: 'bounce', delay: 'delay', success: 'success' };
/** The journey steps of a report: recorded on the report itself when it is made, and on the original. */
export const REPORT_STEPS: Record<ReportKind, { created: string; sent: string }> = {
  failure: { created: 'bounce created', sent: 'bounce sent' },
  delay: { created: 'delay warning created', sent: 'delay warning sent' },
  success: { created: 'success report created', sent: 'success report sent' },
};

/** A report that is not sent, and why (recorded on the original's journey as "not reported"). */
export interface NoReport { step: 'not reported'; details: Record<string, unknown> }

/**
 * RFC 3461 §4.1 NOTIFY: the recipients a report of this kind covers. A failure or delay report goes
 * out unless NOTIFY says otherwise; a success report only when NOTIFY=SUCCESS was asked. RFC 5321
 * §6.1 / RFC 3464 §1: never a report about a report (null reverse-path).
 */
export function reportRecipients(about: Pick<ReportAbout, 'mailFrom' | 'notify'>, kind: ReportKind, recipients: DsnRecipient[]): DsnRecipient[] | NoReport {
  if (!about.mailFrom) return { step: 'not reported', details: { why: 'null reverse-path: a report is never sent about a report', rcpts: recipients.map((r) => r.address) } };
  const wanted = recipients.filter((r) => {
    const n = about.notify[r.address];
    if (kind === 'success') return !!n && n.includes('SUCCESS');
    return !n || (!n.includes('NEVER') && n.includes(KIND_WORD[kind]));
  });
  return wanted.length ? wanted : { step: 'not reported', details: { why: 'NOTIFY parameter', kind } };
}

/** The report's bytes for these (wanted) recipients, from the original's bytes. */
export function reportMessage(o: { reportingMta: string; about: ReportAbout; recipients: DsnRecipient[]; original: Buffer; lastAttempt?: Date; willRetryUntil?: Date }): Buffer {
  const { about } = o;
  return buildDsn({
    reportingMta: o.reportingMta, mailFrom: about.mailFrom, originalMsgId: about.msgId, arrivalDate: about.arrival, envid: about.envid,
    recipients: o.recipients, original: o.original, returnFull: about.ret === 'FULL', lastAttempt: o.lastAttempt, willRetryUntil: o.willRetryUntil,
  }).raw;
}

/** Our id for a report: the original's id, the kind, and what makes it unique. */
export function reportId(msgId: string, kind: ReportKind, suffix: string): string {
  return `${msgId}.${KIND_ID[kind]}${suffix}`;
}
