import type { ImapCommand } from '../types.js';
import { ImapNo, mailboxArg } from '../wire.js';
import { storeNo, user } from './util.js';

// RFC 3501 §6.3.4 DELETE: remove a mailbox and its messages; INBOX cannot be deleted.
export const del: ImapCommand<'DELETE'> = {
  states: ['authenticated', 'selected'],
  async run(s, cmd) {
    const u = user(s);
    const name = mailboxArg(cmd.mailbox, s.utf8Names);
    if (name === 'INBOX') throw new ImapNo('CANNOT', 'INBOX cannot be deleted');
    const mb = await s.ctx.store.mailboxes.get(u.id, name);
    if (!mb) throw new ImapNo('NONEXISTENT', `no mailbox ${name}`);
    if (s.selected?.mailbox.id === mb.id) s.setSelected(null);
    await s.ctx.store.mailboxes.delete(mb.id).catch(storeNo);
    return 'DELETE completed';
  },
};
