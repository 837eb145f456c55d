import type { ImapCommand } from '../session.js';
import { ImapNo, mailboxArg, noMoreArgs } from '../wire.js';
import { user } from './util.js';

// RFC 3501 §6.3.7 UNSUBSCRIBE: remove a mailbox from the subscribed list.
export const unsubscribe: ImapCommand = {
  states: ['authenticated', 'selected'],
  async run(s, cmd) {
    const u = user(s);
    const name = mailboxArg(cmd.args[0], s.utf8Names);
    noMoreArgs(cmd.args, 1);
    const mb = await s.ctx.store.mailboxes.get(u.id, name);
    if (!mb) throw new ImapNo('NONEXISTENT', `no mailbox ${name}`);
    await s.ctx.store.mailboxes.subscribe(mb.id, false);
    return 'UNSUBSCRIBE completed';
  },
};
