// Functions over a write transaction for the rows every mailbox change touches: the bytes
// (content-addressed, reference-counted), a mailbox copy (UID from uidnext, MODSEQ), its removal
// (a tombstone keeps the UID and MODSEQ for RFC 7162 VANISHED), and the journey.
import { createHash } from 'node:crypto';
import { TEXT_FROM_RAW } from '../analyze.js';
import { StoreError } from '../errors.js';
import type { BlobMeta, JourneyEvent, MailboxChange } from '../types.js';
import type { Row } from './open.js';
import { joinFlags, splitFlags } from './rows.js';
import type { Tx } from './writer.js';

/** Raise the mailbox's MODSEQ and return the new value. */
export function bumpModseq(tx: Tx, mailboxId: number): number {
  const r = tx.st('UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = ? RETURNING highestmodseq').get(mailboxId) as Row | undefined;
  if (!r) throw new StoreError('notfound', 'no such mailbox');
  return r.highestmodseq as number;
}

/** Store the bytes once (content-addressed) and take `refs` references. */
export function putBlob(tx: Tx, raw: Buffer, meta: BlobMeta, refs: number): number {
  const sha = createHash('sha256').update(raw).digest('hex');
  const found = tx.st('SELECT id FROM blobs WHERE sha256 = ?').get(sha) as Row | undefined;
  if (found) {
    tx.st('UPDATE blobs SET refs = refs + ? WHERE id = ?').run(refs, found.id);
    return found.id as number;
  }
  const r = tx.st(`INSERT INTO blobs (sha256, size, refs, raw, mime, search_text, message_id, subject, created)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`).get(
    sha, raw.length, refs, raw, JSON.stringify(meta.mime), meta.textFromRaw ? TEXT_FROM_RAW : meta.searchText, meta.messageId, meta.subject, Date.now()) as Row;
  // the indexed header text for SEARCH (migration 090); goes with the blob (ON DELETE CASCADE)
  if (meta.headerText) tx.st('INSERT INTO blob_headers (blob_id, text) VALUES (?, ?)').run(r.id, meta.headerText);
  return r.id as number;
}

/**
 * RFC 3501 §7.2.6 FLAGS: remember the keywords (flags without a backslash) a copy of this mailbox
 * was given. The one place that writes mailbox_keywords: insertCopy (deliver, append, import,
 * COPY, MOVE, RENAME INBOX) and setFlags call it. A helper rather than a trigger: SQLite triggers
 * cannot use the recursive query that splits the flags column, and a copy without keywords (nearly
 * every delivery) costs nothing here.
 */
export function noteKeywords(tx: Tx, mailboxId: number, flags: Iterable<string>): void {
  for (const f of flags) {
    if (f && !f.startsWith('\\')) tx.st('INSERT OR IGNORE INTO mailbox_keywords (mailbox_id, keyword) VALUES (?, ?)').run(mailboxId, f);
  }
}

/** One more reference to stored bytes (a copy of a message). */
export function holdBlob(tx: Tx, blobId: number): void {
  tx.st('UPDATE blobs SET refs = refs + 1 WHERE id = ?').run(blobId);
}

/** Drop references; the last reference gone, the bytes go. */
export function releaseBlob(tx: Tx, blobId: number, n = 1): void {
  const r = tx.st('UPDATE blobs SET refs = refs - ? WHERE id = ? RETURNING refs').get(n, blobId) as Row | undefined;
  if (r && (r.refs as number) <= 0) tx.st('DELETE FROM blobs WHERE id = ?').run(blobId);
}

