import type { ImapCommand } from '../types.js';

// RFC 3501 §6.1.3 LOGOUT: BYE, then the tagged OK, then the server closes the connection.
export const logout: ImapCommand<'LOGOUT'> = {
  states: ['not-authenticated', 'authenticated', 'selected'],
  async run() {
    // the session writes the BYE before the OK and closes after it
    return { text: 'LOGOUT completed', after: 'logout' };
  },
};
