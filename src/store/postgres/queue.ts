// The relay queue: entries (one per remote domain of a delivery, deliver.ts), the queue
// runner's reschedule and finish (the entry goes, its bytes' reference with it), and several
// nodes working one queue through leases (queue-lease.ts).
import { StoreError } from '../errors.js';
import type { JourneyEvent, QueueEntry, QueueOutcome, QueueRcpt, QueueReschedule } from '../types.js';
import type { Pg } from './context.js';
import { txt, type PgTx, type Row } from './db.js';
import { releaseBlobs } from './copies.js';
import { insertJourney } from './journey.js';
import * as leases from './queue-lease.js';

function queueRow(r: Row): QueueEntry {
  return {
    id: r.id as number, msgId: r.msg_id as string, blobId: r.blob_id as number, mailFrom: r.mail_from as string, domain: r.domain as string,
    rcpts: JSON.parse(r.rcpts as string) as QueueRcpt[], attempts: r.attempts as number, nextAttempt: r.next_attempt as number,
    lastReply: (r.last_reply as string) ?? null, status: r.status as QueueEntry['status'], data: JSON.parse(r.data as string) as Record<string, unknown>,
    created: r.created as number, updated: r.updated as number, size: (r.size as number) ?? 0,
    leaseNode: (r.lease_node as string) ?? null, leaseUntil: (r.lease_until as number) ?? null,
  };
}

async function releaseOne(t: PgTx, blobId: number): Promise<void> {
  await releaseBlobs(t, new Map([[blobId, 1]]));
}

export const queue = {
  list: async (pg: Pg): Promise<QueueEntry[]> =>
    (await pg.db.read(`SELECT q.*, b.size FROM queue q JOIN blobs b ON b.id = q.blob_id WHERE q.status = 'queued' ORDER BY q.id`)).map(queueRow),
  get: async (pg: Pg, id: number): Promise<QueueEntry | null> => {
    const r = await pg.db.readOne('SELECT q.*, b.size FROM queue q JOIN blobs b ON b.id = q.blob_id WHERE q.id = $1', [id]);
    return r ? queueRow(r) : null;
  },
  del: (pg: Pg, id: number): Promise<boolean> =>
    pg.db.tx(async (t) => {
      const r = await t.one('DELETE FROM queue WHERE id = $1 RETURNING blob_id', [id]);
      if (!r) return false;
      await releaseOne(t, r.blob_id as number);
      return true;
    }),
  due: async (pg: Pg, now: number, limit: number): Promise<QueueEntry[]> =>
    (await pg.db.read(`SELECT q.*, b.size FROM queue q JOIN blobs b ON b.id = q.blob_id WHERE q.status = 'queued' AND q.next_attempt <= $1
      ORDER BY q.next_attempt, q.id LIMIT $2`, [now, limit])).map(queueRow),
  flush: async (pg: Pg, id?: number): Promise<number> => {
    const n = await pg.db.tx(async (t) => {
      const n = id === undefined
        ? await t.run(`UPDATE queue SET next_attempt = $1 WHERE status = 'queued'`, [Date.now()])
        : await t.run(`UPDATE queue SET next_attempt = $1 WHERE status = 'queued' AND id = $2`, [Date.now(), id]);
      if (n) t.queued = true;
      return n;
    });
    if (n) pg.events.emit('queued');
    return n;
  },
  reschedule: (pg: Pg, id: number, patch: QueueReschedule, journey?: JourneyEvent[]): Promise<void> =>
    pg.db.tx(async (t) => {
      const cur = await t.one(`SELECT * FROM queue WHERE id = $1 AND status = 'queued' FOR UPDATE`, [id]);
      if (!cur) throw new StoreError('notfound', `no queue entry ${id}`);
      if (patch.rcpts && !patch.rcpts.some((r) => r.status === 'pending')) throw new StoreError('invalid', `queue entry ${id}: no recipient left pending (finish it)`);
      await t.run(`UPDATE queue SET rcpts = $1, attempts = $2, next_attempt = $3, last_reply = $4, data = $5, updated = $6, lease_node = NULL, lease_until = NULL WHERE id = $7`, [
        patch.rcpts ? JSON.stringify(patch.rcpts) : cur.rcpts, patch.attempts ?? cur.attempts, patch.nextAttempt ?? cur.next_attempt,
        patch.lastReply !== undefined ? txt(patch.lastReply) : cur.last_reply, patch.data ? JSON.stringify(patch.data) : cur.data, Date.now(), id]);
      if (journey) await insertJourney(t, journey);
    }),
  finish: (pg: Pg, id: number, outcome: QueueOutcome, journey?: JourneyEvent[]): Promise<QueueEntry> =>
    pg.db.tx(async (t) => {
      const cur = await t.one(`SELECT q.*, b.size FROM queue q JOIN blobs b ON b.id = q.blob_id WHERE q.id = $1 AND q.status = 'queued' FOR UPDATE OF q`, [id]);
      if (!cur) throw new StoreError('notfound', `no queue entry ${id}`);
      if (outcome.rcpts.some((r) => r.status === 'pending')) throw new StoreError('invalid', `queue entry ${id}: a recipient is still pending (reschedule it)`);
      const status = outcome.rcpts.some((r) => r.status === 'delivered') ? 'delivered' as const : 'bounced' as const;
      const ended: QueueEntry = { ...queueRow(cur), rcpts: outcome.rcpts, attempts: outcome.attempts, lastReply: outcome.lastReply, status, updated: Date.now(), leaseNode: null, leaseUntil: null };
      if (outcome.data) ended.data = outcome.data;
      await t.run('DELETE FROM queue WHERE id = $1', [id]);
      await releaseOne(t, cur.blob_id as number);
      if (journey) await insertJourney(t, journey);
      return ended;
    }),
  /** several nodes, one queue: FOR UPDATE SKIP LOCKED leases (queue-lease.ts) */
  claim: async (pg: Pg, node: string, now: number, limit: number, leaseMs: number): Promise<QueueEntry[]> =>
    (await leases.claim(pg.db, node, now, limit, leaseMs)).map(queueRow),
  renew: (pg: Pg, node: string, ids: number[], now: number, leaseMs: number): Promise<number[]> => leases.renew(pg.db, node, ids, now, leaseMs),
  release: (pg: Pg, node: string, ids?: number[]): Promise<number> => leases.release(pg.db, node, ids),
};
