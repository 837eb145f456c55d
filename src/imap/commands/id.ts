import type { ImapCommand } from '../types.js';
import { str } from '../wire.js';

// RFC 2971 ID: remember what the client says it is (for logs and the journey); say who we are.
export const id: ImapCommand<'ID'> = {
  states: ['not-authenticated', 'authenticated', 'selected'],
  async run(s, { params }) {
    if (params) {
      const info: Record<string, string> = {};
      for (const [k, v] of params) info[k.slice(0, 30).toLowerCase()] = v === null ? '' : v.slice(0, 1024);
      s.clientId = info;
      s.log.info({ client: info }, 'client ID');
    }
    s.send(`* ID (${str('name')} ${str('postoffice')} ${str('vendor')} ${str('postoffice')})`);
    return 'ID completed';
  },
};
