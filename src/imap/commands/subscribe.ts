import type { CmdOf, ImapCommand } from '../types.js';
import { ImapNo, mailboxArg } from '../wire.js';
import { user } from './util.js';

/** SUBSCRIBE and UNSUBSCRIBE differ only in the flag they set. */
export function subscription<V extends 'SUBSCRIBE' | 'UNSUBSCRIBE'>(on: boolean, verb: V): ImapCommand<V> {
  return {
    states: ['authenticated', 'selected'],
    async run(s, cmd) {
      const u = user(s);
      const name = mailboxArg((cmd as CmdOf<'SUBSCRIBE' | 'UNSUBSCRIBE'>).mailbox, s.utf8Names);
      const mb = await s.ctx.store.mailboxes.get(u.id, name);
      if (!mb) throw new ImapNo('NONEXISTENT', `no mailbox ${name}`);
      await s.ctx.store.mailboxes.subscribe(mb.id, on);
      return `${verb} completed`;
    },
  };
}

// RFC 3501 §6.3.6 SUBSCRIBE: add a mailbox to the subscribed list (LSUB, LIST (SUBSCRIBED)).
export const subscribe = subscription(true, 'SUBSCRIBE');
