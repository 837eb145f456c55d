// RFC 3464 delivery status notifications: multipart/report; report-type=delivery-status, with a
// human-readable part, message/delivery-status, and the original's header (RFC 6522 §3,
// text/rfc822-headers) or the whole original (message/rfc822) when the sender asked RET=FULL
// (failure reports only: a success report carries the header, as Postfix's do).
import { randomBytes } from 'node:crypto';
import { rfc5322Date } from '../mail/received.js';
import { blocklistSentence, recogniseBlocklist } from './blocklist.js';
import type { JourneyEvent, Store } from '../store/types.js';

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

/** The explanation under a recipient whose refusal named a blocklist (wrapped for the text part). */
function blocklistLines(r: DsnRecipient, reportingMta: string): string[] {
  const hit = recogniseBlocklist(r.diagnostic);
  if (!hit) return [];
  const words = blocklistSentence(hit, reportingMta).split(' ');
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
    for (const r of failed) human.push(`<${r.address}>: ${r.diagnostic ?? r.status}${r.remoteMta ? ` (host ${r.remoteMta})` : ''}`, ...blocklistLines(r, d.reportingMta));
  }
  if (delayed.length) {
    human.push('Your message could not be delivered yet. The mail system will keep trying', `until ${d.willRetryUntil ? rfc5322Date(d.willRetryUntil) : 'it expires'}; you do not need to send it again.`, '');
    for (const r of delayed) human.push(`<${r.address}>: ${r.diagnostic ?? r.status}${r.remoteMta ? ` (host ${r.remoteMta})` : ''}`, ...blocklistLines(r, d.reportingMta));
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
    const bl = recogniseBlocklist(r.diagnostic);
    if (bl && r.action !== 'delivered' && r.action !== 'relayed') status.push(`X-Postoffice-Blocklist: ${asciiLine(bl.list)}; ${asciiLine(bl.delist, 300)}`);
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
  original: () => Promise<Buffer>;
}

export type ReportKind = 'failure' | 'delay' | 'success';
const KIND_WORD: Record<ReportKind, string> = { failure: 'FAILURE', delay: 'DELAY', success: 'SUCCESS' };
const KIND_ID: Record<ReportKind, string> = { failure: 'bounce', delay: 'delay', success: 'success' };
const KIND_STEP: Record<ReportKind, [string, string]> = {
  failure: ['bounce created', 'bounce sent'], delay: ['delay warning created', 'delay warning sent'], success: ['success report created', 'success report sent'],
};

/**
 * Send an RFC 3464 report to the sender, as RFC 3461 §4.1 NOTIFY asks: to its local mailbox, or
 * queued to its domain. A failure or delay report goes out unless NOTIFY says otherwise; a success
 * report only when NOTIFY=SUCCESS was asked. The journey step to record on the original is returned.
 */
export async function sendReport(store: Store, o: {
  reportingMta: string; about: ReportAbout; recipients: DsnRecipient[]; kind: ReportKind; agent: JourneyEvent['agent'];
  dsnId: string; lastAttempt?: Date; willRetryUntil?: Date;
}): Promise<{ step: string; details: Record<string, unknown> }> {
  const { about, kind } = o;
  // RFC 5321 §6.1 / RFC 3464 §1: never report on a report (null reverse-path)
  if (!about.mailFrom) return { step: 'not reported', details: { why: 'null reverse-path: a report is never sent about a report', rcpts: o.recipients.map((r) => r.address) } };
  const wanted = o.recipients.filter((r) => {
    const n = about.notify[r.address];
    if (kind === 'success') return !!n && n.includes('SUCCESS');
    return !n || (!n.includes('NEVER') && n.includes(KIND_WORD[kind]));
  });
  if (!wanted.length) return { step: 'not reported', details: { why: 'NOTIFY parameter', kind } };
  const { raw } = buildDsn({
    reportingMta: o.reportingMta, mailFrom: about.mailFrom, originalMsgId: about.msgId, arrivalDate: about.arrival, envid: about.envid,
    recipients: wanted, original: await about.original(), returnFull: about.ret === 'FULL', lastAttempt: o.lastAttempt, willRetryUntil: o.willRetryUntil,
  });
  const res = await store.users.resolve(about.mailFrom);
  const local = res.kind === 'local' ? res.users.map((u) => ({ userId: u.userId, address: u.address, rcptTo: about.mailFrom })) : [];
  const remote = res.kind === 'local' ? res.remote : res.kind === 'remote' ? [about.mailFrom] : [];
  if (!local.length && !remote.length) return { step: 'not reported', details: { why: `the sender ${about.mailFrom} is no local user`, kind } };
  const [created, sent] = KIND_STEP[kind];
  await store.deliver({
    msgId: o.dsnId, mailFrom: '', raw: Buffer.concat([Buffer.from('Return-Path: <>\r\n'), raw]), relayRaw: raw, local, remote,
    journey: [{ msgId: o.dsnId, agent: o.agent, step: created, details: { about: about.msgId, to: about.mailFrom, rcpts: wanted.map((r) => r.address) } }],
    queueData: { reportFor: about.msgId },
  });
  return { step: sent, details: { dsn: o.dsnId, to: about.mailFrom, rcpts: wanted.map((r) => `${r.address} ${r.status}`) } };
}

/** Our id for a report: the original's id, the kind, and what makes it unique. */
export function reportId(msgId: string, kind: ReportKind, suffix: string): string {
  return `${msgId}.${KIND_ID[kind]}${suffix}`;
}
