// RFC 5321 §4.5.3.1.8: the recipients of one transaction are bounded by RCPT commands, not by
// unique addresses (a server must accept at least 100; Postfix counts every RCPT, repeats too).
// Without this, 2,000 pipelined "RCPT TO:<alice@...>" of one address all got 250 while each one
// cost a look-up. The count lives on smtp-server's envelope object, which is made afresh for
// every transaction (MAIL after RSET, EHLO or a finished DATA), so it resets with it.
import type { SMTPServerSession } from 'smtp-server';
import { metrics } from '../log/metrics.js';
import { SmtpReply } from '../mail/errors.js';
import type { SmtpContext } from './context.js';

const accepted = new WeakMap<object, number>();

/** RCPT commands accepted so far in this transaction. */
export function recipientsAccepted(session: SMTPServerSession): number {
  return accepted.get(session.envelope) ?? 0;
}

/** Before a RCPT is looked at: the one past maxRecipients gets 452 4.5.3 (§4.5.3.1.10: "too many recipients"). */
export function checkRecipientCount(ctx: SmtpContext, session: SMTPServerSession): void {
  const max = ctx.config.maxRecipients;
  if (max > 0 && recipientsAccepted(session) >= max) {
    metrics.policyRefusals.inc({ office: ctx.config.hostname, policy: 'too-many-recipients' });
    throw new SmtpReply(452, '4.5.3', `too many recipients (at most ${max} RCPT commands per message)`);
  }
}

/** After a RCPT was accepted (250). */
export function countRecipient(session: SMTPServerSession): void {
  accepted.set(session.envelope, recipientsAccepted(session) + 1);
}
