import { encodeBinaryParts } from '../../mail/binary-parts.js';
import { catenate } from '../catenate.js';
import type { AppendMessage, ImapCommand, ImapSession } from '../types.js';
import { checkFlags, compactSet, ImapBad, ImapNo, mailboxArg } from '../wire.js';
import { user } from './util.js';

/** The bytes of one append-message: its literal, or its CATENATE parts joined (RFC 4469 §5). */
async function messageBytes(s: ImapSession, m: AppendMessage): Promise<Buffer> {
  const max = s.ctx.config.maxMessageBytes;
  // RFC 6855 §4: the UTF8 data extension only after ENABLE UTF8=ACCEPT
  if (m.data.kind === 'literal' && m.data.utf8 && !s.enabled.has('UTF8=ACCEPT')) throw new ImapBad('APPEND UTF8 needs ENABLE UTF8=ACCEPT first');
  let raw = m.data.kind === 'literal' ? m.data.bytes : await catenate(s, m.data.parts, max);
  if (raw.length === 0) throw new ImapNo('CANNOT', 'empty message');
  if (raw.length > max) throw new ImapNo('TOOBIG', 'message too large');
  // RFC 3516 §4.3: a literal8 may carry binary parts (NULs, bare CR/LF, Content-Transfer-Encoding:
  // binary); they are stored base64-encoded, so BODY[] stays a valid literal and BINARY[] decodes
  // the octets as sent
  if (m.data.kind === 'literal' && m.data.binary) raw = encodeBinaryParts(raw) ?? raw;
  return raw;
}

// RFC 3501 §6.3.11 APPEND, RFC 3502 MULTIAPPEND, RFC 4469 CATENATE, RFC 4315 §3 APPENDUID,
// RFC 7888 LITERAL+: store one or more messages in a mailbox, all or none.
export const append: ImapCommand<'APPEND'> = {
  states: ['authenticated', 'selected'],
  async run(s, cmd) {
    const u = user(s);
    const name = mailboxArg(cmd.mailbox, s.utf8Names);
    // RFC 4469 §5: TRYCREATE is answered before any URL is looked at
    const mb = await s.ctx.store.mailboxes.get(u.id, name);
    if (!mb) throw new ImapNo('TRYCREATE', `no mailbox ${name}`);
    const msgs: { raw: Buffer; flags: string[]; internalDate: number | undefined }[] = [];
    let total = 0;
    for (const m of cmd.messages) {
      const raw = await messageBytes(s, m);
      total += raw.length;
      msgs.push({ raw, flags: checkFlags(m.flags), internalDate: m.date ?? undefined });
    }
    const quota = s.ctx.config.quotaBytes;
    if (quota > 0) {
      const usage = await s.ctx.store.users.usage(u.id);
      if (usage.bytes + total > quota) throw new ImapNo('OVERQUOTA', 'quota exceeded');
    }
    // RFC 3502 §3: if any message cannot be appended, none is; those already stored are taken out
    const uids: number[] = [];
    let uidValidity = mb.uidValidity;
    try {
      for (const m of msgs) {
        const r = await s.ctx.store.messages.append(mb.id, m.raw, { flags: m.flags, internalDate: m.internalDate });
        uids.push(r.uid);
        uidValidity = r.uidValidity;
      }
    } catch (err) {
      if (uids.length) await s.ctx.store.messages.remove(mb.id, uids).catch(() => undefined);
      throw err;
    }
    return `[APPENDUID ${uidValidity} ${compactSet(uids)}] APPEND completed`;
  },
};
