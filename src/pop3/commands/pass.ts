import { Pop3Err } from '../errors.js';
import type { Pop3Command } from '../types.js';

// RFC 1939 §7 PASS: check the password of the USER name, lock the maildrop, enter TRANSACTION.
export const pass: Pop3Command<'PASS'> = {
  states: ['authorization'],
  async run(s, { pass }) {
    if (!s.authAllowed()) throw new Pop3Err('plaintext authentication disallowed on non-secure connections; use STLS', 'AUTH');
    const name = s.pendingUser;
    s.pendingUser = null;
    if (name === null) throw new Pop3Err('send USER first');
    return s.login(name, pass);
  },
};
