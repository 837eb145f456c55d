import type { ImapCommand } from '../session.js';
import { noMoreArgs } from '../wire.js';

// RFC 3501 §6.1.2 NOOP: does nothing; pending mailbox updates are sent before the OK.
export const noop: ImapCommand = {
  states: ['not-authenticated', 'authenticated', 'selected'],
  async run(_s, cmd) {
    noMoreArgs(cmd.args, 0);
    return 'NOOP completed';
  },
};
