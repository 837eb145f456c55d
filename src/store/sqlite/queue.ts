// The outbound queue: one entry per (message, remote domain) with its pending recipients. An
// attempt either reschedules the entry (recipients left pending) or finishes it (none left):
// then the entry leaves the queue and lets go of its bytes; the journey keeps its history.
import { StoreError } from '../errors.js';
import type { JourneyEvent, QueueEntry, QueueOutcome, QueueReschedule } from '../types.js';
import { insertJourney, releaseBlob } from './copies.js';
import * as leases from './leases.js';
import type { Row } from './open.js';
import type { Reader } from './reader.js';
import { queueRow } from './rows.js';
import type { Writer } from './writer.js';

export const queueReads = {
  list: async (r: Reader): Promise<QueueEntry[]> =>
    (r.st(`SELECT q.*, b.size FROM queue q JOIN blobs b ON b.id = q.blob_id WHERE q.status = 'queued' ORDER BY q.id`).all() as Row[]).map(queueRow),
  get: async (r: Reader, id: number): Promise<QueueEntry | null> => {
    const row = r.st('SELECT q.*, b.size FROM queue q JOIN blobs b ON b.id = q.blob_id WHERE q.id = ?').get(id) as Row | undefined;
    return row ? queueRow(row) : null;
  },
  due: async (r: Reader, now: number, limit: number): Promise<QueueEntry[]> =>
    (r.st(`SELECT q.*, b.size FROM queue q JOIN blobs b ON b.id = q.blob_id WHERE q.status = 'queued' AND q.next_attempt <= ? ORDER BY q.next_attempt, q.id LIMIT ?`)
      .all(now, limit) as Row[]).map(queueRow),
};

export const queueWrites = {
  del: (w: Writer, id: number): Promise<boolean> =>
    w.write((tx) => {
      const row = tx.st('DELETE FROM queue WHERE id = ? RETURNING blob_id').get(id) as Row | undefined;
      if (!row) return false;
      releaseBlob(tx, row.blob_id as number);
      return true;
    }),
  flush: async (w: Writer, id?: number): Promise<number> => {
    const n = await w.write((tx) => (id === undefined
      ? tx.st(`UPDATE queue SET next_attempt = ? WHERE status = 'queued'`).run(Date.now())
      : tx.st(`UPDATE queue SET next_attempt = ? WHERE status = 'queued' AND id = ?`).run(Date.now(), id)).changes);
    if (n) w.events.emit('queued');
    return n;
  },
  /** several runners, one queue: see leases.ts */
  claim: (w: Writer, node: string, now: number, limit: number, leaseMs: number): Promise<QueueEntry[]> =>
    w.write((tx) => leases.claim(tx.st, node, now, limit, leaseMs).map(queueRow)),
  renew: (w: Writer, node: string, ids: number[], now: number, leaseMs: number): Promise<number[]> =>
    w.write((tx) => leases.renew(tx.st, node, ids, now, leaseMs)),
  release: (w: Writer, node: string, ids?: number[]): Promise<number> => w.write((tx) => leases.release(tx.st, node, ids)),
  reschedule: (w: Writer, id: number, patch: QueueReschedule, journey?: JourneyEvent[]): Promise<void> =>
    w.write((tx) => {
      const cur = tx.st(`SELECT * FROM queue WHERE id = ? AND status = 'queued'`).get(id) as Row | undefined;
      if (!cur) throw new StoreError('notfound', `no queue entry ${id}`);
      if (patch.rcpts && !patch.rcpts.some((r) => r.status === 'pending')) throw new StoreError('invalid', `queue entry ${id}: no recipient left pending (finish it)`);
      // the attempt is over: its lease ends, and the entry waits for the next claim
      tx.st(`UPDATE queue SET rcpts = ?, attempts = ?, next_attempt = ?, last_reply = ?, data = ?, updated = ?, ${leases.END_LEASE} WHERE id = ?`).run(
        patch.rcpts ? JSON.stringify(patch.rcpts) : cur.rcpts, patch.attempts ?? cur.attempts, patch.nextAttempt ?? cur.next_attempt,
        patch.lastReply !== undefined ? patch.lastReply : cur.last_reply, patch.data ? JSON.stringify(patch.data) : cur.data, Date.now(), id);
      if (journey) insertJourney(tx, journey);
    }),
  finish: (w: Writer, id: number, outcome: QueueOutcome, journey?: JourneyEvent[]): Promise<QueueEntry> =>
    w.write((tx) => {
      const cur = tx.st(`SELECT q.*, b.size FROM queue q JOIN blobs b ON b.id = q.blob_id WHERE q.id = ? AND q.status = 'queued'`).get(id) as Row | undefined;
      if (!cur) throw new StoreError('notfound', `no queue entry ${id}`);
      if (outcome.rcpts.some((r) => r.status === 'pending')) throw new StoreError('invalid', `queue entry ${id}: a recipient is still pending (reschedule it)`);
      const status = outcome.rcpts.some((r) => r.status === 'delivered') ? 'delivered' as const : 'bounced' as const;
      const ended: QueueEntry = { ...queueRow(cur), leaseNode: null, leaseUntil: null, rcpts: outcome.rcpts, attempts: outcome.attempts, lastReply: outcome.lastReply, status, updated: Date.now() };
      if (outcome.data) ended.data = outcome.data;
      tx.st('DELETE FROM queue WHERE id = ?').run(id);
      releaseBlob(tx, cur.blob_id as number);
      if (journey) insertJourney(tx, journey);
      return ended;
    }),
};
