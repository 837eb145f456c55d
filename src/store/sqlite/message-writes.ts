// Changing mailbox copies: APPEND (and imports), flags (MODSEQ, UNCHANGEDSINCE), EXPUNGE by the
// \Deleted rule, removal of given copies (POP3), COPY and MOVE.
import { createHash } from 'node:crypto';
import { toCrlf } from '../../mail/dot-stuffing.js';
import { analyze } from '../analyze.js';
import { StoreError } from '../errors.js';
import type { BlobMeta, FlagChange, FlagOp, ImportItem, ImportOutcome, JourneyEvent } from '../types.js';
import { bumpModseq, copyCopies, insertCopy, insertJourney, noteKeywords, putBlob, removeCopies } from './copies.js';
import type { Row } from './open.js';
import { joinFlags, splitFlags } from './rows.js';
import type { Writer } from './writer.js';

/** an import item, parsed before the transaction (so that the batch holds the writer only for its inserts) */
type Prepared = { item: ImportItem; raw: Buffer; sha: string; meta: BlobMeta | null; error?: string; held?: boolean };

export const messageWrites = {
  append: async (w: Writer, mailboxId: number, given: Buffer, opts: { flags?: string[]; internalDate?: number; journey?: JourneyEvent[] } = {}) => {
    const raw = toCrlf(given); // stored line ends are always CRLF: sizes are what IMAP and POP3 send
    const meta = await analyze(raw, w.mimeLimits);
    return w.write((tx) => {
      const mb = tx.st('SELECT uidvalidity FROM mailboxes WHERE id = ?').get(mailboxId) as Row | undefined;
      if (!mb) throw new StoreError('notfound', 'no such mailbox');
      const blobId = putBlob(tx, raw, meta, 1);
      const uid = insertCopy(tx, mailboxId, blobId, raw.length, opts.flags ?? [], opts.internalDate ?? Date.now(), null);
      if (opts.journey) insertJourney(tx, opts.journey);
      return { uid, uidValidity: mb.uidvalidity as number };
    });
  },
  setFlags: (w: Writer, mailboxId: number, uids: number[], op: FlagOp, flags: string[], opts: { unchangedSince?: number; origin?: unknown } = {}) =>
    w.write((tx) => {
      const st = tx.st('SELECT uid, flags, modseq FROM messages WHERE mailbox_id = ? AND uid = ?');
      const upd = tx.st('UPDATE messages SET flags = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?');
      const changed: FlagChange[] = [];
      const failed: number[] = [];
      let modseq = 0;
      for (const uid of uids) {
        const m = st.get(mailboxId, uid) as Row | undefined;
        if (!m) continue;
        // RFC 7162 §3.1.3: UNCHANGEDSINCE fails for messages modified after the given MODSEQ
        if (opts.unchangedSince !== undefined && (m.modseq as number) > opts.unchangedSince) { failed.push(uid); continue; }
        const old = splitFlags(m.flags as string);
        const next = op === 'set' ? [...new Set(flags)] : op === 'add' ? [...new Set([...old, ...flags])] : old.filter((f) => !flags.includes(f));
        if (next.length === old.length && next.every((f) => old.includes(f))) continue;
        if (!modseq) modseq = bumpModseq(tx, mailboxId);
        upd.run(joinFlags(next), modseq, mailboxId, uid);
        if (op !== 'remove') noteKeywords(tx, mailboxId, next.filter((f) => !old.includes(f)));
        changed.push({ uid, flags: next, modseq });
      }
      if (changed.length) tx.changes.push({ mailboxId, kind: 'flags', changes: changed, modseq, origin: opts.origin });
      return { changed, failed };
    }),
  // RFC 3501 §6.4.3 EXPUNGE, RFC 4315 §2.1 UID EXPUNGE: only copies flagged \Deleted go, all of them or those among `uids`.
  expunge: (w: Writer, mailboxId: number, uids?: number[], opts: { origin?: unknown; journey?: JourneyEvent[] } = {}) =>
    w.write((tx) => {
      const gone = removeCopies(tx, mailboxId, { which: 'deleted', uids }, opts.origin);
      if (opts.journey) insertJourney(tx, opts.journey);
      return gone;
    }),
  // RFC 1939 §6 UPDATE state: the messages marked by DELE go, whatever their flags.
  remove: (w: Writer, mailboxId: number, uids: number[], opts: { origin?: unknown; journey?: JourneyEvent[] } = {}) =>
    w.write((tx) => {
      const gone = removeCopies(tx, mailboxId, { which: 'given', uids }, opts.origin);
      if (opts.journey) insertJourney(tx, opts.journey);
      return gone;
    }),
  copy: (w: Writer, from: number, uids: number[], to: number) => w.write((tx) => copyCopies(tx, from, uids, to)),
  // RFC 6851 MOVE: the copies and the removal of the originals in one transaction.
  move: (w: Writer, from: number, uids: number[], to: number, opts: { origin?: unknown } = {}) =>
    w.write((tx) => {
      const res = copyCopies(tx, from, uids, to);
      removeCopies(tx, from, { which: 'given', uids: res.map.map(([u]) => u) }, opts.origin);
      return res;
    }),
  appendMany: async (w: Writer, mailboxId: number, items: ImportItem[]): Promise<ImportOutcome[]> => {
    const prepared: Prepared[] = [];
    // bytes the mailbox holds already are not parsed again (a re-run reads mostly those)
    const heldNow = w.st('SELECT 1 FROM blobs b JOIN messages m ON m.blob_id = b.id WHERE b.sha256 = ? AND m.mailbox_id = ? LIMIT 1');
    for (const item of items) {
      const raw = toCrlf(item.raw);
      const sha = createHash('sha256').update(raw).digest('hex');
      if (heldNow.get(sha, mailboxId)) { prepared.push({ item, raw, sha, meta: null, held: true }); continue; }
      try {
        prepared.push({ item, raw, sha, meta: await analyze(raw, w.mimeLimits) });
      } catch (err) {
        prepared.push({ item, raw, sha, meta: null, error: `cannot parse: ${(err as Error).message}` });
      }
    }
    return w.write((tx) => {
      const mb = tx.st('SELECT name FROM mailboxes WHERE id = ?').get(mailboxId) as Row | undefined;
      if (!mb) throw new StoreError('notfound', 'no such mailbox');
      return prepared.map(({ item, raw, sha, meta, error, held: wasHeld }): ImportOutcome => {
        // (held when read: an expunge since then would leave it out; a re-run brings it in)
        if (wasHeld) return { duplicate: true };
        if (!meta) return { failed: error ?? 'cannot parse' };
        if (heldNow.get(sha, mailboxId)) return { duplicate: true };
        const blobId = putBlob(tx, raw, meta, 1);
        const uid = insertCopy(tx, mailboxId, blobId, raw.length, item.flags, item.internalDate, item.msgId);
        insertJourney(tx, [{ msgId: item.msgId, messageId: meta.messageId, agent: 'MDA', step: 'imported',
          details: { mailbox: mb.name as string, uid, size: raw.length, ...(item.source ? { source: item.source } : {}) } }]);
        return { uid };
      });
    });
  },
};
