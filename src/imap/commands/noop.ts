import type { ImapCommand } from '../types.js';

// RFC 3501 §6.1.2 NOOP: does nothing; pending mailbox updates are sent before the OK.
export const noop: ImapCommand<'NOOP'> = {
  states: ['not-authenticated', 'authenticated', 'selected'],
  async run() {
    return 'NOOP completed';
  },
};
