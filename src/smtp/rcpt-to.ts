// RFC 5321 §4.1.1.3 RCPT: local users on any port; remote domains only after AUTH (never by IP).
import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server';
import { parseAddress } from '../mail/address.js';
import { SmtpReply } from '../mail/errors.js';
import { txState, type SmtpContext } from './context.js';

export async function onRcptTo(ctx: SmtpContext, rcpt: SMTPServerAddress, session: SMTPServerSession): Promise<void> {
  const a = parseAddress(rcpt.address);
  if (!a) throw new SmtpReply(553, '5.1.3', `bad recipient address syntax <${rcpt.address}>`);
  const r = await ctx.store.users.resolve(a.key);
  if (r.kind === 'unknown') throw new SmtpReply(550, '5.1.1', `<${rcpt.address}>: no such user here`);
  // §4.2.2 / §7.1: relaying is a policy decision; ours grants it to authenticated users only
  if (r.kind === 'remote' && !session.user) throw new SmtpReply(550, '5.7.1', `<${rcpt.address}>: relaying denied`);
  // a policy of whoever started us (the lab's fault injection); none in `serve`
  const refusal = await ctx.rcptPolicy?.({ listener: ctx.listener, sid: session.id, client: session.remoteAddress, mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', rcptTo: rcpt.address });
  if (refusal) throw refusal;
  txState(session).rcpts.set(rcpt.address, r);
}
