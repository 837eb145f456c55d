// Reading mailbox copies and their bytes, through the reader's caches.
import { StoreError } from '../errors.js';
import type { BlobMeta, MessageRecord } from '../types.js';
import { CachedMeta } from './caches.js';
import type { Row } from './open.js';
import type { Reader } from './reader.js';
import { messageRow } from './rows.js';

export const messageReads = {
  list: async (r: Reader, mailboxId: number): Promise<readonly MessageRecord[]> => {
    // the mailbox row first: rows read after it are at least as new as the MODSEQ they are kept under
    const mb = r.st('SELECT uidvalidity, highestmodseq FROM mailboxes WHERE id = ?').get(mailboxId) as Row | undefined;
    if (!mb) return [];
    const hit = r.lists.get(mailboxId, mb.uidvalidity as number, mb.highestmodseq as number);
    if (hit) return hit;
    // shared between sessions: frozen, so a caller that tries to change one fails loudly
    const rows = Object.freeze((r.st('SELECT uid, modseq, flags, internal_date, size, blob_id, msg_id FROM messages WHERE mailbox_id = ? ORDER BY uid').all(mailboxId) as Row[])
      .map((row) => { const m = messageRow(row); Object.freeze(m.flags); return Object.freeze(m); }));
    r.lists.set(mailboxId, mb.uidvalidity as number, mb.highestmodseq as number, rows);
    return rows;
  },
  get: async (r: Reader, mailboxId: number, uid: number): Promise<MessageRecord | null> => {
    const row = r.st('SELECT uid, modseq, flags, internal_date, size, blob_id, msg_id FROM messages WHERE mailbox_id = ? AND uid = ?').get(mailboxId, uid) as Row | undefined;
    return row ? messageRow(row) : null;
  },
  raw: async (r: Reader, blobId: number): Promise<Buffer> => {
    r.stats.bodyReads++;
    const hit = r.bodies.get(blobId);
    if (hit) {
      r.stats.bodyCacheHits++;
      return hit;
    }
    const row = r.st('SELECT raw FROM blobs WHERE id = ?').get(blobId) as Row | undefined;
    if (!row) throw new StoreError('notfound', 'message bytes are gone');
    const raw = row.raw as Buffer;
    r.bodies.set(blobId, raw);
    return raw;
  },
  meta: async (r: Reader, blobId: number): Promise<BlobMeta> => {
    let m = r.metas.get(blobId);
    if (!m) {
      const row = r.st('SELECT mime, message_id, subject FROM blobs WHERE id = ?').get(blobId) as Row | undefined;
      if (!row) throw new StoreError('notfound', 'message is gone');
      m = new CachedMeta(JSON.parse(row.mime as string), (row.message_id as string) ?? null, (row.subject as string) ?? null, blobId, r.st('SELECT search_text FROM blobs WHERE id = ?'));
      r.metas.set(blobId, m);
    }
    return m;
  },
  expungedSince: async (r: Reader, mailboxId: number, modseq: number): Promise<number[]> =>
    (r.st('SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid').all(mailboxId, modseq) as Row[]).map((row) => row.uid as number),
  some: async (r: Reader, mailboxId: number, uids: readonly number[]): Promise<MessageRecord[]> => {
    if (!uids.length) return [];
    return (r.st(`SELECT uid, modseq, flags, internal_date, size, blob_id, msg_id FROM messages
      WHERE mailbox_id = ? AND uid IN (SELECT DISTINCT value FROM json_each(?)) ORDER BY uid`).all(mailboxId, JSON.stringify(uids)) as Row[]).map(messageRow);
  },
  changedSince: async (r: Reader, mailboxId: number, modseq: number): Promise<MessageRecord[]> =>
    (r.st(`SELECT uid, modseq, flags, internal_date, size, blob_id, msg_id FROM messages WHERE mailbox_id = ? AND modseq > ? ORDER BY uid`)
      .all(mailboxId, modseq) as Row[]).map(messageRow),
  headerCandidates: async (r: Reader, mailboxId: number, _words: readonly string[]): Promise<number[]> =>
    (r.st('SELECT uid FROM messages WHERE mailbox_id = ? ORDER BY uid').all(mailboxId) as Row[]).map((row) => row.uid as number),
  digests: async (r: Reader, mailboxId: number): Promise<{ uid: number; messageId: string | null; size: number }[]> =>
    (r.st('SELECT m.uid, m.size, b.message_id FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.mailbox_id = ? ORDER BY m.uid').all(mailboxId) as Row[])
      .map((row) => ({ uid: row.uid as number, size: row.size as number, messageId: (row.message_id as string) ?? null })),
};
