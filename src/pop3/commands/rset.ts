import type { Pop3Command } from '../types.js';

// RFC 1939 §5 RSET: unmark every message marked deleted.
export const rset: Pop3Command<'RSET'> = {
  states: ['transaction'],
  run(s) {
    s.maildrop.reset();
    const { count, size } = s.maildrop.stat();
    return `maildrop has ${count} message${count === 1 ? '' : 's'} (${size} octets)`;
  },
};
