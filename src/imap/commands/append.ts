import type { ImapCommand } from '../session.js';
import { flagList, ImapBad, ImapNo, mailboxArg, parseDateTime } from '../wire.js';
import { user } from './util.js';

// RFC 3501 §6.3.11 APPEND, RFC 4315 §3 APPENDUID, RFC 7888 LITERAL+: store a message in a mailbox.
export const append: ImapCommand = {
  states: ['authenticated', 'selected'],
  async run(s, cmd) {
    const u = user(s);
    const a = cmd.args;
    const name = mailboxArg(a[0], s.utf8Names);
    let i = 1;
    let flags: string[] = [];
    let internalDate: number | undefined;
    if (a[i]?.t === 'list') flags = flagList(a[i++]).filter((f) => f !== '\\Recent');
    if (a[i]?.t === 'string' && !(a[i] as { literal: boolean }).literal) internalDate = parseDateTime((a[i++] as { v: string }).v);
    const msg = a[i];
    if (!msg || msg.t !== 'string') throw new ImapBad('APPEND needs the message as a literal');
    if (a.length > i + 1) throw new ImapBad('MULTIAPPEND is not supported');
    const raw = msg.bytes;
    if (raw.length === 0) throw new ImapNo('CANNOT', 'empty message');
    if (raw.length > s.ctx.config.maxMessageBytes) throw new ImapNo('TOOBIG', 'message too large');
    const mb = await s.ctx.store.mailboxes.get(u.id, name);
    if (!mb) throw new ImapNo('TRYCREATE', `no mailbox ${name}`);
    const quota = s.ctx.config.quotaBytes;
    if (quota > 0) {
      const usage = await s.ctx.store.users.usage(u.id);
      if (usage.bytes + raw.length > quota) throw new ImapNo('OVERQUOTA', 'quota exceeded');
    }
    const r = await s.ctx.store.messages.append(mb.id, raw, { flags, internalDate });
    return `[APPENDUID ${r.uidValidity} ${r.uid}] APPEND completed`;
  },
};
