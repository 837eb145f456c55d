// RFC 5321 §4.1.1.2 MAIL: on submission, the envelope sender must be the user's own address or alias.
import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server';
import { parseAddress } from '../mail/address.js';
import { SmtpReply } from '../mail/errors.js';
import { resetTx, type SessionUser, type SmtpContext } from './context.js';
import { checkLocalMailFrom } from './sender-policy.js';
import { checkSubmissionMail } from './submission-limits.js';

export async function onMailFrom(ctx: SmtpContext, from: SMTPServerAddress, session: SMTPServerSession): Promise<void> {
  resetTx(session);
  const user = session.user as SessionUser | undefined;
  // MX: anyone may send to our users, but not in the name of our own domains (issue 13, sender-policy.ts)
  if (ctx.listener === 'smtp') return checkLocalMailFrom(ctx, from.address, session);
  if (!user) throw new SmtpReply(530, '5.7.0', 'authentication required');
  if (!(await ownsAddress(ctx, user, from.address))) {
    throw new SmtpReply(553, '5.7.1', `sender address <${from.address}> not owned by user ${user.address}`);
  }
  // per-user messages per hour and day (451 4.7.1)
  await checkSubmissionMail(ctx, session, user);
}

/** The user's address, an alias pointing at it, or its +detail form. */
export async function ownsAddress(ctx: SmtpContext, user: SessionUser, address: string): Promise<boolean> {
  const a = parseAddress(address);
  if (!a) return false;
  const mine = (await ctx.store.users.sendAs(user.id)).map((s) => s.toLowerCase());
  const plus = a.key.indexOf('+');
  const base = plus > 0 ? a.key.slice(0, plus) + '@' + a.domain : a.key;
  return mine.includes(a.key) || mine.includes(base);
}
