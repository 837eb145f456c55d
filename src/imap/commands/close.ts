import type { ImapCommand } from '../session.js';
import { noMoreArgs } from '../wire.js';

// RFC 3501 §6.4.2 CLOSE: silently expunge \Deleted messages (if read-write) and unselect.
export const close: ImapCommand = {
  states: ['selected'],
  async run(s, cmd) {
    noMoreArgs(cmd.args, 0);
    const sel = s.selected!;
    s.setSelected(null);
    if (!sel.readOnly) await s.ctx.store.messages.expunge(sel.mailbox.id, undefined, { origin: s });
    return 'CLOSE completed';
  },
};
