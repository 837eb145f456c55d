import type { ImapCommand } from '../session.js';
import { ImapBad, str } from '../wire.js';

// RFC 2971 ID: remember what the client says it is (for logs and the journey); say who we are.
export const id: ImapCommand = {
  states: ['not-authenticated', 'authenticated', 'selected'],
  async run(s, cmd) {
    const a = cmd.args[0];
    if (!a || cmd.args.length > 1) throw new ImapBad('ID takes one argument');
    if (a.t === 'list') {
      if (a.v.length > 60 || a.v.length % 2) throw new ImapBad('invalid ID parameter list');
      const info: Record<string, string> = {};
      for (let i = 0; i < a.v.length; i += 2) {
        const k = a.v[i];
        const v = a.v[i + 1];
        if (k.t !== 'string' || (v.t !== 'string' && v.t !== 'nil')) throw new ImapBad('invalid ID parameter');
        info[k.v.slice(0, 30).toLowerCase()] = v.t === 'nil' ? '' : v.v.slice(0, 1024);
      }
      s.clientId = info;
      s.log.info({ client: info }, 'client ID');
    } else if (a.t !== 'nil') throw new ImapBad('invalid ID argument');
    s.send(`* ID (${str('name')} ${str('postoffice')} ${str('vendor')} ${str('postoffice')})`);
    return 'ID completed';
  },
};
