// Reading mailbox copies: the list of a mailbox (kept by MODSEQ in the list cache), one copy,
// the bytes and parsed structure of a blob (cached), tombstones (RFC 7162 VANISHED), digests.
import { StoreError } from '../errors.js';
import type { BlobMeta, FlagIndex, MessageRecord } from '../types.js';
import type { Pg } from './context.js';
import { txt } from './db.js';
import { messageRow, uidBytes, uidVector } from './rows.js';

/** the partial indexes' predicates (migrations 040 and 050), as written there, so that the planner uses them */
const FLAG_INDEX_SQL: Record<FlagIndex, string> = {
  unseen: `NOT ('\\Seen' = ANY(flags))`,
  deleted: `'\\Deleted' = ANY(flags)`,
  flagged: `'\\Flagged' = ANY(flags)`,
};

/** words a header prefilter tests at most (the rest are the caller's to test: candidates stay a superset) */
const HEADER_WORDS_MAX = 8;

/** header texts in the database per message of the mailbox searched, past which each text is looked up by key rather than all hashed */
const HEADER_TEXTS_PER_MESSAGE = 4;

/** the columns of a MessageRecord */
const COLUMNS = 'uid, modseq, flags, internal_date, size, blob_id, msg_id';

export const messageReads = {
  list: async (pg: Pg, mailboxId: number): Promise<readonly MessageRecord[]> => {
    const lists = pg.caches.lists;
    // the mailbox row first: rows read after it are at least as new as the MODSEQ they are kept under
    const mb = await pg.db.readOne('SELECT uidvalidity, highestmodseq FROM mailboxes WHERE id = $1', [mailboxId]);
    if (!mb) { lists.drop(mailboxId); return []; }
    const hit = lists.get(mailboxId, mb.uidvalidity as number, mb.highestmodseq as number);
    if (hit) return hit;
    const rows = Object.freeze((await pg.db.read('SELECT uid, modseq, flags, internal_date, size, blob_id, msg_id FROM messages WHERE mailbox_id = $1 ORDER BY uid', [mailboxId]))
      .map((r) => { const m = messageRow(r); Object.freeze(m.flags); return Object.freeze(m); }));
    lists.set(mailboxId, mb.uidvalidity as number, mb.highestmodseq as number, rows);
    return rows;
  },
  get: async (pg: Pg, mailboxId: number, uid: number): Promise<MessageRecord | null> => {
    const r = await pg.db.readOne('SELECT uid, modseq, flags, internal_date, size, blob_id, msg_id FROM messages WHERE mailbox_id = $1 AND uid = $2', [mailboxId, uid]);
    return r ? messageRow(r) : null;
  },
  raw: async (pg: Pg, blobId: number): Promise<Buffer> => {
    pg.stats.bodyReads++;
    const hit = pg.caches.bodies.get(blobId);
    if (hit) {
      pg.stats.bodyCacheHits++;
      return hit;
    }
    const r = await pg.db.readOne('SELECT raw FROM blobs WHERE id = $1', [blobId]);
    if (!r) throw new StoreError('notfound', 'message bytes are gone');
    const raw = r.raw as Buffer;
    pg.caches.bodies.set(blobId, raw);
    return raw;
  },
  meta: async (pg: Pg, blobId: number): Promise<BlobMeta> => {
    const { metas, texts } = pg.caches;
    let m = metas.get(blobId);
    let text = texts.get(blobId);
    if (!m) {
      const r = await pg.db.readOne(`SELECT mime, message_id, subject${text === undefined ? ', search_text' : ''} FROM blobs WHERE id = $1`, [blobId]);
      if (!r) throw new StoreError('notfound', 'message is gone');
      m = { mime: JSON.parse(r.mime as string), messageId: (r.message_id as string) ?? null, subject: (r.subject as string) ?? null };
      metas.set(blobId, m);
      if (text === undefined) { text = (r.search_text as string) ?? ''; texts.set(blobId, text); }
    } else if (text === undefined) {
      text = ((await pg.db.readOne('SELECT search_text FROM blobs WHERE id = $1', [blobId]))?.search_text as string | undefined) ?? '';
      texts.set(blobId, text);
    }
    return { mime: m.mime, messageId: m.messageId, subject: m.subject, searchText: text };
  },
  expungedSince: async (pg: Pg, mailboxId: number, modseq: number): Promise<number[]> =>
    (await pg.db.read('SELECT uid FROM expunged WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid', [mailboxId, modseq])).map((r) => r.uid as number),
  some: async (pg: Pg, mailboxId: number, uids: readonly number[]): Promise<MessageRecord[]> => {
    if (!uids.length) return [];
    return (await pg.db.read(`SELECT ${COLUMNS} FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[]) ORDER BY uid`, [mailboxId, [...new Set(uids)]])).map(messageRow);
  },
  changedSince: async (pg: Pg, mailboxId: number, modseq: number): Promise<MessageRecord[]> =>
    (await pg.db.read(`SELECT ${COLUMNS} FROM messages WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid`, [mailboxId, modseq])).map(messageRow),
  headerCandidates: async (pg: Pg, mailboxId: number, words: readonly string[]): Promise<number[]> => {
    // a blob without text (stored before migration 040 and not yet backfilled, or too long) is always a candidate
    const ws = [...new Set(words.filter((w) => w.length))].slice(0, HEADER_WORDS_MAX).map((w) => txt(w) ?? '');
    const sizes = await pg.db.readOne(`SELECT (SELECT messages FROM mailboxes WHERE id = $1) AS m, (SELECT reltuples FROM pg_class WHERE oid = 'blob_headers'::regclass) AS h`, [mailboxId]);
    // the texts are kept by blob, not by mailbox: joined by hash, every mailbox's texts are read (~0.7 us
    // each, this mailbox's ~0.6 us more), looked up by key, only this mailbox's (~3 us each). The planner
    // prices the lookups far higher than they cost when cached, so past HEADER_TEXTS_PER_MESSAGE texts
    // per message of this mailbox a lateral join makes it look them up (a pass that follows the mailbox's size)
    const byKey = Number(sizes?.h ?? 0) > HEADER_TEXTS_PER_MESSAGE * Number(sizes?.m ?? 0);
    const r = await pg.db.readOne(`SELECT string_agg(u, ''::bytea) AS uids FROM (SELECT ${uidBytes('m.uid')} AS u FROM messages m
      ${byKey ? 'LEFT JOIN LATERAL (SELECT text FROM blob_headers h WHERE h.blob_id = m.blob_id LIMIT 1) h ON true' : 'LEFT JOIN blob_headers h ON h.blob_id = m.blob_id'}
      WHERE m.mailbox_id = $1${ws.length ? ` AND (h.text IS NULL OR (${ws.map((_, i) => `strpos(h.text, $${i + 2}) > 0`).join(' AND ')}))` : ''}
      ORDER BY m.uid) s`, [mailboxId, ...ws]);
    return Array.from(uidVector((r?.uids as Buffer | null) ?? null));
  },
  // the partial indexes messages_unseen / messages_deleted (migration 040), messages_flagged (050): their predicates, word for word
  flagCandidates: async (pg: Pg, mailboxId: number, which: FlagIndex): Promise<number[]> => {
    const r = await pg.db.readOne(`SELECT string_agg(u, ''::bytea) AS uids FROM (SELECT ${uidBytes('uid')} AS u FROM messages
      WHERE mailbox_id = $1 AND ${FLAG_INDEX_SQL[which]} ORDER BY uid) s`, [mailboxId]);
    return Array.from(uidVector((r?.uids as Buffer | null) ?? null));
  },
  digests: async (pg: Pg, mailboxId: number): Promise<{ uid: number; messageId: string | null; size: number }[]> =>
    (await pg.db.read('SELECT m.uid, m.size, b.message_id FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.mailbox_id = $1 ORDER BY m.uid', [mailboxId]))
      .map((r) => ({ uid: r.uid as number, size: r.size as number, messageId: (r.message_id as string) ?? null })),
};
