// Mailboxes: create (a new UIDVALIDITY), delete (its copies' blob references go), rename (with
// its children; INBOX moves its messages), subscriptions, the \Recent watermark.
import { StoreError } from '../errors.js';
import type { MailboxRecord, MailboxStatus, MailboxView } from '../types.js';
import { copyCopies, releaseBlob, removeCopies } from './copies.js';
import type { Row } from './open.js';
import type { Reader } from './reader.js';
import { mailboxRow } from './rows.js';
import type { Tx, Writer } from './writer.js';

/** A mailbox row; `subscribed` says whether its name is among the user's subscriptions (RFC 3501 §6.3.6). */
const MAILBOX = `id, user_id, name, special_use, uidvalidity, uidnext, highestmodseq, recent_uid,
  EXISTS (SELECT 1 FROM subscriptions s WHERE s.user_id = mailboxes.user_id AND s.name = mailboxes.name) AS subscribed`;

/** RFC 3501 §2.3.1.1: a mailbox created anew gets a larger UIDVALIDITY than any before. */
function nextUidValidity(tx: Tx): number {
  const row = tx.st(`SELECT value FROM meta WHERE key = 'uidvalidity'`).get() as Row | undefined;
  const last = row ? Number(row.value) : 0;
  const v = Math.max(Math.floor(Date.now() / 1000), last + 1);
  tx.st(`INSERT INTO meta(key, value) VALUES ('uidvalidity', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`).run(String(v));
  return v;
}

/** A new, empty mailbox; `subscribe` also puts its name on the user's subscriptions (RFC 3501 §6.3.6). */
export function createMailbox(tx: Tx, userId: number, name: string, specialUse: string | null, subscribe: boolean): MailboxRecord {
  const r = tx.st(`INSERT INTO mailboxes (user_id, name, special_use, subscribed, uidvalidity, created)
    VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id`).get(userId, name, specialUse, subscribe ? 1 : 0, nextUidValidity(tx), Date.now()) as Row | undefined;
  if (!r) throw new StoreError('exists', `mailbox ${name} already exists`);
  if (subscribe) setSubscribed(tx, userId, name, true);
  return mailboxRow(tx.st(`SELECT ${MAILBOX} FROM mailboxes WHERE id = ?`).get(r.id) as Row);
}

/** The mailbox, its copies (their blob references) and its tombstones; announced as 'deleted'. */
export function deleteMailbox(tx: Tx, mailboxId: number): void {
  const blobs = tx.st('SELECT blob_id, COUNT(*) AS n FROM messages WHERE mailbox_id = ? GROUP BY blob_id').all(mailboxId) as Row[];
  tx.st('DELETE FROM messages WHERE mailbox_id = ?').run(mailboxId);
  for (const b of blobs) releaseBlob(tx, b.blob_id as number, b.n as number);
  tx.st('DELETE FROM mailboxes WHERE id = ?').run(mailboxId);
  tx.changes.push({ mailboxId, kind: 'deleted' });
}

function setSubscribed(tx: Tx, userId: number, name: string, on: boolean): void {
  if (on) tx.st('INSERT OR IGNORE INTO subscriptions (user_id, name) VALUES (?, ?)').run(userId, name);
  else tx.st('DELETE FROM subscriptions WHERE user_id = ? AND name = ?').run(userId, name);
}

