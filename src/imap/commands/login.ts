import { sleep } from '../../auth/authenticate.js';
import { capabilities } from '../capabilities.js';
import type { ImapCommand, ImapSession } from '../types.js';
import { ImapNo } from '../wire.js';

/** Check the password (shared failure penalty: answers to failures are delayed) and log in. */
export async function authenticateUser(s: ImapSession, username: string, password: string): Promise<string> {
  const { user, delayMs } = await s.ctx.auth.login(username, password, s.remoteAddress, 'imap');
  if (!user) {
    await sleep(delayMs);
    s.log.info({ user: username.slice(0, 100) }, 'login failed');
    // RFC 3501 §7.1.5 BYE after the NO once a session has failed too often
    throw new ImapNo('AUTHENTICATIONFAILED', 'invalid credentials', ++s.loginFailures >= s.ctx.options.maxLoginFailures ? 'bye' : null);
  }
  s.user = user;
  s.state = 'authenticated';
  s.log.info({ user: user.address }, 'login');
  return `[CAPABILITY ${capabilities(s)}] logged in`;
}

// RFC 3501 §6.2.3 LOGIN: user name and password, refused (LOGINDISABLED) without TLS.
export const login: ImapCommand<'LOGIN'> = {
  states: ['not-authenticated'],
  async run(s, { user: username, password }) {
    if (!s.plaintextAuthAllowed) throw new ImapNo('PRIVACYREQUIRED', 'LOGIN is disabled until STARTTLS');
    return authenticateUser(s, username, password);
  },
};
