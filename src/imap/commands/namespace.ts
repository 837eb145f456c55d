import type { ImapCommand } from '../types.js';

// RFC 2342 NAMESPACE: one personal namespace, no prefix, "/" delimiter; no others.
export const namespace: ImapCommand<'NAMESPACE'> = {
  states: ['authenticated', 'selected'],
  async run(s) {
    s.send('* NAMESPACE (("" "/")) NIL NIL');
    return 'NAMESPACE completed';
  },
};
