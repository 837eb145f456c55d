// Mailboxes: create (UIDVALIDITY from one row every node shares), delete (with their copies),
// rename (RFC 3501 §6.3.5, children along; INBOX's messages move), subscriptions (RFC 3501
// §6.3.6, kept by name) and the \Recent watermark.
import { StoreError } from '../errors.js';
import type { MailboxRecord, MailboxStatus, MailboxView } from '../types.js';
import type { Pg } from './context.js';
import { txt, type PgTx } from './db.js';
import { addRefs, copyRow, countBlobs, expungeTx, insertCopies, lockMailboxes, releaseBlobs } from './copies.js';
import { mailboxRow, uidBytes, uidVector } from './rows.js';

/**
 * How many messages are above the \Recent watermark (RFC 3501 §2.3.2), over `b` (a mailboxes row):
 * counted on the smaller side of the watermark, so that a large mailbox never SELECTed read-write
 * (every message recent) costs no pass either.
 */
const RECENT = `(SELECT CASE WHEN b.uidnext - 1 - w.uid <= b.messages / 2
    THEN (SELECT count(*) FROM messages WHERE mailbox_id = b.id AND uid > w.uid)
    ELSE b.messages - (SELECT count(*) FROM messages WHERE mailbox_id = b.id AND uid <= w.uid) END
  FROM (SELECT COALESCE((SELECT recent_uid FROM mailbox_recent WHERE mailbox_id = b.id), b.recent_uid) AS uid) w)`;

/** the vector kept does not hold what this read brought (evicted meanwhile): read again, UIDs and all */
class NeedAll extends Error {}

/**
 * SELECT's view in one statement, one snapshot: the mailbox row, its counters, and of the UIDs only
 * what the vector kept (src/store/caches.ts UidCache) lacks: those at or above its UIDNEXT, and all
 * of them only if the vector and those would not make the row's message count (or there is no
 * vector). `useCache` false: every UID is read, whatever the cache holds.
 */
async function view(pg: Pg, mailboxId: number, useCache: boolean): Promise<MailboxView | null> {
  const { uids: cache, uidLoads } = pg.caches;
  // the vector is kept only while the change channel is up and caught up (it hears of every commit then)
  const epoch = pg.db.live ? pg.db.epoch : -1;
  const held = useCache && epoch >= 0 ? cache.peek(mailboxId) : undefined;
  const load = uidLoads.begin(mailboxId);
  let r;
  try {
    r = await pg.db.readOne(`SELECT b.*, ${RECENT} AS recent,
        CASE WHEN b.unseen = 0 THEN 0 ELSE (SELECT min(uid) FROM messages WHERE mailbox_id = b.id AND NOT ('\\Seen' = ANY(flags))) END AS first_unseen,
        (SELECT array_agg(keyword ORDER BY keyword COLLATE "C") FROM mailbox_keywords WHERE mailbox_id = b.id) AS keywords,
        t.top, CASE WHEN b.uidvalidity = $2 AND $3 <= b.uidnext AND $4 + length(t.top) / 4 = b.messages THEN NULL
          ELSE COALESCE((SELECT string_agg(u, ''::bytea) FROM (SELECT ${uidBytes()} AS u FROM messages WHERE mailbox_id = b.id ORDER BY uid) s), ''::bytea) END AS uids
      FROM mailboxes b, LATERAL (SELECT COALESCE((SELECT string_agg(u, ''::bytea) FROM (SELECT ${uidBytes()} AS u FROM messages
          WHERE mailbox_id = b.id AND uid >= $3 ORDER BY uid) s), ''::bytea) AS top) t
      WHERE b.id = $1`, [mailboxId, held?.uidValidity ?? -1, held?.uidNext ?? 2 ** 32, held?.messages ?? -1]);
  } finally {
    uidLoads.end(load);
  }
  if (!r) { cache.drop(mailboxId); return null; }
  const mailbox = mailboxRow(r);
  const all = r.uids === null ? null : uidVector(r.uids as Buffer);
  const rest = { mailbox, firstUnseen: (r.first_unseen as number) ?? 0, keywords: (r.keywords as string[]) ?? [], recent: r.recent as number };
  const current = !load.stale && epoch >= 0 && pg.db.live && pg.db.epoch === epoch;
  const state = { uidValidity: mailbox.uidValidity, uidNext: mailbox.uidNext, messages: r.messages as number };
  if (all) {
    // read whole: kept unless changes came in while the statement ran (or may have been missed)
    if (current) cache.set(mailboxId, state, all);
    return { ...rest, uids: all };
  }
  // the vector and what was read above its UIDNEXT make the count: it is the mailbox's (as the
  // cache checks again), unless changes came in meanwhile, which this snapshot may not hold
  if (!current || !held) return view(pg, mailboxId, false);
  const top = uidVector(r.top as Buffer);
  try {
    const uids = cache.view(mailboxId, state, (from) => {
      if (from === held.uidNext) return top;
      throw new NeedAll();
    });
    return { ...rest, uids };
  } catch (err) {
    if (!(err instanceof NeedAll)) throw err;
    return view(pg, mailboxId, false);
  }
}

