import type { MailboxRecord } from '../../store/index.js';
import { flagsLines, noteReported } from '../flag-report.js';
import type { CmdOf, ImapCommand, ImapReply, ImapSession } from '../types.js';
import { compactSet, ImapBad, ImapNo, mailboxArg, mailboxOut, resolveStar, inSet } from '../wire.js';
import { user } from './util.js';


/** RFC 3501 §6.3.1/§6.3.2 SELECT and EXAMINE; RFC 7162 §3.1.8 CONDSTORE, §3.2.5 QRESYNC. */
export async function openMailbox(s: ImapSession, cmd: CmdOf<'SELECT' | 'EXAMINE'>, readOnly: boolean): Promise<ImapReply> {
  const u = user(s);
  const name = mailboxArg(cmd.mailbox, s.utf8Names);
  // RFC 7162 §3.2.5: the QRESYNC parameter only once QRESYNC is enabled
  if (cmd.qresync && !s.enabled.has('QRESYNC')) throw new ImapBad('QRESYNC must be ENABLEd first');
  const wasSelected = !!s.selected;
  s.setSelected(null);
  if (wasSelected) s.send('* OK [CLOSED] previous mailbox closed');
  const mb: MailboxRecord | null = await s.ctx.store.mailboxes.get(u.id, name);
  if (!mb) throw new ImapNo('NONEXISTENT', `no mailbox ${name}`);
  const msgs = await s.ctx.store.messages.list(mb.id);
  // set before the next await so no change announced from now on is missed
  s.setSelected({ mailbox: { ...mb }, readOnly, uids: msgs.map((m) => m.uid), recent: new Set(), pending: [], gone: false, keywords: new Set(), reported: new Map() });
  const sel = s.selected!;
  if (!readOnly) for (const uid of await s.ctx.store.mailboxes.claimRecent(mb.id)) sel.recent.add(uid);
  else {
    // EXAMINE shows \Recent without taking it: the newest `recent` messages are above the watermark
    const st = await s.ctx.store.mailboxes.status(mb.id);
    const n = Math.min(st?.recent ?? 0, msgs.length);
    for (let i = msgs.length - n; i < msgs.length; i++) sel.recent.add(msgs[i].uid);
  }
  s.searchRes = [];
  const rev2 = s.enabled.has('IMAP4REV2');
  const keywords = new Set<string>();
  let firstUnseen = 0;
  let highest = mb.highestModseq;
  msgs.forEach((m, i) => {
    for (const f of m.flags) if (!f.startsWith('\\')) keywords.add(f);
    if (!firstUnseen && !m.flags.includes('\\Seen')) firstUnseen = i + 1;
    if (m.modseq > highest) highest = m.modseq;
  });
  sel.mailbox.highestModseq = highest;
  // RFC 3501 §7.2.6 FLAGS, §7.1 PERMANENTFLAGS: the keywords in use; later ones are announced
  // before a FETCH shows them (flag-report.ts)
  sel.keywords = keywords;
  for (const line of flagsLines(keywords, readOnly)) s.send(line);
  s.send(`* ${msgs.length} EXISTS`);
  if (!rev2) s.send(`* ${sel.recent.size} RECENT`);
  if (firstUnseen && !rev2) s.send(`* OK [UNSEEN ${firstUnseen}] first unseen`);
  s.send(`* OK [UIDVALIDITY ${mb.uidValidity}] UIDs valid`);
  s.send(`* OK [UIDNEXT ${mb.uidNext}] predicted next UID`);
  s.send(`* OK [HIGHESTMODSEQ ${highest}] highest`);
  // RFC 9051 §6.3.2: IMAP4rev2 also sends the mailbox's LIST response (its canonical name)
  if (rev2) s.send(`* LIST () "/" ${mailboxOut(mb.name, true)}`);
  const q = cmd.qresync;
  if (q && q.uidValidity === mb.uidValidity) {
    // RFC 7162 §3.2.5.2: what vanished and what changed since the client's MODSEQ
    let gone = await s.ctx.store.messages.expungedSince(mb.id, q.modseq);
    if (q.known) {
      const known = resolveStar(q.known, Number.MAX_SAFE_INTEGER);
      gone = gone.filter((uid) => inSet(known, uid));
    }
    if (gone.length) s.send(`* VANISHED (EARLIER) ${compactSet(gone)}`);
    msgs.forEach((m, i) => {
      if (m.modseq > q.modseq) {
        const f = sel.recent.has(m.uid) && !rev2 ? [...m.flags, '\\Recent'] : m.flags;
        s.send(`* ${i + 1} FETCH (UID ${m.uid} FLAGS (${f.join(' ')}) MODSEQ (${m.modseq}))`);
        noteReported(sel, m.uid, m.modseq);
      }
    });
  }
  s.log.debug({ mailbox: name, readOnly }, 'selected');
  return `[${readOnly ? 'READ-ONLY' : 'READ-WRITE'}] ${readOnly ? 'EXAMINE' : 'SELECT'} completed`;
}

// RFC 3501 §6.3.1 SELECT: open a mailbox read-write; report FLAGS, EXISTS, RECENT, UIDVALIDITY, UIDNEXT.
export const select: ImapCommand<'SELECT'> = {
  states: ['authenticated', 'selected'],
  run: (s, cmd) => openMailbox(s, cmd, false),
};