function rename(tx: Tx, userId: number, from: string, to: string): void {
  const src = tx.st('SELECT * FROM mailboxes WHERE user_id = ? AND name = ?').get(userId, from) as Row | undefined;
  if (!src) throw new StoreError('notfound', `no mailbox ${from}`);
  if (tx.st('SELECT 1 FROM mailboxes WHERE user_id = ? AND name = ?').get(userId, to)) throw new StoreError('exists', `mailbox ${to} already exists`);
  if (from === 'INBOX') {
    // RFC 3501 §6.3.5: renaming INBOX moves its messages to the new name; INBOX stays, empty.
    const dst = createMailbox(tx, userId, to, null, false);
    const uids = (tx.st('SELECT uid FROM messages WHERE mailbox_id = ? ORDER BY uid').all(src.id) as Row[]).map((m) => m.uid as number);
    copyCopies(tx, src.id as number, uids, dst.id);
    removeCopies(tx, src.id as number, { which: 'given', uids });
    return;
  }
  const kids = tx.st(`SELECT id, name FROM mailboxes WHERE user_id = ? AND substr(name, 1, ?) = ?`).all(userId, from.length + 1, from + '/') as Row[];
  for (const k of kids) {
    const newName = to + (k.name as string).slice(from.length);
    if (tx.st('SELECT 1 FROM mailboxes WHERE user_id = ? AND name = ?').get(userId, newName)) throw new StoreError('exists', `mailbox ${newName} already exists`);
  }
  tx.st('UPDATE mailboxes SET name = ? WHERE id = ?').run(to, src.id);
  for (const k of kids) tx.st('UPDATE mailboxes SET name = ? WHERE id = ?').run(to + (k.name as string).slice(from.length), k.id);
}

/** How many of the ascending `uids` are above `uid` (binary search). */
function above(uids: Uint32Array, uid: number): number {
  let lo = 0;
  let hi = uids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (uids[mid] <= uid) lo = mid + 1;
    else hi = mid;
  }
  return uids.length - lo;
}

/**
 * \Recent without the vector: the messages above the watermark, counted on whichever side of it
 * spans fewer UIDs (a mailbox never selected read-write has its watermark at 0: none to count).
 */
function recentCount(r: Reader, mailboxId: number, row: Row): number {
  const watermark = row.recent_uid as number;
  const messages = row.messages as number;
  if (watermark <= 0) return messages;
  if ((row.uidnext as number) - 1 - watermark <= watermark) {
    return r.st('SELECT COUNT(*) FROM messages WHERE mailbox_id = ? AND uid > ?').pluck().get(mailboxId, watermark) as number;
  }
  return messages - (r.st('SELECT COUNT(*) FROM messages WHERE mailbox_id = ? AND uid <= ?').pluck().get(mailboxId, watermark) as number);
}

