import { Pop3Err } from '../errors.js';
import type { Pop3Command } from '../types.js';

// RFC 1939 §5 LIST: "n size" for one message or for every message not marked deleted.
export const list: Pop3Command<'LIST'> = {
  states: ['transaction'],
  run(s, { msg }) {
    if (msg !== null) {
      const m = s.maildrop.live(msg);
      if (!m) throw new Pop3Err('no such message');
      return `${m.n} ${m.size}`;
    }
    const { count, size } = s.maildrop.stat();
    return { ok: `${count} message${count === 1 ? '' : 's'} (${size} octets)`, lines: s.maildrop.all().map((m) => `${m.n} ${m.size}`) };
  },
};
