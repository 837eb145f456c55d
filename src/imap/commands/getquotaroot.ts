import type { ImapCommand, ImapSession } from '../types.js';
import { ImapNo, mailboxArg, mailboxOut } from '../wire.js';
import { user } from './util.js';

/** RFC 9208 §5.1 the QUOTA response for the user's one root "". */
export async function quotaLine(s: ImapSession): Promise<string> {
  const u = user(s);
  const usage = await s.ctx.store.users.usage(u.id);
  const limit = s.ctx.config.quotaBytes;
  if (limit <= 0) throw new ImapNo('CANNOT', 'no quota is configured');
  return `* QUOTA "" (STORAGE ${Math.ceil(usage.bytes / 1024)} ${Math.floor(limit / 1024)})`;
}

// RFC 9208 §4.3.2 GETQUOTAROOT: every mailbox is under the user's quota root "".
export const getquotaroot: ImapCommand<'GETQUOTAROOT'> = {
  states: ['authenticated', 'selected'],
  async run(s, cmd) {
    const u = user(s);
    const name = mailboxArg(cmd.mailbox, s.utf8Names);
    if (!(await s.ctx.store.mailboxes.get(u.id, name))) throw new ImapNo('NONEXISTENT', `no mailbox ${name}`);
    s.send(`* QUOTAROOT ${mailboxOut(name, s.utf8Names)} ""`);
    s.send(await quotaLine(s));
    return 'GETQUOTAROOT completed';
  },
};
