import type { ImapCommand } from '../session.js';
import { ImapBad, noMoreArgs } from '../wire.js';

// RFC 3501 §6.2.1 STARTTLS: OK, then the TLS handshake; plaintext pipelined after it is discarded.
export const starttls: ImapCommand = {
  states: ['not-authenticated'],
  async run(s, cmd) {
    noMoreArgs(cmd.args, 0);
    if (s.secure) throw new ImapBad('TLS is already active');
    s.send(`${cmd.tag} OK Begin TLS negotiation now`);
    await s.flush();
    await s.startTls();
    s.suppressTagged = true;
    return '';
  },
};