export const mailboxReads = {
  list: async (r: Reader, userId: number): Promise<MailboxRecord[]> =>
    (r.st(`SELECT ${MAILBOX} FROM mailboxes WHERE user_id = ? ORDER BY name`).all(userId) as Row[]).map(mailboxRow),
  get: async (r: Reader, userId: number, name: string): Promise<MailboxRecord | null> => {
    const n = name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
    const row = r.st(`SELECT ${MAILBOX} FROM mailboxes WHERE user_id = ? AND name = ?`).get(userId, n) as Row | undefined;
    return row ? mailboxRow(row) : null;
  },
  getById: async (r: Reader, id: number): Promise<MailboxRecord | null> => {
    const row = r.st(`SELECT ${MAILBOX} FROM mailboxes WHERE id = ?`).get(id) as Row | undefined;
    return row ? mailboxRow(row) : null;
  },
  // RFC 3501 §6.3.10 STATUS: from the counters the triggers keep (migration 090)
  status: async (r: Reader, mailboxId: number): Promise<MailboxStatus | null> => r.snapshot(() => {
    const row = r.st(`SELECT ${MAILBOX}, messages, unseen, deleted, size FROM mailboxes WHERE id = ?`).get(mailboxId) as Row | undefined;
    if (!row) return null;
    const mailbox = mailboxRow(row);
    // a vector kept (a session has the mailbox selected) that is exactly the mailbox's counts \Recent by binary search
    const kept = r.uids.get(mailboxId, { uidValidity: mailbox.uidValidity, uidNext: mailbox.uidNext, messages: row.messages as number });
    return {
      ...mailbox, messages: row.messages as number, size: row.size as number, unseen: row.unseen as number, deleted: row.deleted as number,
      recent: kept ? above(kept, row.recent_uid as number) : recentCount(r, mailboxId, row),
    };
  }),
  // RFC 3501 §6.3.1 SELECT: the UID vector (caches.ts UidCache) and counters, all read in one read transaction
  view: async (r: Reader, mailboxId: number): Promise<MailboxView | null> => r.snapshot(() => {
    const row = r.st(`SELECT ${MAILBOX}, messages FROM mailboxes WHERE id = ?`).get(mailboxId) as Row | undefined;
    if (!row) return null;
    const mailbox = mailboxRow(row);
    const from = r.st('SELECT uid FROM messages WHERE mailbox_id = ? AND uid >= ? ORDER BY uid').pluck();
    const messages = row.messages as number;
    const uids = r.uids.view(mailboxId, { uidValidity: mailbox.uidValidity, uidNext: mailbox.uidNext, messages }, (uid) => {
      if (uid > 1) return from.all(mailboxId, uid) as number[]; // a top-up: the few UIDs the events have not brought yet
      // the whole vector, straight into its array (no array of a million numbers on the way): the
      // counter read in this transaction says how many there are
      let out = new Uint32Array(messages);
      let n = 0;
      for (const u of from.iterate(mailboxId, 1) as IterableIterator<number>) {
        if (n === out.length) { const grown = new Uint32Array(n * 2 + 16); grown.set(out); out = grown; }
        out[n++] = u;
      }
      return n === out.length ? out : out.slice(0, n);
    });
    // the partial index messages_unseen (migration 090): the same expression, word for word
    const first = r.st(`SELECT uid FROM messages WHERE mailbox_id = ? AND instr(' ' || flags || ' ', ' \\Seen ') = 0 ORDER BY uid LIMIT 1`)
      .pluck().get(mailboxId) as number | undefined;
    const keywords = r.st('SELECT keyword FROM mailbox_keywords WHERE mailbox_id = ? ORDER BY keyword').pluck().all(mailboxId) as string[];
    return { mailbox, uids, firstUnseen: first ?? 0, keywords, recent: above(uids, row.recent_uid as number) };
  }),
  subscriptions: async (r: Reader, userId: number): Promise<string[]> =>
    (r.st('SELECT name FROM subscriptions WHERE user_id = ? ORDER BY name').all(userId) as Row[]).map((s) => s.name as string),
};

export const mailboxWrites = {
  create: (w: Writer, userId: number, name: string, specialUse: string | null = null): Promise<MailboxRecord> =>
    w.write((tx) => createMailbox(tx, userId, name, specialUse, false)),
  delete: (w: Writer, mailboxId: number): Promise<void> => w.write((tx) => deleteMailbox(tx, mailboxId)),
  rename: (w: Writer, userId: number, from: string, to: string): Promise<void> => w.write((tx) => rename(tx, userId, from, to)),
  /** by mailbox (the older call): the mailbox's flag and its name's subscription */
  subscribe: (w: Writer, mailboxId: number, on: boolean): Promise<void> =>
    w.write((tx) => {
      const mb = tx.st('UPDATE mailboxes SET subscribed = ? WHERE id = ? RETURNING user_id, name').get(on ? 1 : 0, mailboxId) as Row | undefined;
      if (mb) setSubscribed(tx, mb.user_id as number, mb.name as string, on);
    }),
  setSubscribed: (w: Writer, userId: number, name: string, on: boolean): Promise<void> => w.write((tx) => setSubscribed(tx, userId, name, on)),
  claimRecent: (w: Writer, mailboxId: number): Promise<{ after: number; through: number }> =>
    w.write((tx) => {
      const mb = tx.st('SELECT recent_uid, uidnext FROM mailboxes WHERE id = ?').get(mailboxId) as Row | undefined;
      if (!mb) return { after: 0, through: 0 };
      const after = mb.recent_uid as number;
      const through = Math.max(after, (mb.uidnext as number) - 1);
      if (through > after) tx.st('UPDATE mailboxes SET recent_uid = ? WHERE id = ?').run(through, mailboxId);
      return { after, through };
    }),
};
