// Helpers the commands share: sequence sets against the session's view, message records.
import type { MessageRecord } from '../../store/index.js';
import type { ImapSession, SeqArg, Selected } from '../types.js';
import { ImapBad, ImapNo, inSet, resolveStar } from '../wire.js';

export interface Target { seq: number; uid: number }

export function selected(s: ImapSession): Selected {
  if (!s.selected) throw new ImapBad('no mailbox selected');
  return s.selected;
}

export function user(s: ImapSession) {
  if (!s.user) throw new ImapBad('not logged in');
  return s.user;
}

/** RFC 3501 §9 sequence-set (or uid-set when `uid`) -> the messages of the view it names. */
export function resolveSet(sel: Selected, arg: SeqArg, uid: boolean, saved: number[] = []): Target[] {
  if (arg.saved) {
    // RFC 5182 §2.1: "$" is the saved search result (UIDs still in the view)
    const want = new Set(saved);
    const out: Target[] = [];
    sel.uids.forEach((u, i) => { if (want.has(u)) out.push({ seq: i + 1, uid: u }); });
    return out;
  }
  const raw = arg.set;
  const out: Target[] = [];
  if (uid) {
    const max = sel.uids.length ? sel.uids[sel.uids.length - 1] : 0;
    const set = resolveStar(raw, max);
    if (set.length === 1) {
      const [a, b] = set[0];
      // binary search the first uid >= a
      let lo = 0, hi = sel.uids.length;
      while (lo < hi) { const m = (lo + hi) >>> 1; if (sel.uids[m] < a) lo = m + 1; else hi = m; }
      for (let i = lo; i < sel.uids.length && sel.uids[i] <= b; i++) out.push({ seq: i + 1, uid: sel.uids[i] });
      return out;
    }
    sel.uids.forEach((u, i) => { if (inSet(set, u)) out.push({ seq: i + 1, uid: u }); });
    return out;
  }
  const n = sel.uids.length;
  const set = resolveStar(raw, n);
  for (const [a, b] of set) if (a < 1 || b > n) throw new ImapBad('invalid message sequence number');
  if (set.length === 1) {
    for (let i = set[0][0]; i <= set[0][1]; i++) out.push({ seq: i, uid: sel.uids[i - 1] });
    return out;
  }
  const seen = new Set<number>();
  for (const [a, b] of set) for (let i = a; i <= b; i++) seen.add(i);
  for (const i of [...seen].sort((x, y) => x - y)) out.push({ seq: i, uid: sel.uids[i - 1] });
  return out;
}

/**
 * Metadata (never bodies) of the targets: the mailbox's (cached, shared, frozen) list for many,
 * single look-ups for few. Records are read-only.
 */
export async function records(s: ImapSession, sel: Selected, targets: Target[]): Promise<Map<number, MessageRecord>> {
  const out = new Map<number, MessageRecord>();
  if (targets.length <= 64) {
    for (const t of targets) {
      const r = await s.ctx.store.messages.get(sel.mailbox.id, t.uid);
      if (r) out.set(t.uid, r);
    }
    return out;
  }
  const list = await s.ctx.store.messages.list(sel.mailbox.id);
  // both are in UID order (targets follow the view's sequence numbers): one merge
  let i = 0;
  for (const t of targets) {
    if (i > 0 && i <= list.length && list[i - 1].uid > t.uid) i = 0; // out of order: start over
    while (i < list.length && list[i].uid < t.uid) i++;
    if (i < list.length && list[i].uid === t.uid) out.set(t.uid, list[i]);
  }
  return out;
}

export function writable(sel: Selected): void {
  if (sel.readOnly) throw new ImapNo('READ-ONLY', 'mailbox is read-only (EXAMINE)');
}

/** Flags as the client sees them: \Recent added for rev1 sessions. */
export function clientFlags(s: ImapSession, sel: Selected, r: { uid: number; flags: string[] }): string {
  const f = sel.recent.has(r.uid) && !s.enabled.has('IMAP4REV2') ? [...r.flags, '\\Recent'] : r.flags;
  return `(${f.join(' ')})`;
}

/** Store errors with a reason (exists, notfound ...) -> NO with the RFC 5530 code. */
export function storeNo(err: unknown): never {
  const e = err as { reason?: string; message?: string };
  const code = e.reason === 'exists' ? 'ALREADYEXISTS' : e.reason === 'notfound' ? 'NONEXISTENT' : e.reason === 'inuse' ? 'INUSE' : e.reason === 'invalid' ? 'CANNOT' : null;
  if (code) throw new ImapNo(code, e.message ?? 'failed');
  throw err;
}

/** Our own expunge is reported as others' are (one renderer: updates.ts). */
export { reportExpunged } from '../updates.js';

/** RFC 7162 §3.1.10/§3.2.10: with CONDSTORE on, EXPUNGE and MOVE report the new HIGHESTMODSEQ. */
export async function highestModseqCode(s: ImapSession, sel: Selected): Promise<string> {
  if (!s.condstore) return '';
  const mb = await s.ctx.store.mailboxes.getById(sel.mailbox.id);
  if (mb && mb.highestModseq > sel.mailbox.highestModseq) sel.mailbox.highestModseq = mb.highestModseq;
  return `[HIGHESTMODSEQ ${sel.mailbox.highestModseq}] `;
}
