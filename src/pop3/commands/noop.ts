import type { Pop3Command } from '../types.js';

// RFC 1939 §5 NOOP: nothing, but the answer.
export const noop: Pop3Command<'NOOP'> = {
  states: ['transaction'],
  run() {
    return '';
  },
};
