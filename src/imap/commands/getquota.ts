import type { ImapCommand } from '../types.js';
import { ImapNo } from '../wire.js';
import { quotaLine } from './getquotaroot.js';

// RFC 9208 §4.2 GETQUOTA: usage and limit of the quota root "" (the user's storage).
export const getquota: ImapCommand<'GETQUOTA'> = {
  states: ['authenticated', 'selected'],
  async run(s, { root }) {
    if (root !== '') throw new ImapNo('NONEXISTENT', 'no such quota root');
    s.send(await quotaLine(s));
    return 'GETQUOTA completed';
  },
};
