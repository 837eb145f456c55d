// RFC 5321 §4.1.1.3 RCPT: local users on any port; remote domains only after AUTH (never by IP).
import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server';
import { parseAddress } from '../mail/address.js';
import { SmtpReply } from '../mail/errors.js';
import { txState, type SessionUser, type SmtpContext } from './context.js';
import { checkRecipientCount, countRecipient } from './recipient-count.js';
import { checkSubmissionRcpt } from './submission-limits.js';

export async function onRcptTo(ctx: SmtpContext, rcpt: SMTPServerAddress, session: SMTPServerSession): Promise<void> {
  // RFC 5321 §4.5.3.1.8: every RCPT counts toward maxRecipients, a repeated address too (452 4.5.3)
  checkRecipientCount(ctx, session);
  const a = parseAddress(rcpt.address);
  if (!a) throw new SmtpReply(553, '5.1.3', `bad recipient address syntax <${rcpt.address}>`);
  const r = await ctx.store.users.resolve(a.key);
  if (r.kind === 'unknown') throw new SmtpReply(550, '5.1.1', `<${rcpt.address}>: no such user here`);
  // §4.2.2 / §7.1: relaying is a policy decision; ours grants it to authenticated users only
  if (r.kind === 'remote' && !session.user) throw new SmtpReply(550, '5.7.1', `<${rcpt.address}>: relaying denied`);
  // a policy of whoever started us (the lab's fault injection); none in `serve`
  const refusal = await ctx.rcptPolicy?.({ listener: ctx.listener, sid: session.id, client: session.remoteAddress, mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', rcptTo: rcpt.address });
  if (refusal) throw refusal;
  // a stolen password must not mail the world: per-user recipients per hour and day (451 4.7.1)
  const user = session.user as SessionUser | undefined;
  if (user) await checkSubmissionRcpt(ctx, session, user, session.envelope.rcptTo.length);
  txState(session).rcpts.set(rcpt.address, r);
  countRecipient(session);
}
