// RFC 4954 AUTH (PLAIN per RFC 4616, LOGIN): only on the submission listeners, only over TLS
// (smtp-server refuses AUTH before STARTTLS with 538 5.7.11).
import type { SMTPServerAuthentication, SMTPServerSession } from 'smtp-server';
import { sleep } from '../auth/authenticate.js';
import { SmtpReply } from '../mail/errors.js';
import type { SessionUser, SmtpContext } from './context.js';

/** failed AUTH attempts per connection; config.maxLoginFailures of them close it */
const failures = new WeakMap<SMTPServerSession, number>();

export async function onAuth(ctx: SmtpContext, auth: SMTPServerAuthentication, session: SMTPServerSession): Promise<SessionUser> {
  if (auth.method !== 'PLAIN' && auth.method !== 'LOGIN') throw new SmtpReply(504, '5.5.4', 'unrecognized authentication type');
  const username = auth.username ?? '';
  // RFC 4616 §2: an authorization identity other than the login itself is not supported
  if (auth.authzid && auth.authzid.toLowerCase() !== username.toLowerCase()) throw new SmtpReply(535, '5.7.8', 'authentication credentials invalid');
  const { user, delayMs } = await ctx.auth.login(username, auth.password ?? '', session.remoteAddress, 'smtp');
  if (!user) {
    await sleep(delayMs);
    const n = (failures.get(session) ?? 0) + 1;
    failures.set(session, n);
    // 421 makes smtp-server close the connection after the reply
    if (n >= ctx.config.maxLoginFailures) throw new SmtpReply(421, '4.7.8', 'too many failed authentication attempts, closing connection');
    throw new SmtpReply(535, '5.7.8', 'authentication credentials invalid');
  }
  return { id: user.id, address: user.address };
}
