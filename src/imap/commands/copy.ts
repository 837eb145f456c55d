import type { CmdOf, ImapCommand, ImapSession } from '../types.js';
import { ImapNo, mailboxArg, orderedSet } from '../wire.js';
import { resolveSet, selected, user } from './util.js';

/** Target and quota checks shared by COPY and MOVE. */
export async function copyTarget(s: ImapSession, cmd: CmdOf<'COPY' | 'MOVE'>) {
  const u = user(s);
  const sel = selected(s);
  const targets = resolveSet(sel, cmd.set, cmd.uid, s.searchRes);
  const name = mailboxArg(cmd.mailbox, s.utf8Names);
  const dst = await s.ctx.store.mailboxes.get(u.id, name);
  if (!dst) throw new ImapNo('TRYCREATE', `no mailbox ${name}`);
  return { sel, targets, dst };
}

// RFC 3501 §6.4.7 COPY, RFC 4315 §3 COPYUID: copy messages (flags, internal date kept) to a mailbox.
export const copy: ImapCommand<'COPY'> = {
  states: ['selected'],
  async run(s, cmd) {
    const { sel, targets, dst } = await copyTarget(s, cmd);
    if (!targets.length) return 'COPY completed (no messages)';
    const quota = s.ctx.config.quotaBytes;
    if (quota > 0) {
      const usage = await s.ctx.store.users.usage(s.user!.id);
      if (usage.bytes >= quota) throw new ImapNo('OVERQUOTA', 'quota exceeded');
    }
    const r = await s.ctx.store.messages.copy(sel.mailbox.id, targets.map((t) => t.uid), dst.id);
    if (!r.map.length) return 'COPY completed (no messages)';
    return `[COPYUID ${r.uidValidity} ${orderedSet(r.map.map((m) => m[0]))} ${orderedSet(r.map.map((m) => m[1]))}] COPY completed`;
  },
};