/** A new copy in the mailbox: the next UID, a new MODSEQ, announced as 'exists'. The caller holds a blob reference for it. */
export function insertCopy(tx: Tx, mailboxId: number, blobId: number, size: number, flags: string[], internalDate: number, msgId: string | null): number {
  const mb = tx.st('UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1 WHERE id = ? RETURNING uidnext, highestmodseq')
    .get(mailboxId) as Row | undefined;
  if (!mb) throw new StoreError('notfound', 'no such mailbox');
  const uid = (mb.uidnext as number) - 1;
  const modseq = mb.highestmodseq as number;
  tx.st('INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, blob_id, size, msg_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
    .run(mailboxId, uid, modseq, joinFlags(flags), internalDate, blobId, size, msgId);
  if (flags.length) noteKeywords(tx, mailboxId, flags);
  const last = tx.changes[tx.changes.length - 1];
  if (last && last.kind === 'exists' && last.mailboxId === mailboxId) {
    last.uids.push(uid);
    last.modseq = modseq;
  } else tx.changes.push({ mailboxId, kind: 'exists', uids: [uid], modseq });
  return uid;
}

/** Copies the given UIDs (those that exist) to another mailbox, in UID order; returns [old, new] UID pairs. */
export function copyCopies(tx: Tx, from: number, uids: number[], to: number): { uidValidity: number; map: [number, number][] } {
  const dst = tx.st('SELECT uidvalidity FROM mailboxes WHERE id = ?').get(to) as Row | undefined;
  if (!dst) throw new StoreError('notfound', 'no such target mailbox');
  const st = tx.st('SELECT * FROM messages WHERE mailbox_id = ? AND uid = ?');
  const map: [number, number][] = [];
  for (const uid of [...uids].sort((a, b) => a - b)) {
    const m = st.get(from, uid) as Row | undefined;
    if (!m) continue;
    holdBlob(tx, m.blob_id as number);
    // RFC 3501 §6.4.7: flags and internal date are kept; \Recent is set in the target (by the UID watermark).
    const newUid = insertCopy(tx, to, m.blob_id as number, m.size as number, splitFlags(m.flags as string), m.internal_date as number, m.msg_id as string);
    map.push([uid, newUid]);
  }
  return { uidValidity: dst.uidvalidity as number, map };
}

/**
 * Which copies to remove: `deleted` — RFC 3501 §6.4.3 / RFC 4315 §2.1: those flagged \Deleted
 * (all of them, or only those among `uids`); `given` — exactly the given UIDs that exist.
 */
export type Removal = { which: 'deleted'; uids?: number[] } | { which: 'given'; uids: number[] };

/** Removes copies: one new MODSEQ, a tombstone per UID, a blob reference each; announced as 'expunge'. Returns the UIDs, ascending. */
export function removeCopies(tx: Tx, mailboxId: number, removal: Removal, origin?: unknown): number[] {
  let rows: Row[];
  if (removal.uids) {
    const st = tx.st('SELECT uid, blob_id, flags FROM messages WHERE mailbox_id = ? AND uid = ?');
    rows = [...new Set(removal.uids)].map((u) => st.get(mailboxId, u) as Row | undefined).filter((r): r is Row => !!r);
    if (removal.which === 'deleted') rows = rows.filter((r) => splitFlags(r.flags as string).includes('\\Deleted'));
  } else {
    // the partial index messages_deleted (migration 090): the same expression, word for word
    rows = tx.st(`SELECT uid, blob_id, flags FROM messages WHERE mailbox_id = ? AND instr(' ' || flags || ' ', ' \\Deleted ') > 0`).all(mailboxId) as Row[];
  }
  if (rows.length === 0) return [];
  rows.sort((a, b) => (a.uid as number) - (b.uid as number));
  const modseq = bumpModseq(tx, mailboxId);
  const del = tx.st('DELETE FROM messages WHERE mailbox_id = ? AND uid = ?');
  const tomb = tx.st('INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)');
  for (const r of rows) {
    del.run(mailboxId, r.uid);
    tomb.run(mailboxId, r.uid, modseq);
    releaseBlob(tx, r.blob_id as number);
  }
  const gone = rows.map((r) => r.uid as number);
  tx.changes.push({ mailboxId, kind: 'expunge', uids: gone, modseq, origin } satisfies MailboxChange);
  return gone;
}

/** Journey events, in the transaction of the change they describe. */
export function insertJourney(tx: Tx, events: JourneyEvent[]): void {
  const st = tx.st('INSERT INTO journey (msg_id, message_id, time, agent, step, details) VALUES (?, ?, ?, ?, ?, ?)');
  for (const e of events) st.run(e.msgId, e.messageId ?? null, e.time ?? Date.now(), e.agent, e.step, JSON.stringify(e.details ?? {}));
}
