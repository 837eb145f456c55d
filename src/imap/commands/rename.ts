import type { ImapCommand } from '../types.js';
import { ImapNo, mailboxArg } from '../wire.js';
import { createParents, validName } from './create.js';
import { storeNo, user } from './util.js';

// RFC 3501 §6.3.5 RENAME: a mailbox and its inferiors; renaming INBOX moves its messages.
export const rename: ImapCommand<'RENAME'> = {
  states: ['authenticated', 'selected'],
  async run(s, cmd) {
    const u = user(s);
    const from = mailboxArg(cmd.from, s.utf8Names);
    const to = validName(mailboxArg(cmd.to, s.utf8Names));
    if (!(await s.ctx.store.mailboxes.get(u.id, from))) throw new ImapNo('NONEXISTENT', `no mailbox ${from}`);
    if (to === 'INBOX' || (await s.ctx.store.mailboxes.get(u.id, to))) throw new ImapNo('ALREADYEXISTS', `mailbox ${to} already exists`);
    if (to.startsWith(from + '/')) throw new ImapNo('CANNOT', 'cannot rename a mailbox into itself');
    await createParents(s, u.id, to);
    if (from === 'INBOX') {
      // §6.3.5: the messages move to the new name and INBOX stays, empty (one store transaction).
      const inbox = (await s.ctx.store.mailboxes.get(u.id, 'INBOX'))!;
      const dst = await s.ctx.store.mailboxes.create(u.id, to).catch(storeNo);
      const uids = Array.from((await s.ctx.store.mailboxes.view(inbox.id))?.uids ?? []);
      if (uids.length) await s.ctx.store.messages.move(inbox.id, uids, dst.id);
      return 'RENAME completed';
    }
    await s.ctx.store.mailboxes.rename(u.id, from, to).catch(storeNo);
    if (s.selected && s.selected.mailbox.name === from && from !== 'INBOX') s.selected.mailbox.name = to;
    return 'RENAME completed';
  },
};
