// Changes other sessions (and other processes) make to the selected mailbox, queued per session and
// reported as untagged EXISTS / RECENT / EXPUNGE (or VANISHED) / FETCH FLAGS at the points
// RFC 3501 §5.2 and §7.4.1 allow (RFC 7162 §3.2.10 VANISHED under QRESYNC). One expunge renderer
// for these and for the session's own EXPUNGE, MOVE and CLOSE.
import type { MailboxChange, MessageRecord } from '../store/index.js';
import { records } from './commands/util.js';
import { announceKeywords, noteReported, staleReport } from './flag-report.js';
import type { ImapSession, Selected } from './types.js';
import { compactSet } from './wire.js';

/** pending changes a session may hold before it is asked to reconnect */
const MAX_PENDING = 10_000;

/**
 * RFC 3501 §7.4.1 EXPUNGE (highest sequence number first, so each number is right when sent), or
 * RFC 7162 §3.2.10 one VANISHED for all under QRESYNC; the UIDs leave the view.
 */
export function reportExpunged(s: ImapSession, sel: Selected, uids: Iterable<number>): void {
  const gone = sel.uids.remove(uids); // highest sequence number first
  if (!gone.length) return;
  if (s.enabled.has('QRESYNC')) s.send(`* VANISHED ${compactSet(gone.map((g) => g.uid))}`);
  else for (const g of gone) s.send(`* ${g.seq} EXPUNGE`);
}

export class MailboxUpdates {
  private updating: Promise<void> = Promise.resolve();
  /** entries of `pending` this session copied (the events themselves are shared by every session) */
  private readonly owned = new WeakSet<object>();
  /** the hub calls this for every change to the watched mailbox */
  readonly onChange = (c: MailboxChange) => this.changed(c);

  constructor(private readonly s: ImapSession) {}

  private changed(c: MailboxChange): void {
    const s = this.s;
    const sel = s.selected;
    if (!sel || c.mailboxId !== sel.mailbox.id) return;
    if ((c.kind === 'flags' || c.kind === 'expunge') && c.origin === s) {
      // our own STORE/EXPUNGE/MOVE answered already; keep only flag changes others made
      return;
    }
    // coalesce runs of the same kind, so a bulk delivery is one pending entry
    const last = sel.pending[sel.pending.length - 1];
    if (last && last.kind === 'exists' && c.kind === 'exists' && last.uids.length < 1_000_000) {
      // events are shared by every session: copy once, then grow our own copy
      if (!this.owned.has(last)) {
        const mine = { ...last, uids: [...last.uids] };
        this.owned.add(mine);
        sel.pending[sel.pending.length - 1] = mine;
      }
      const mine = sel.pending[sel.pending.length - 1] as typeof last;
      for (const u of c.uids) mine.uids.push(u);
      mine.modseq = Math.max(mine.modseq, c.modseq);
      s.idleWake?.();
      return;
    }
    if (sel.pending.length >= MAX_PENDING) {
      // a client that never lets us report is not worth an unbounded queue
      s.bye('too many pending mailbox changes; please reconnect');
      return;
    }
    sel.pending.push(c);
    s.idleWake?.();
  }

  /** Send what is pending (RFC 3501 §7.4.1: expunges only when allowed); one report at a time. */
  send(allowExpunge: boolean): Promise<void> {
    const p = this.updating.then(() => this.report(allowExpunge));
    this.updating = p.catch(() => undefined);
    return p;
  }

  private async report(allowExpunge: boolean): Promise<void> {
    const s = this.s;
    const sel = s.selected;
    if (!sel || !sel.pending.length) return;
    const rev2 = s.enabled.has('IMAP4REV2');
    while (sel.pending.length) {
      const c = sel.pending[0];
      if (c.kind === 'deleted') {
        sel.pending = [];
        sel.gone = true;
        s.bye('the selected mailbox was deleted');
        return;
      }
      if (c.kind === 'expunge') {
        if (!allowExpunge) break;
        sel.pending.shift();
        reportExpunged(s, sel, c.uids);
      } else if (c.kind === 'exists') {
        sel.pending.shift();
        // UIDs the session already has (its SELECT's view was read after they were stored, and
        // their announcement came later) are not new again
        const last = sel.uids.last();
        const fresh = [...new Set(c.uids.filter((u) => u > last))].sort((a, b) => a - b);
        if (!fresh.length) continue;
        sel.uids.append(fresh);
        if (!sel.readOnly) {
          const r = await s.ctx.store.mailboxes.claimRecent(sel.mailbox.id).catch(() => ({ after: 0, through: 0 }));
          if (r.through > r.after) sel.recent.add(r.after + 1, r.through);
        }
        s.send(`* ${sel.uids.length} EXISTS`);
        // RFC 3501 §7.3.2 RECENT counts messages of the mailbox as this client knows it: claimRecent
        // may have taken UIDs whose EXISTS is still queued (they count when they arrive)
        if (!rev2) s.send(`* ${sel.recent.countIn(sel.uids)} RECENT`);
      } else {
        sel.pending.shift();
        const targets: { seq: number; uid: number }[] = [];
        for (const ch of c.changes) {
          const seq = sel.uids.seqOf(ch.uid);
          if (seq && !staleReport(sel, ch.uid, ch.modseq)) targets.push({ seq, uid: ch.uid });
        }
        // RFC 7162 §3.1.4, RFC 3501 §7.4.2: the message's flags as they are now, with its current
        // MODSEQ. The event's snapshot may be older than what this client has since been shown,
        // or has stored itself with FLAGS.SILENT: sending it would roll the client's flags back
        const now = targets.length ? await records(s, sel, targets) : new Map<number, MessageRecord>();
        for (const t of targets) {
          const r = now.get(t.uid);
          if (!r || staleReport(sel, t.uid, r.modseq)) continue;
          // RFC 3501 §7.2.6: a keyword new to the client is announced first
          announceKeywords((l) => s.send(l), sel, r.flags);
          const flags = sel.recent.has(t.uid) && !rev2 ? [...r.flags, '\\Recent'] : r.flags;
          s.send(`* ${t.seq} FETCH (UID ${t.uid} FLAGS (${flags.join(' ')})${s.condstore ? ` MODSEQ (${r.modseq})` : ''})`);
          noteReported(sel, t.uid, r.modseq);
        }
      }
      if (c.modseq > sel.mailbox.highestModseq) sel.mailbox.highestModseq = c.modseq;
      await s.maybeFlush();
    }
  }
}
