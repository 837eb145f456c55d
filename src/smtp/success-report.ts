// RFC 3461 §6.2.1 a: NOTIFY=SUCCESS for a recipient whose mail was stored here: a "delivered"
// report (RFC 3464, built in mail/dsn.ts) to the sender, through the same store.deliver as any
// mail. Sent after the 250 (the mail is committed; the report is a courtesy, logged if it fails).
// MTA out's reports (bounces, delays, "relayed") are relay/report.ts: protocols never import each other.
import { reportId, reportMessage, reportRecipients, REPORT_STEPS, type ReportAbout } from '../mail/dsn.js';
import type { SmtpContext } from './context.js';

export async function sendSuccessReport(ctx: SmtpContext, about: ReportAbout, original: Buffer, delivered: string[]): Promise<void> {
  const wanted = reportRecipients(about, 'success', delivered.map((address) => ({ address, action: 'delivered', status: '2.0.0' })));
  if (!Array.isArray(wanted)) return;
  const raw = reportMessage({ reportingMta: ctx.config.hostname, about, recipients: wanted, original });
  const res = await ctx.store.users.resolve(about.mailFrom);
  const local = res.kind === 'local' ? res.users.map((u) => ({ userId: u.userId, address: u.address, rcptTo: about.mailFrom })) : [];
  const remote = res.kind === 'local' ? res.remote : res.kind === 'remote' ? [about.mailFrom] : [];
  if (!local.length && !remote.length) return;
  const dsnId = reportId(about.msgId, 'success', '');
  const { created, sent } = REPORT_STEPS.success;
  await ctx.store.deliver({
    msgId: dsnId, mailFrom: '', raw: Buffer.concat([Buffer.from('Return-Path: <>\r\n'), raw]), relayRaw: raw, local, remote,
    journey: [{ msgId: dsnId, agent: 'MDA', step: created, details: { about: about.msgId, to: about.mailFrom, rcpts: wanted.map((r) => r.address) } }],
    queueData: { reportFor: about.msgId },
  });
  await ctx.store.journey.record([{ msgId: about.msgId, agent: 'MDA', step: sent, details: { dsn: dsnId, to: about.mailFrom, rcpts: wanted.map((r) => `${r.address} ${r.status}`) } }]);
}
