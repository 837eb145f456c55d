import type { ImapCommand, ImapSession } from '../session.js';
import { ImapNo, mailboxArg, noMoreArgs, orderedSet, tokAtom } from '../wire.js';
import { resolveSet, selected, user } from './util.js';
import type { ParsedCommand } from '../parser.js';

/** Target and quota checks shared by COPY and MOVE. */
export async function copyTarget(s: ImapSession, cmd: ParsedCommand) {
  const u = user(s);
  const sel = selected(s);
  const targets = resolveSet(sel, tokAtom(cmd.args[0], 'sequence set'), cmd.uid, s.searchRes);
  const name = mailboxArg(cmd.args[1], s.utf8Names);
  noMoreArgs(cmd.args, 2);
  const dst = await s.ctx.store.mailboxes.get(u.id, name);
  if (!dst) throw new ImapNo('TRYCREATE', `no mailbox ${name}`);
  return { sel, targets, dst };
}

// RFC 3501 §6.4.7 COPY, RFC 4315 §3 COPYUID: copy messages (flags, internal date kept) to a mailbox.
export const copy: ImapCommand = {
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
