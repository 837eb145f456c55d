// RFC 3464 delivery status notifications: multipart/report; report-type=delivery-status, with a
// human-readable part, message/delivery-status, and the original's header (RFC 6522 §3,
// text/rfc822-headers) or the whole original (message/rfc822) when the sender asked RET=FULL.
import { randomBytes } from 'node:crypto';
import { rfc5322Date } from '../mail/received.js';

export interface DsnRecipient {
  address: string;
  /** RFC 3464 §2.3.3 */
  action: 'failed' | 'delayed';
  /** RFC 3463 enhanced status, e.g. 5.1.1 */
  status: string;
  /** the MX that gave the reply, if any */
  remoteMta?: string | null;
  /** the remote reply, as on the wire ("550 5.1.1 no such user") */
  diagnostic?: string | null;
  /** RFC 3461 ORCPT, when known */
  originalRecipient?: string | null;
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
}

/** The header block of a message (up to and including its empty line). */
export function headerBlock(raw: Buffer): Buffer {
  let end = raw.indexOf('\r\n\r\n');
  if (end >= 0) return raw.subarray(0, end + 4);
  end = raw.indexOf('\n\n');
  return end >= 0 ? raw.subarray(0, end + 2) : raw;
}

function originalSubject(raw: Buffer): string | null {
  const h = headerBlock(raw).toString('latin1').replace(/\r?\n[ \t]+/g, ' ');
  const m = /^subject:[ \t]*(.*)$/im.exec(h);
  return m ? m[1].trim() : null;
}

/** Keep the report's header ASCII-clean: the original subject may be encoded or 8-bit. */
function asciiLine(s: string, max = 200): string {
  return s.replace(/[^\x20-\x7e]/g, '?').slice(0, max);
}

/** Build the DSN message bytes (CRLF). */
export function buildDsn(d: DsnInput): { raw: Buffer; messageId: string } {
  const boundary = `=_dsn_${randomBytes(9).toString('hex')}`;
  const messageId = `<${randomBytes(10).toString('hex')}.dsn@${d.reportingMta}>`;
  const failed = d.recipients.filter((r) => r.action === 'failed');
  const delayed = d.recipients.filter((r) => r.action === 'delayed');
  const subject = originalSubject(d.original);
  const subj = failed.length ? 'Undelivered Mail Returned to Sender' : 'Delayed Mail (still being retried)';

  const human: string[] = [
    `This is the mail system at host ${d.reportingMta}.`,
    '',
  ];
  if (failed.length) {
    human.push('I\'m sorry to have to inform you that your message could not', 'be delivered to one or more recipients. It\'s attached below.', '');
    for (const r of failed) human.push(`<${r.address}>: ${r.diagnostic ?? r.status}${r.remoteMta ? ` (host ${r.remoteMta})` : ''}`);
  }
  if (delayed.length) {
    human.push('Your message could not be delivered yet. The mail system will keep trying', `until ${d.willRetryUntil ? rfc5322Date(d.willRetryUntil) : 'it expires'}; you do not need to send it again.`, '');
    for (const r of delayed) human.push(`<${r.address}>: ${r.diagnostic ?? r.status}${r.remoteMta ? ` (host ${r.remoteMta})` : ''}`);
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
    if (d.lastAttempt) status.push(`Last-Attempt-Date: ${rfc5322Date(d.lastAttempt)}`);
    if (r.action === 'delayed' && d.willRetryUntil) status.push(`Will-Retry-Until: ${rfc5322Date(d.willRetryUntil)}`);
  }

  const head = [
    `From: Mail Delivery System <MAILER-DAEMON@${d.reportingMta}>`,
    `To: <${d.mailFrom}>`,
    `Subject: ${subj}`,
    `Date: ${rfc5322Date(new Date())}`,
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
  const originalPart = d.returnFull
    ? Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Type: message/rfc822\r\nContent-Description: Undelivered Message\r\n\r\n`), d.original, Buffer.from('\r\n')])
    : Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Type: text/rfc822-headers\r\nContent-Description: Undelivered Message Headers\r\n\r\n`), headerBlock(d.original)]);
  const raw = Buffer.concat([
    Buffer.from(head + '\r\n' + parts.join(''), 'latin1'),
    originalPart,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { raw, messageId };
}
