// Reading mailbox copies and their bytes, through the reader's caches.
import { StoreError } from '../errors.js';
import type { BlobMeta, FlagIndex, MessageRecord } from '../types.js';
import { CachedMeta, TEXT_STATEMENT } from './caches.js';
import type { Row } from './open.js';
import type { Reader } from './reader.js';
import { messageRow } from './rows.js';

/** the partial indexes' expressions (migrations 090 and 100), word for word, so that the planner uses them */
const FLAG_INDEX_SQL: Record<FlagIndex, string> = {
  unseen: `instr(' ' || flags || ' ', ' \\Seen ') = 0`,
  deleted: `instr(' ' || flags || ' ', ' \\Deleted ') > 0`,
  flagged: `instr(' ' || flags || ' ', ' \\Flagged ') > 0`,
};

/** words tested by SQL per header search (more are left to the caller's own test: still a superset) */
const MAX_WORDS = 8;

/** Ascending ranges [from, to] of consecutive UIDs (duplicates and non-UIDs dropped). */
export function uidRanges(uids: readonly number[]): [number, number][] {
  const sorted = Uint32Array.from(uids.filter((u) => Number.isInteger(u) && u > 0 && u < 2 ** 32)).sort();
  const out: [number, number][] = [];
  for (const u of sorted) {
    const last = out[out.length - 1];
    if (last && u <= last[1] + 1) last[1] = Math.max(last[1], u);
    else out.push([u, u]);
  }
  return out;
}

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
      m = new CachedMeta(JSON.parse(row.mime as string), (row.message_id as string) ?? null, (row.subject as string) ?? null, blobId, r.st(TEXT_STATEMENT));
      r.metas.set(blobId, m);
    }
    return m;
  },
  expungedSince: async (r: Reader, mailboxId: number, modseq: number): Promise<number[]> =>
    (r.st('SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid').all(mailboxId, modseq) as Row[]).map((row) => row.uid as number),
  // the UIDs as ranges of consecutive ones, each an index range scan, in one statement, in UID order
  some: async (r: Reader, mailboxId: number, uids: readonly number[]): Promise<MessageRecord[]> => {
    const ranges = uidRanges(uids);
    if (!ranges.length) return [];
    const rows = r.st(`SELECT m.uid, m.modseq, m.flags, m.internal_date, m.size, m.blob_id, m.msg_id
      FROM json_each(?) AS j CROSS JOIN messages AS m
      WHERE m.mailbox_id = ? AND m.uid BETWEEN j.value ->> 0 AND j.value ->> 1`).all(JSON.stringify(ranges), mailboxId) as Row[];
    const out = rows.map(messageRow);
    // the ranges are ascending and the join walks them in order; SQL does not promise it, so check
    for (let i = 1; i < out.length; i++) if (out[i - 1].uid >= out[i].uid) return out.sort((a, b) => a.uid - b.uid);
    return out;
  },
  // RFC 7162 §3.1.4 CHANGEDSINCE: by the index on (mailbox_id, modseq)
  changedSince: async (r: Reader, mailboxId: number, modseq: number): Promise<MessageRecord[]> =>
    (r.st(`SELECT uid, modseq, flags, internal_date, size, blob_id, msg_id FROM messages WHERE mailbox_id = ? AND modseq > ?`)
      .all(mailboxId, modseq) as Row[]).map(messageRow).sort((a, b) => a.uid - b.uid),
  // RFC 3501 §6.4.4 header keys: the indexed header text (migration 090 blob_headers); no text, always a candidate
  headerCandidates: async (r: Reader, mailboxId: number, words: readonly string[]): Promise<number[]> => {
    const ws = [...new Set(words.filter((w) => w !== ''))].slice(0, MAX_WORDS);
    const sql = `SELECT m.uid FROM messages m LEFT JOIN blob_headers h ON h.blob_id = m.blob_id
      WHERE m.mailbox_id = ?${ws.length ? ` AND (h.text IS NULL OR (${ws.map(() => 'instr(h.text, ?) > 0').join(' AND ')}))` : ''} ORDER BY m.uid`;
    return r.st(sql).pluck().all(mailboxId, ...ws) as number[];
  },
  // the partial indexes messages_unseen / messages_deleted (migration 090), messages_flagged (100): their expressions, word for word
  flagCandidates: async (r: Reader, mailboxId: number, which: FlagIndex): Promise<number[]> =>
    r.st(`SELECT uid FROM messages WHERE mailbox_id = ? AND ${FLAG_INDEX_SQL[which]} ORDER BY uid`).pluck().all(mailboxId) as number[],
  digests: async (r: Reader, mailboxId: number): Promise<{ uid: number; messageId: string | null; size: number }[]> =>
    (r.st('SELECT m.uid, m.size, b.message_id FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.mailbox_id = ? ORDER BY m.uid').all(mailboxId) as Row[])
      .map((row) => ({ uid: row.uid as number, size: row.size as number, messageId: (row.message_id as string) ?? null })),
};
