// Queue leases on PostgreSQL (Store.queue.claim / renew / release): several nodes work one
// queue. A claim locks the due rows it takes with FOR UPDATE SKIP LOCKED, so two nodes claiming
// at the same moment never wait for each other and never take the same row, and stamps them
// with the node and an expiry; reschedule and finish end the lease. A node that dies mid-delivery
// holds its entries only until lease_until: then any node's claim takes them again.
import type { PgDb, Row } from './db.js';

/**
 * Leases up to `limit` due entries to `node` until `now + leaseMs`, oldest due first. Returns
 * the rows (q.*, b.size) for the store's row mapper.
 */
export async function claim(db: PgDb, node: string, now: number, limit: number, leaseMs: number): Promise<Row[]> {
  if (limit <= 0) return [];
  return db.tx((t) => t.q(`
    WITH due AS (
      SELECT id FROM queue
       WHERE status = 'queued' AND next_attempt <= $3 AND (lease_until IS NULL OR lease_until <= $3)
       ORDER BY next_attempt, id
       LIMIT $4
       FOR UPDATE SKIP LOCKED)
    UPDATE queue q SET lease_node = $1, lease_until = $2
      FROM due, blobs b
     WHERE q.id = due.id AND b.id = q.blob_id
    RETURNING q.*, b.size`, [node, now + leaseMs, now, limit]))
    .then((rows) => rows.sort((a, b) => (a.next_attempt as number) - (b.next_attempt as number) || (a.id as number) - (b.id as number)));
}

/** Extends the leases `node` still holds among `ids`; returns those ids. */
export async function renew(db: PgDb, node: string, ids: number[], now: number, leaseMs: number): Promise<number[]> {
  if (!ids.length) return [];
  const rows = await db.tx((t) => t.q(`UPDATE queue SET lease_until = $1 WHERE lease_node = $2 AND status = 'queued' AND id = ANY($3::bigint[]) RETURNING id`,
    [now + leaseMs, node, ids]));
  return rows.map((r) => r.id as number);
}

/** Ends `node`'s leases on `ids` (or on every entry it holds); returns how many. */
export async function release(db: PgDb, node: string, ids?: number[]): Promise<number> {
  if (ids !== undefined && !ids.length) return 0;
  return db.tx((t) => ids === undefined
    ? t.run('UPDATE queue SET lease_node = NULL, lease_until = NULL WHERE lease_node = $1', [node])
    : t.run('UPDATE queue SET lease_node = NULL, lease_until = NULL WHERE lease_node = $1 AND id = ANY($2::bigint[])', [node, ids]));
}

/** reschedule (an attempt ended, the entry waits again): the SET clause that ends its lease */
export const END_LEASE = 'lease_node = NULL, lease_until = NULL';

/** The lease fields of a QueueEntry from a queue row. */
export function leaseOf(r: Row): { leaseNode: string | null; leaseUntil: number | null } {
  return { leaseNode: (r.lease_node as string | null) ?? null, leaseUntil: (r.lease_until as number | null) ?? null };
}
