import { capabilities } from '../capabilities.js';
import type { ImapCommand } from '../types.js';

// RFC 3501 §6.1.1 CAPABILITY: list what the server supports in the current state.
export const capability: ImapCommand<'CAPABILITY'> = {
  states: ['not-authenticated', 'authenticated', 'selected'],
  async run(s) {
    s.send(`* CAPABILITY ${capabilities(s)}`);
    return 'CAPABILITY completed';
  },
};
