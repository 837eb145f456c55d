import type { Pop3Command } from '../types.js';

// RFC 1939 §5 STAT: "count size" of the messages not marked deleted.
export const stat: Pop3Command<'STAT'> = {
  states: ['transaction'],
  run(s) {
    const { count, size } = s.maildrop.stat();
    return `${count} ${size}`;
  },
};
