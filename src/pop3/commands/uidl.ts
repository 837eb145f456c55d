import { Pop3Err } from '../errors.js';
import type { Pop3Command } from '../types.js';

// RFC 1939 §7 UIDL: "n unique-id", the id derived from (UIDVALIDITY, UID) so it never changes.
export const uidl: Pop3Command<'UIDL'> = {
  states: ['transaction'],
  run(s, { msg }) {
    if (msg !== null) {
      const m = s.maildrop.live(msg);
      if (!m) throw new Pop3Err('no such message');
      return `${m.n} ${s.maildrop.uidl(m)}`;
    }
    return { ok: 'unique-id listing follows', lines: s.maildrop.all().map((m) => `${m.n} ${s.maildrop.uidl(m)}`) };
  },
};
