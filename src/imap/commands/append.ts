import { encodeBinaryParts } from '../../mail/binary-parts.js';
import type { ImapCommand } from '../types.js';
import { checkFlags, ImapBad, ImapNo, mailboxArg } from '../wire.js';
import { user } from './util.js';

// RFC 3501 §6.3.11 APPEND, RFC 4315 §3 APPENDUID, RFC 7888 LITERAL+: store a message in a mailbox.
export const append: ImapCommand<'APPEND'> = {
  states: ['authenticated', 'selected'],
  async run(s, cmd) {
    const u = user(s);
    const name = mailboxArg(cmd.mailbox, s.utf8Names);
    // RFC 3502 MULTIAPPEND and RFC 4469 CATENATE are read by the grammar; not (yet) carried out here
    if (cmd.messages.length > 1) throw new ImapBad('MULTIAPPEND is not supported');
    const m = cmd.messages[0];
    if (m.data.kind !== 'literal') throw new ImapBad('CATENATE is not supported');
    const flags = checkFlags(m.flags);
    const internalDate = m.date ?? undefined;
    const message = m.data.bytes;
    // RFC 3516 §4.3: a literal8 message may carry binary parts; they are stored base64-encoded
    // (a NUL can only have come in a literal8: RFC 3501 §9 CHAR8 excludes it from plain literals)
    const raw = message.includes(0) ? encodeBinaryParts(message) ?? message : message;
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
