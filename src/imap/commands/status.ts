import type { MailboxStatus } from '../../store/index.js';
import type { ImapCommand, ImapSession } from '../types.js';
import { ImapNo, mailboxArg, mailboxOut } from '../wire.js';
import { user } from './util.js';

export function statusLine(s: ImapSession, name: string, st: MailboxStatus, items: string[]): string {
  const v: Record<string, number> = {
    MESSAGES: st.messages, RECENT: st.recent, UIDNEXT: st.uidNext, UIDVALIDITY: st.uidValidity,
    UNSEEN: st.unseen, DELETED: st.deleted, SIZE: st.size, HIGHESTMODSEQ: st.highestModseq,
  };
  return `* STATUS ${mailboxOut(name, s.utf8Names)} (${items.map((i) => `${i} ${v[i]}`).join(' ')})`;
}

// RFC 3501 §6.3.10 STATUS: counters of a mailbox without selecting it (RFC 9051 adds SIZE, DELETED).
export const status: ImapCommand<'STATUS'> = {
  states: ['authenticated', 'selected'],
  async run(s, cmd) {
    const u = user(s);
    const name = mailboxArg(cmd.mailbox, s.utf8Names);
    const items = cmd.items;
    const mb = await s.ctx.store.mailboxes.get(u.id, name);
    if (!mb) throw new ImapNo('NONEXISTENT', `no mailbox ${name}`);
    const st = await s.ctx.store.mailboxes.status(mb.id);
    if (!st) throw new ImapNo('NONEXISTENT', `no mailbox ${name}`);
    s.send(statusLine(s, mb.name, st, items));
    return 'STATUS completed';
  },
};
