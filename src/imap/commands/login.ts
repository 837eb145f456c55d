import { sleep } from '../../auth/authenticate.js';
import { capabilities } from '../capabilities.js';
import type { ImapCommand, ImapSession } from '../session.js';
import { ImapNo, noMoreArgs, tokString } from '../wire.js';

/** Check the password (shared failure penalty: answers to failures are delayed) and log in. */
export async function authenticateUser(s: ImapSession, username: string, password: string): Promise<string> {
  const { user, delayMs } = await s.ctx.auth.login(username, password, s.remoteAddress, 'imap');
  if (!user) {
    await sleep(delayMs);
    s.log.info({ user: username.slice(0, 100) }, 'login failed');
    if (++s.loginFailures >= s.ctx.options.maxLoginFailures) s.pendingBye = 'too many failed logins';
    throw new ImapNo('AUTHENTICATIONFAILED', 'invalid credentials');
  }
  s.user = user;
  s.state = 'authenticated';
  s.log.info({ user: user.address }, 'login');
  return `[CAPABILITY ${capabilities(s)}] logged in`;
}

// RFC 3501 §6.2.3 LOGIN: user name and password, refused (LOGINDISABLED) without TLS.
export const login: ImapCommand = {
  states: ['not-authenticated'],
  async run(s, cmd) {
    const username = tokString(cmd.args[0], 'user name');
    const password = tokString(cmd.args[1], 'password');
    noMoreArgs(cmd.args, 2);
    if (!s.plaintextAuthAllowed) throw new ImapNo('PRIVACYREQUIRED', 'LOGIN is disabled until STARTTLS');
    return authenticateUser(s, username, password);
  },
};