async function nextUidValidity(t: PgTx): Promise<number> {
  // RFC 3501 §2.3.1.1: a mailbox created anew gets a larger UIDVALIDITY than any before (on every node: one row)
  const r = await t.one(`INSERT INTO meta (key, value) VALUES ('uidvalidity', $1) ON CONFLICT (key)
    DO UPDATE SET value = GREATEST(excluded.value::bigint, meta.value::bigint + 1)::text RETURNING value`, [String(Math.floor(Date.now() / 1000))]);
  return Number(r!.value);
}

/** A new, empty mailbox; `subscribe` also puts its name on the user's subscriptions (RFC 3501 §6.3.6). */
export async function createMailboxTx(t: PgTx, userId: number, name: string, specialUse: string | null, subscribe: boolean): Promise<MailboxRecord> {
  const r = await t.one(`INSERT INTO mailboxes (user_id, name, special_use, subscribed, uidvalidity, created)
    VALUES ($1, $2, $3, true, $4, $5) ON CONFLICT DO NOTHING RETURNING *`, [userId, txt(name), specialUse, await nextUidValidity(t), Date.now()]);
  if (!r) throw new StoreError('exists', `mailbox ${name} already exists`);
  if (subscribe) await setSubscribedTx(t, userId, name, true);
  return mailboxRow(r);
}

async function setSubscribedTx(t: PgTx, userId: number, name: string, on: boolean): Promise<void> {
  if (on) await t.run('INSERT INTO subscriptions (user_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING', [userId, txt(name)]);
  else await t.run('DELETE FROM subscriptions WHERE user_id = $1 AND name = $2', [userId, txt(name)]);
}

export async function deleteMailboxTx(t: PgTx, mailboxId: number): Promise<void> {
  await lockMailboxes(t, [mailboxId]);
  const rows = await t.q('DELETE FROM messages WHERE mailbox_id = $1 RETURNING blob_id', [mailboxId]);
  await releaseBlobs(t, countBlobs(rows));
  await t.run('DELETE FROM mailboxes WHERE id = $1', [mailboxId]);
  t.changes.push({ mailboxId, kind: 'deleted' });
}

