import type { ImapCommand } from '../session.js';
import { ImapNo, noMoreArgs, tokString } from '../wire.js';
import { quotaLine } from './getquotaroot.js';

// RFC 9208 §4.2 GETQUOTA: usage and limit of the quota root "" (the user's storage).
export const getquota: ImapCommand = {
  states: ['authenticated', 'selected'],
  async run(s, cmd) {
    const root = tokString(cmd.args[0], 'quota root');
    noMoreArgs(cmd.args, 1);
    if (root !== '') throw new ImapNo('NONEXISTENT', 'no such quota root');
    s.send(await quotaLine(s));
    return 'GETQUOTA completed';
  },
};
