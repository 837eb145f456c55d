import type { ImapCommand } from '../types.js';
import { ImapBad } from '../wire.js';

// RFC 3501 §6.2.1 STARTTLS: OK, then the TLS handshake; plaintext pipelined after it is discarded.
export const starttls: ImapCommand<'STARTTLS'> = {
  states: ['not-authenticated'],
  async run(s) {
    if (s.secure) throw new ImapBad('TLS is already active');
    // the session writes the OK, then starts the handshake
    return { text: 'Begin TLS negotiation now', after: 'starttls' };
  },
};