export const mailboxes = {
  list: async (pg: Pg, userId: number): Promise<MailboxRecord[]> =>
    (await pg.db.read('SELECT * FROM mailboxes WHERE user_id = $1 ORDER BY name COLLATE "C"', [userId])).map(mailboxRow),
  get: async (pg: Pg, userId: number, name: string): Promise<MailboxRecord | null> => {
    const n = name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
    const r = await pg.db.readOne('SELECT * FROM mailboxes WHERE user_id = $1 AND name = $2', [userId, txt(n)]);
    return r ? mailboxRow(r) : null;
  },
  getById: async (pg: Pg, id: number): Promise<MailboxRecord | null> => {
    const r = await pg.db.readOne('SELECT * FROM mailboxes WHERE id = $1', [id]);
    return r ? mailboxRow(r) : null;
  },
  status: async (pg: Pg, mailboxId: number): Promise<MailboxStatus | null> => {
    // the counters the writers keep (migration 040) and the mailbox row: one row, one snapshot
    const r = await pg.db.readOne(`SELECT b.*, ${RECENT} AS recent FROM mailboxes b WHERE b.id = $1`, [mailboxId]);
    if (!r) return null;
    return { ...mailboxRow(r), messages: r.messages as number, size: r.size as number, unseen: r.unseen as number, deleted: r.deleted as number, recent: r.recent as number };
  },
  view: (pg: Pg, mailboxId: number): Promise<MailboxView | null> => view(pg, mailboxId, true),
  create: (pg: Pg, userId: number, name: string, specialUse: string | null = null): Promise<MailboxRecord> =>
    pg.db.tx((t) => createMailboxTx(t, userId, name, specialUse, false)),
  delete: (pg: Pg, mailboxId: number): Promise<void> => pg.db.tx((t) => deleteMailboxTx(t, mailboxId)),
  rename: (pg: Pg, userId: number, from: string, to: string): Promise<void> =>
    pg.db.tx(async (t) => {
      const src = await t.one('SELECT * FROM mailboxes WHERE user_id = $1 AND name = $2 FOR UPDATE', [userId, txt(from)]);
      if (!src) throw new StoreError('notfound', `no mailbox ${from}`);
      if (await t.one('SELECT 1 FROM mailboxes WHERE user_id = $1 AND name = $2', [userId, txt(to)])) throw new StoreError('exists', `mailbox ${to} already exists`);
      if (from === 'INBOX') {
        // RFC 3501 §6.3.5: renaming INBOX moves its messages to the new name; INBOX stays, empty.
        const dst = await createMailboxTx(t, userId, to, null, false);
        const rows = await t.q('SELECT * FROM messages WHERE mailbox_id = $1 ORDER BY uid', [src.id]);
        const refs = countBlobs(rows);
        await addRefs(t, refs); // the copies' references; the expunge below drops the old ones
        await insertCopies(t, dst.id, rows.map(copyRow));
        if (rows.length) await expungeTx(t, src.id as number, rows.map((m) => m.uid as number), undefined, false);
        return;
      }
      const kids = await t.q('SELECT id, name FROM mailboxes WHERE user_id = $1 AND left(name, $2) = $3', [userId, from.length + 1, txt(from + '/')]);
      for (const k of kids) {
        const newName = to + (k.name as string).slice(from.length);
        if (await t.one('SELECT 1 FROM mailboxes WHERE user_id = $1 AND name = $2', [userId, txt(newName)])) throw new StoreError('exists', `mailbox ${newName} already exists`);
      }
      await t.run('UPDATE mailboxes SET name = $1 WHERE id = $2', [txt(to), src.id]);
      for (const k of kids) await t.run('UPDATE mailboxes SET name = $1 WHERE id = $2', [txt(to + (k.name as string).slice(from.length)), k.id]);
    }),
  /** by mailbox (the older call): the mailbox's flag and its name's subscription */
  subscribe: (pg: Pg, mailboxId: number, on: boolean): Promise<void> =>
    pg.db.tx(async (t) => {
      const mb = await t.one('UPDATE mailboxes SET subscribed = $1 WHERE id = $2 RETURNING user_id, name', [on, mailboxId]);
      if (mb) await setSubscribedTx(t, mb.user_id as number, mb.name as string, on);
    }),
  subscriptions: async (pg: Pg, userId: number): Promise<string[]> =>
    (await pg.db.read('SELECT name FROM subscriptions WHERE user_id = $1 ORDER BY name COLLATE "C"', [userId])).map((r) => r.name as string),
  setSubscribed: (pg: Pg, userId: number, name: string, on: boolean): Promise<void> => pg.db.tx((t) => setSubscribedTx(t, userId, name, on)),
  claimRecent: (pg: Pg, mailboxId: number): Promise<{ after: number; through: number }> =>
    pg.db.tx(async (t) => {
      // the watermark's own row (migration 030): never waits behind deliveries, which hold the mailbox row
      const mb = await t.one('SELECT recent_uid, uidnext FROM mailboxes WHERE id = $1', [mailboxId]);
      if (!mb) return { after: 0, through: 0 };
      await t.run('INSERT INTO mailbox_recent (mailbox_id, recent_uid) VALUES ($1, $2) ON CONFLICT DO NOTHING', [mailboxId, mb.recent_uid]);
      const rec = await t.one('SELECT recent_uid FROM mailbox_recent WHERE mailbox_id = $1 FOR UPDATE', [mailboxId]);
      // committed UIDs only: a delivery still in flight has not raised uidnext for this snapshot
      const top = ((await t.one('SELECT uidnext FROM mailboxes WHERE id = $1', [mailboxId]))?.uidnext as number ?? 1) - 1;
      const after = Number(rec!.recent_uid);
      if (top <= after) return { after, through: after };
      await t.run('UPDATE mailbox_recent SET recent_uid = $1 WHERE mailbox_id = $2', [top, mailboxId]);
      return { after, through: top };
    }),
};
