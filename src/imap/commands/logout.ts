import type { ImapCommand } from '../session.js';

// RFC 3501 §6.1.3 LOGOUT: BYE, then the tagged OK, then the server closes the connection.
export const logout: ImapCommand = {
  states: ['not-authenticated', 'authenticated', 'selected'],
  async run(s) {
    s.send('* BYE postoffice logging out');
    s.state = 'logout';
    return 'LOGOUT completed';
  },
};
