import type { ImapCommand } from '../types.js';

// RFC 3501 §6.4.2 CLOSE: silently expunge \Deleted messages (if read-write) and unselect.
export const close: ImapCommand<'CLOSE'> = {
  states: ['selected'],
  async run(s) {
    const sel = s.selected!;
    s.setSelected(null);
    if (!sel.readOnly) await s.ctx.store.messages.expunge(sel.mailbox.id, undefined, { origin: s });
    return 'CLOSE completed';
  },
};
