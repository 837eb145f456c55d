import type { ImapCommand } from '../types.js';

// RFC 3691 UNSELECT: leave the selected state without expunging.
export const unselect: ImapCommand<'UNSELECT'> = {
  states: ['selected'],
  async run(s) {
    s.setSelected(null);
    return 'UNSELECT completed';
  },
};
