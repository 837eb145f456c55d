// Changing mailbox copies: APPEND and imports (appendMany), flags (MODSEQ, UNCHANGEDSINCE),
// EXPUNGE by the \Deleted rule, removal of given copies (POP3), COPY and MOVE. Each is one
// transaction under the mailbox row locks.
import { createHash } from 'node:crypto';
import { toCrlf } from '../../mail/dot-stuffing.js';
import { analyze } from '../analyze.js';
import { StoreError } from '../errors.js';
import type { BlobMeta, FlagChange, FlagOp, ImportItem, ImportOutcome, JourneyEvent } from '../types.js';
import type { Pg } from './context.js';
import { bumpModseq, copyTx, expungeTx, insertCopy, lockMailboxes, putBlob } from './copies.js';
import { insertJourney } from './journey.js';

/** an import item, parsed before the transaction (so that it holds the mailbox lock only for its inserts) */
type Prepared = { item: ImportItem; raw: Buffer; sha: string; meta: BlobMeta | null; error?: string; held?: boolean };

export const messageWrites = {
  append: async (pg: Pg, mailboxId: number, given: Buffer, opts: { flags?: string[]; internalDate?: number; journey?: JourneyEvent[] } = {}) => {
    const raw = toCrlf(given);
    const meta = await analyze(raw, pg.mimeLimits);
    return pg.db.tx(async (t) => {
      await lockMailboxes(t, [mailboxId]);
      const mb = await t.one('SELECT uidvalidity FROM mailboxes WHERE id = $1', [mailboxId]);
      if (!mb) throw new StoreError('notfound', 'no such mailbox');
      const blobId = await putBlob(t, raw, meta, 1);
      const uid = await insertCopy(t, mailboxId, blobId, raw.length, opts.flags ?? [], opts.internalDate ?? Date.now(), null);
      if (opts.journey) await insertJourney(t, opts.journey);
      return { uid, uidValidity: mb.uidvalidity as number };
    });
  },
  setFlags: (pg: Pg, mailboxId: number, uids: number[], op: FlagOp, flags: string[], opts: { unchangedSince?: number; origin?: unknown } = {}) =>
    pg.db.tx(async (t) => {
      await lockMailboxes(t, [mailboxId]);
      const rows = await t.q('SELECT uid, flags, modseq FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[])', [mailboxId, uids]);
      const byUid = new Map(rows.map((r) => [r.uid as number, r]));
      const changed: FlagChange[] = [];
      const failed: number[] = [];
      let modseq = 0;
      for (const uid of uids) {
        const m = byUid.get(uid);
        if (!m) continue;
        // RFC 7162 §3.1.3: UNCHANGEDSINCE fails for messages modified after the given MODSEQ
        if (opts.unchangedSince !== undefined && (m.modseq as number) > opts.unchangedSince) { failed.push(uid); continue; }
        const old = m.flags as string[];
        const next = op === 'set' ? [...new Set(flags)] : op === 'add' ? [...new Set([...old, ...flags])] : old.filter((f) => !flags.includes(f));
        if (next.length === old.length && next.every((f) => old.includes(f))) continue;
        if (!modseq) modseq = await bumpModseq(t, mailboxId);
        changed.push({ uid, flags: next, modseq });
      }
      if (changed.length) {
        await t.run(`UPDATE messages m SET flags = v.flags, modseq = $3 FROM
          (SELECT u.uid, string_to_array(u.f, ' ') AS flags FROM unnest($2::bigint[], $4::text[]) AS u(uid, f)) v
          WHERE m.mailbox_id = $1 AND m.uid = v.uid`,
        [mailboxId, changed.map((c) => c.uid), modseq, changed.map((c) => c.flags.join(' '))]);
        t.changes.push({ mailboxId, kind: 'flags', changes: changed, modseq, origin: opts.origin });
      }
      return { changed, failed };
    }),
  expunge: (pg: Pg, mailboxId: number, uids?: number[], opts: { origin?: unknown; journey?: JourneyEvent[] } = {}) =>
    pg.db.tx(async (t) => {
      // RFC 4315 §2.1 UID EXPUNGE: only the given messages that have \Deleted
      const r = await expungeTx(t, mailboxId, uids, opts.origin, true);
      if (opts.journey) await insertJourney(t, opts.journey);
      return r;
    }),
  remove: (pg: Pg, mailboxId: number, uids: number[], opts: { origin?: unknown; journey?: JourneyEvent[] } = {}) =>
    pg.db.tx(async (t) => {
      // RFC 1939 §6 POP3 UPDATE state: exactly the messages marked by DELE, whatever their flags
      const r = await expungeTx(t, mailboxId, uids, opts.origin, false);
      if (opts.journey) await insertJourney(t, opts.journey);
      return r;
    }),
  copy: (pg: Pg, from: number, uids: number[], to: number) => pg.db.tx((t) => copyTx(t, from, uids, to)),
  move: (pg: Pg, from: number, uids: number[], to: number, opts: { origin?: unknown } = {}) =>
    pg.db.tx(async (t) => {
      const res = await copyTx(t, from, uids, to);
      await expungeTx(t, from, res.map.map(([u]) => u), opts.origin, false);
      return res;
    }),
  appendMany: async (pg: Pg, mailboxId: number, items: ImportItem[]): Promise<ImportOutcome[]> => {
    const prepared: Prepared[] = [];
    for (const item of items) {
      const raw = toCrlf(item.raw);
      const sha = createHash('sha256').update(raw).digest('hex');
      if (await pg.db.readOne('SELECT 1 FROM blobs b JOIN messages m ON m.blob_id = b.id WHERE b.sha256 = $1 AND m.mailbox_id = $2 LIMIT 1', [sha, mailboxId])) {
        prepared.push({ item, raw, sha, meta: null, held: true });
        continue;
      }
      try {
        prepared.push({ item, raw, sha, meta: await analyze(raw, pg.mimeLimits) });
      } catch (err) {
        prepared.push({ item, raw, sha, meta: null, error: `cannot parse: ${(err as Error).message}` });
      }
    }
    return pg.db.tx(async (t) => {
      await lockMailboxes(t, [mailboxId]);
      const mb = await t.one('SELECT name FROM mailboxes WHERE id = $1', [mailboxId]);
      if (!mb) throw new StoreError('notfound', 'no such mailbox');
      const out: ImportOutcome[] = [];
      for (const { item, raw, sha, meta, error, held } of prepared) {
        if (held) { out.push({ duplicate: true }); continue; }
        if (!meta) { out.push({ failed: error ?? 'cannot parse' }); continue; }
        if (await t.one('SELECT 1 FROM blobs b JOIN messages m ON m.blob_id = b.id WHERE b.sha256 = $1 AND m.mailbox_id = $2 LIMIT 1', [sha, mailboxId])) {
          out.push({ duplicate: true });
          continue;
        }
        const blobId = await putBlob(t, raw, meta, 1, sha);
        const uid = await insertCopy(t, mailboxId, blobId, raw.length, item.flags, item.internalDate, item.msgId);
        await insertJourney(t, [{ msgId: item.msgId, messageId: meta.messageId, agent: 'MDA', step: 'imported',
          details: { mailbox: mb.name as string, uid, size: raw.length, ...(item.source ? { source: item.source } : {}) } }]);
        out.push({ uid });
      }
      return out;
    });
  },
};
