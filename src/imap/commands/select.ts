import type { MailboxChange, MailboxRecord } from '../../store/index.js';
import { announceKeywords, flagsLines, noteReported, staleReport } from '../flag-report.js';
import type { CmdOf, ImapCommand, ImapReply, ImapSession } from '../types.js';
import { compactSet, ImapBad, ImapNo, mailboxArg, mailboxOut, resolveStar, inSet } from '../wire.js';
import { UidRanges, UidVector } from '../uid-vector.js';
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
  // the UID vector and counters, not a record per message (a million-message mailbox opens in ms)
  // a change announced while the view is read may or may not be in it (PostgreSQL: a NOTIFY can
  // arrive before the query answers): kept, and replayed once the view is set (nothing it already
  // holds is reported twice)
  const early: MailboxChange[] = [];
  const keep = (c: MailboxChange) => { early.push(c); };
  s.ctx.hub.watch(mb.id, keep);
  let view;
  try {
    view = await s.ctx.store.mailboxes.view(mb.id);
  } finally {
    s.ctx.hub.unwatch(mb.id, keep);
  }
  if (!view) throw new ImapNo('NONEXISTENT', `no mailbox ${name}`);
  // set before the next await so no change announced from now on is missed; one announced later
  // that the view already holds is not reported twice (updates.ts: EXISTS only above the last UID,
  // EXPUNGE only of UIDs in the view)
  const uids = UidVector.shared(view.uids);
  s.setSelected({ mailbox: { ...view.mailbox }, readOnly, uids, recent: new UidRanges(), pending: [], gone: false, keywords: new Set(view.keywords), reported: new Map() });
  const sel = s.selected!;
  for (const c of early) s.replayChange(c);
  const box = sel.mailbox;
  if (!readOnly) {
    const r = await s.ctx.store.mailboxes.claimRecent(box.id);
    if (r.through > r.after) sel.recent.add(r.after + 1, r.through);
  }
  else if (view.recent > 0 && uids.length) {
    // EXAMINE shows \Recent without taking it: the newest `recent` messages are above the watermark
    sel.recent.add(uids.at(Math.max(0, uids.length - view.recent))!, uids.last());
  }
  s.searchRes = [];
  const rev2 = s.enabled.has('IMAP4REV2');
  // RFC 3501 §7.1 UNSEEN: the sequence number of the first message without \Seen
  const firstUnseen = view.firstUnseen ? uids.seqOf(view.firstUnseen) : 0;
  // RFC 3501 §7.2.6 FLAGS, §7.1 PERMANENTFLAGS: the keywords in use; later ones are announced
  // before a FETCH shows them (flag-report.ts)
  for (const line of flagsLines(sel.keywords, readOnly)) s.send(line);
  s.send(`* ${uids.length} EXISTS`);
  if (!rev2) s.send(`* ${sel.recent.countIn(uids)} RECENT`);
  if (firstUnseen && !rev2) s.send(`* OK [UNSEEN ${firstUnseen}] first unseen`);
  s.send(`* OK [UIDVALIDITY ${box.uidValidity}] UIDs valid`);
  s.send(`* OK [UIDNEXT ${box.uidNext}] predicted next UID`);
  s.send(`* OK [HIGHESTMODSEQ ${box.highestModseq}] highest`);
  // RFC 9051 §6.3.2: IMAP4rev2 also sends the mailbox's LIST response (its canonical name)
  if (rev2) s.send(`* LIST () "/" ${mailboxOut(box.name, true)}`);
  const q = cmd.qresync;
  if (q && q.uidValidity === box.uidValidity) {
    // RFC 7162 §3.2.5.2: what vanished and what changed since the client's MODSEQ
    let gone = await s.ctx.store.messages.expungedSince(box.id, q.modseq);
    if (q.known) {
      const known = resolveStar(q.known, Number.MAX_SAFE_INTEGER);
      gone = gone.filter((uid) => inSet(known, uid));
    }
    if (gone.length) s.send(`* VANISHED (EARLIER) ${compactSet(gone)}`);
    // from the (mailbox, modseq) index; the view may since have changed: only messages still in
    // it, at their sequence numbers now (later changes are reported as updates)
    for (const m of await s.ctx.store.messages.changedSince(box.id, q.modseq)) {
      const seq = sel.uids.seqOf(m.uid);
      if (!seq || staleReport(sel, m.uid, m.modseq)) continue;
      announceKeywords((l) => s.send(l), sel, m.flags);
      const f = sel.recent.has(m.uid) && !rev2 ? [...m.flags, '\\Recent'] : m.flags;
      s.send(`* ${seq} FETCH (UID ${m.uid} FLAGS (${f.join(' ')}) MODSEQ (${m.modseq}))`);
      noteReported(sel, m.uid, m.modseq);
      await s.maybeFlush();
    }
  }
  s.log.debug({ mailbox: name, readOnly }, 'selected');
  return `[${readOnly ? 'READ-ONLY' : 'READ-WRITE'}] ${readOnly ? 'EXAMINE' : 'SELECT'} completed`;
}

// RFC 3501 §6.3.1 SELECT: open a mailbox read-write; report FLAGS, EXISTS, RECENT, UIDVALIDITY, UIDNEXT.
export const select: ImapCommand<'SELECT'> = {
  states: ['authenticated', 'selected'],
  run: (s, cmd) => openMailbox(s, cmd, false),
};
