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
      // RFC 3501 §6.3.6: subscriptions are names. SUBSCRIBE may check that the mailbox exists (we
      // do); UNSUBSCRIBE takes off any name, also one whose mailbox is gone (the server MUST NOT
      // remove it by itself), and a name not subscribed is already off
      if (on && !(await s.ctx.store.mailboxes.get(u.id, name))) throw new ImapNo('NONEXISTENT', `no mailbox ${name}`);
      await s.ctx.store.mailboxes.setSubscribed(u.id, name, on);
      return `${verb} completed`;
    },
  };
}

// RFC 3501 §6.3.6 SUBSCRIBE: add a mailbox to the subscribed list (LSUB, LIST (SUBSCRIBED)).
export const subscribe = subscription(true, 'SUBSCRIBE');
