import { Pop3Err } from '../errors.js';
import type { Pop3Command } from '../types.js';

// RFC 1939 §7 USER: name the maildrop; the answer never tells whether it exists.
export const user: Pop3Command<'USER'> = {
  states: ['authorization'],
  run(s, { name }) {
    // RFC 2595 §2.2: no clear-text password before TLS (unless loopback is allowed)
    if (!s.authAllowed()) throw new Pop3Err('plaintext authentication disallowed on non-secure connections; use STLS', 'AUTH');
    s.pendingUser = name;
    return 'send PASS';
  },
};
