// Functions over a write transaction for the rows every mailbox change touches: the mailbox row
// locks (ascending id; UIDs and MODSEQs are taken under them), the bytes (content-addressed,
// reference-counted), mailbox copies, their removal (a tombstone keeps the UID and MODSEQ for
// RFC 7162 VANISHED) and copying between mailboxes.
import { createHash } from 'node:crypto';
import { StoreError } from '../errors.js';
import type { BlobMeta } from '../types.js';
import { txt, type PgTx, type Row } from './db.js';

/** Locks the mailbox rows (ascending id): UIDs and MODSEQs are taken under these locks. */
export async function lockMailboxes(t: PgTx, ids: number[]): Promise<void> {
  // NO KEY UPDATE: writers of one mailbox take turns, while foreign-key checks (rows that refer to
  // the mailbox, e.g. the \Recent watermark's) do not wait for them
  if (ids.length) await t.q('SELECT id FROM mailboxes WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE', [[...new Set(ids)]]);
}

export async function bumpModseq(t: PgTx, mailboxId: number): Promise<number> {
  const r = await t.one('UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = $1 RETURNING highestmodseq', [mailboxId]);
  if (!r) throw new StoreError('notfound', 'no such mailbox');
  return r.highestmodseq as number;
}

/**
 * Store the bytes once (content-addressed) and take `refs` references; new bytes get their indexed
 * header text (SEARCH's prefilter, mail/search-text.ts) in the same statement.
 * `likelyNew`: one upsert that sends the bytes (a delivery's bytes are new), else a reference first (an import's may be held).
 */
export async function putBlob(t: PgTx, raw: Buffer, meta: BlobMeta, refs: number, sha = createHash('sha256').update(raw).digest('hex'), likelyNew = false): Promise<number> {
  if (!likelyNew) {
    const found = await t.one('UPDATE blobs SET refs = refs + $2 WHERE sha256 = $1 RETURNING id', [sha, refs]);
    if (found) return found.id as number;
  }
  // xmax = 0: the row was inserted by this statement, not updated
  const r = await t.one(`WITH b AS (INSERT INTO blobs (sha256, size, refs, raw, mime, search_text, message_id, subject, created)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (sha256) DO UPDATE SET refs = blobs.refs + excluded.refs RETURNING id, xmax = 0 AS fresh),
    h AS (INSERT INTO blob_headers (blob_id, text) SELECT id, $10 FROM b WHERE fresh AND $10::text IS NOT NULL)
    SELECT id FROM b`,
  [sha, raw.length, refs, raw, JSON.stringify(meta.mime), txt(meta.searchText) ?? '', txt(meta.messageId), txt(meta.subject), Date.now(), txt(meta.headerText)]);
  return r!.id as number;
}

/** references by blob id: one per row */
export function countBlobs(rows: Row[]): Map<number, number> {
  const blobs = new Map<number, number>();
  for (const r of rows) blobs.set(r.blob_id as number, (blobs.get(r.blob_id as number) ?? 0) + 1);
  return blobs;
}

/** Drop references; the last reference gone, the bytes go. (A deadlock with another writer is retried by db.ts.) */
export async function releaseBlobs(t: PgTx, blobs: Map<number, number>): Promise<void> {
  if (!blobs.size) return;
  const ids = [...blobs.keys()].sort((a, b) => a - b);
  const gone = await t.q(`UPDATE blobs b SET refs = b.refs - v.n FROM unnest($1::bigint[], $2::bigint[]) AS v(id, n)
    WHERE b.id = v.id RETURNING b.id, b.refs`, [ids, ids.map((id) => blobs.get(id))]);
  const empty = gone.filter((r) => (r.refs as number) <= 0).map((r) => r.id as number);
  if (empty.length) await t.run('DELETE FROM blobs WHERE id = ANY($1::bigint[])', [empty]);
}

export async function addRefs(t: PgTx, blobs: Map<number, number>): Promise<void> {
  if (!blobs.size) return;
  const ids = [...blobs.keys()].sort((a, b) => a - b);
  await t.run('UPDATE blobs b SET refs = b.refs + v.n FROM unnest($1::bigint[], $2::bigint[]) AS v(id, n) WHERE b.id = v.id', [ids, ids.map((id) => blobs.get(id))]);
}

/** new UIDs of a mailbox join the transaction's last 'exists' change for it (from mergeFrom on), else make one */
function noteExists(t: PgTx, mailboxId: number, uids: number[], modseq: number): void {
  const last = t.changes.length > t.mergeFrom ? t.changes[t.changes.length - 1] : undefined;
  if (last && last.kind === 'exists' && last.mailboxId === mailboxId) {
    last.uids.push(...uids);
    last.modseq = modseq;
  } else t.changes.push({ mailboxId, kind: 'exists', uids, modseq });
}

/**
 * The mailbox counters (migration 040) as the store's inserts keep them: in the UPDATE that takes
 * the UIDs ($2 copies, $3 bytes, $4 without \Seen, $5 with \Deleted), which also tells the insert
 * trigger, for the rest of the transaction, that this transaction's inserts count themselves.
 */
const COUNTED = 'messages = messages + $2, size = size + $3, unseen = unseen + $4, deleted = deleted + $5';
const COUNTING = `set_config('postoffice.counted', 'on', true)`;

/** what new copies add to their mailbox's counters, and the keywords among their flags */
function count(rows: { size: number; flags: readonly string[] }[]): { size: number; unseen: number; deleted: number; keywords: string[] } {
  let size = 0;
  let unseen = 0;
  let deleted = 0;
  const keywords = new Set<string>();
  for (const r of rows) {
    size += r.size;
    if (!r.flags.includes('\\Seen')) unseen++;
    if (r.flags.includes('\\Deleted')) deleted++;
    for (const f of r.flags) if (!f.startsWith('\\')) keywords.add(f);
  }
  return { size, unseen, deleted, keywords: [...keywords] };
}

