import { capabilities } from '../capabilities.js';
import type { ImapCommand } from '../session.js';
import { noMoreArgs } from '../wire.js';

// RFC 3501 §6.1.1 CAPABILITY: list what the server supports in the current state.
export const capability: ImapCommand = {
  states: ['not-authenticated', 'authenticated', 'selected'],
  async run(s, cmd) {
    noMoreArgs(cmd.args, 0);
    s.send(`* CAPABILITY ${capabilities(s)}`);
    return 'CAPABILITY completed';
  },
};
