import type { ImapCommand } from '../session.js';
import { noMoreArgs } from '../wire.js';

// RFC 3691 UNSELECT: leave the selected state without expunging.
export const unselect: ImapCommand = {
  states: ['selected'],
  async run(s, cmd) {
    noMoreArgs(cmd.args, 0);
    s.setSelected(null);
    return 'UNSELECT completed';
  },
};
