import type { ImapCommand } from '../types.js';

// RFC 3501 §6.4.1 CHECK: a checkpoint; every write here is already committed, so just NOOP.
export const check: ImapCommand<'CHECK'> = {
  states: ['selected'],
  async run() {
    return 'CHECK completed';
  },
};
