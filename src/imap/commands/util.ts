// Helpers the commands share: sequence sets against the session's view, message records.
import type { MessageRecord } from '../../store/index.js';
import type { ImapSession, SeqArg, Selected } from '../types.js';
import { ImapBad, ImapNo, resolveStar } from '../wire.js';

export interface Target { seq: number; uid: number }

export function selected(s: ImapSession): Selected {
  if (!s.selected) throw new ImapBad('no mailbox selected');
  return s.selected;
}

export function user(s: ImapSession) {
  if (!s.user) throw new ImapBad('not logged in');
  return s.user;
}

/** RFC 3501 §9 sequence-set (or uid-set when `uid`) -> the messages of the view it names, in sequence order. */
export function resolveSet(sel: Selected, arg: SeqArg, uid: boolean, saved: number[] = []): Target[] {
  const v = sel.uids;
  if (arg.saved) {
    // RFC 5182 §2.1: "$" is the saved search result (UIDs still in the view)
    const seqs: number[] = [];
    for (const u of saved) { const q = v.seqOf(u); if (q) seqs.push(q); }
    return fromSeqs(sel, seqs);
  }
  const raw = arg.set;
  if (uid) {
    const set = resolveStar(raw, v.last());
    if (set.length === 1) {
      const [a, b] = set[0];
      const out: Target[] = [];
      for (let i = v.lowerBound(a); i < v.length && v.at(i)! <= b; i++) out.push({ seq: i + 1, uid: v.at(i)! });
      return out;
    }
    // each range by binary search: a few ranges never walk the whole view
    const seqs: number[] = [];
    for (const [a, b] of set) for (let i = v.lowerBound(a); i < v.length && v.at(i)! <= b; i++) seqs.push(i + 1);
    return fromSeqs(sel, seqs);
  }
  const n = v.length;
  const set = resolveStar(raw, n);
  for (const [a, b] of set) if (a < 1 || b > n) throw new ImapBad('invalid message sequence number');
  if (set.length === 1) {
    const out: Target[] = [];
    for (let i = set[0][0]; i <= set[0][1]; i++) out.push({ seq: i, uid: v.at(i - 1)! });
    return out;
  }
  const seqs: number[] = [];
  for (const [a, b] of set) for (let i = a; i <= b; i++) seqs.push(i);
  return fromSeqs(sel, seqs);
}

/** Sequence numbers (any order, repeats allowed) -> targets in sequence order, each once. */
function fromSeqs(sel: Selected, seqs: number[]): Target[] {
  const sorted = Uint32Array.from(seqs).sort();
  const out: Target[] = [];
  for (let i = 0; i < sorted.length; i++) {
    if (i > 0 && sorted[i] === sorted[i - 1]) continue;
    out.push({ seq: sorted[i], uid: sel.uids.at(sorted[i] - 1)! });
  }
  return out;
}

/** UIDs a chunk of records is read for at once (messages.some): memory stays bounded at any mailbox size. */
export const RECORD_CHUNK = 5_000;

/**
 * The targets in chunks, each with its messages' metadata (never bodies), read with one
 * messages.some() per chunk; a target expunged meanwhile has no record. Records are read-only.
 */
export async function* recordChunks(s: ImapSession, sel: Selected, targets: readonly Target[], size = RECORD_CHUNK): AsyncGenerator<{ targets: Target[]; recs: Map<number, MessageRecord> }> {
  for (let i = 0; i < targets.length; i += size) {
    const part = targets.slice(i, i + size);
    const recs = new Map<number, MessageRecord>();
    for (const r of await s.ctx.store.messages.some(sel.mailbox.id, part.map((t) => t.uid))) recs.set(r.uid, r);
    yield { targets: part, recs };
  }
}

/**
 * Metadata (never bodies) of the targets, read in chunks of RECORD_CHUNK UIDs (messages.some),
 * never the whole mailbox. Records are read-only. For many targets, recordChunks() keeps only one
 * chunk in memory.
 */
export async function records(s: ImapSession, sel: Selected, targets: Target[]): Promise<Map<number, MessageRecord>> {
  const out = new Map<number, MessageRecord>();
  for await (const chunk of recordChunks(s, sel, targets)) for (const [uid, r] of chunk.recs) out.set(uid, r);
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