/** RFC 3501 §7.2.6: a keyword once used in the mailbox stays announced in its FLAGS */
async function noteKeywords(t: PgTx, mailboxId: number, keywords: string[]): Promise<void> {
  await t.run('INSERT INTO mailbox_keywords (mailbox_id, keyword) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING', [mailboxId, keywords.map((k) => txt(k) ?? '')]);
}

/** a copy's columns, as rows of messages give them */
export type CopyRow = { blobId: number; size: number; flags: readonly string[]; internalDate: number; msgId: string | null };
export function copyRow(m: Row): CopyRow {
  return { blobId: m.blob_id as number, size: m.size as number, flags: m.flags as string[], internalDate: m.internal_date as number, msgId: (m.msg_id as string) ?? null };
}

/**
 * Many copies into one mailbox in two statements: the UIDs and MODSEQs (one each, ascending,
 * as insertCopy would give them one by one) taken at once from the locked mailbox row.
 */
export async function insertCopies(t: PgTx, mailboxId: number, rows: CopyRow[]): Promise<number[]> {
  if (!rows.length) return [];
  const n = rows.length;
  const c = count(rows);
  const mb = await t.one(`UPDATE mailboxes SET uidnext = uidnext + $2, highestmodseq = highestmodseq + $2, ${COUNTED} WHERE id = $1
    RETURNING uidnext, highestmodseq, ${COUNTING}`, [mailboxId, n, c.size, c.unseen, c.deleted]);
  if (!mb) throw new StoreError('notfound', 'no such mailbox');
  const firstUid = (mb.uidnext as number) - n;
  const firstModseq = (mb.highestmodseq as number) - n + 1;
  await t.run(`INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, blob_id, size, msg_id)
    SELECT $1, $2 + i - 1, $3 + i - 1, CASE WHEN f = '' THEN '{}'::text[] ELSE string_to_array(f, ' ') END, d, b, z, m
    FROM unnest($4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::text[]) WITH ORDINALITY AS x(f, d, b, z, m, i)`,
  [mailboxId, firstUid, firstModseq, rows.map((r) => [...new Set(r.flags)].join(' ')), rows.map((r) => r.internalDate), rows.map((r) => r.blobId), rows.map((r) => r.size), rows.map((r) => txt(r.msgId))]);
  if (c.keywords.length) await noteKeywords(t, mailboxId, c.keywords);
  const uids = rows.map((_, i) => firstUid + i);
  noteExists(t, mailboxId, uids, firstModseq + n - 1);
  return uids;
}

export async function insertCopy(t: PgTx, mailboxId: number, blobId: number, size: number, flags: readonly string[], internalDate: number, msgId: string | null): Promise<number> {
  const c = count([{ size, flags }]);
  const mb = await t.one(`UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1, ${COUNTED} WHERE id = $1
    RETURNING uidnext, highestmodseq, ${COUNTING}`, [mailboxId, 1, size, c.unseen, c.deleted]);
  if (!mb) throw new StoreError('notfound', 'no such mailbox');
  if (c.keywords.length) await noteKeywords(t, mailboxId, c.keywords);
  const uid = (mb.uidnext as number) - 1;
  const modseq = mb.highestmodseq as number;
  await t.run('INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, blob_id, size, msg_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
    [mailboxId, uid, modseq, [...new Set(flags)], internalDate, blobId, size, txt(msgId)]);
  noteExists(t, mailboxId, [uid], modseq);
  return uid;
}

/** Removes `uids` (or every \Deleted message); with `onlyDeleted`, only those of them flagged \Deleted. */
export async function expungeTx(t: PgTx, mailboxId: number, uids: number[] | undefined, origin: unknown, onlyDeleted: boolean): Promise<number[]> {
  await lockMailboxes(t, [mailboxId]);
  const rows = uids
    ? await t.q(`SELECT uid, blob_id FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[])${onlyDeleted ? ` AND '\\Deleted' = ANY(flags)` : ''} ORDER BY uid`, [mailboxId, uids])
    : await t.q(`SELECT uid, blob_id FROM messages WHERE mailbox_id = $1 AND '\\Deleted' = ANY(flags) ORDER BY uid`, [mailboxId]);
  if (rows.length === 0) return [];
  const modseq = await bumpModseq(t, mailboxId);
  const gone = rows.map((r) => r.uid as number);
  await t.run('DELETE FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[])', [mailboxId, gone]);
  await t.run(`INSERT INTO expunged (mailbox_id, uid, modseq) SELECT $1, u, $3 FROM unnest($2::bigint[]) AS u
    ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq`, [mailboxId, gone, modseq]);
  await releaseBlobs(t, countBlobs(rows));
  t.changes.push({ mailboxId, kind: 'expunge', uids: gone, modseq, origin });
  return gone;
}

export async function copyTx(t: PgTx, from: number, uids: number[], to: number): Promise<{ uidValidity: number; map: [number, number][] }> {
  await lockMailboxes(t, [from, to]);
  const dst = await t.one('SELECT uidvalidity FROM mailboxes WHERE id = $1', [to]);
  if (!dst) throw new StoreError('notfound', 'no such target mailbox');
  const rows = await t.q('SELECT * FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[]) ORDER BY uid', [from, uids]);
  await addRefs(t, countBlobs(rows));
  // RFC 3501 §6.4.7: flags and internal date are kept; \Recent is set in the target (by the UID watermark).
  const fresh = await insertCopies(t, to, rows.map(copyRow));
  return { uidValidity: dst.uidvalidity as number, map: rows.map((m, i): [number, number] => [m.uid as number, fresh[i]]) };
}
