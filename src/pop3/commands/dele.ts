import { Pop3Err } from '../errors.js';
import type { Pop3Command } from '../types.js';

// RFC 1939 §5 DELE: mark a message deleted; it is removed only at QUIT (UPDATE state).
export const dele: Pop3Command<'DELE'> = {
  states: ['transaction'],
  run(s, { msg }) {
    const m = s.maildrop.get(msg);
    if (!m) throw new Pop3Err('no such message');
    if (m.deleted) throw new Pop3Err(`message ${msg} already deleted`);
    m.deleted = true;
    return `message ${msg} deleted`;
  },
};
