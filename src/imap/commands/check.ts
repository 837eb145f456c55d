import type { ImapCommand } from '../session.js';

// RFC 3501 §6.4.1 CHECK: a checkpoint; every write here is already committed, so just NOOP.
export const check: ImapCommand = {
  states: ['selected'],
  async run() {
    return 'CHECK completed';
  },
};
