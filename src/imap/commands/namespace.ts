import type { ImapCommand } from '../session.js';

// RFC 2342 NAMESPACE: one personal namespace, no prefix, "/" delimiter; no others.
export const namespace: ImapCommand = {
  states: ['authenticated', 'selected'],
  async run(s) {
    s.send('* NAMESPACE (("" "/")) NIL NIL');
    return 'NAMESPACE completed';
  },
};
