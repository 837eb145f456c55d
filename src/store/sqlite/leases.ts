// Queue leases on SQLite (Store.queue.claim / renew / release). One writer owns the file, so a
// lease is a plain UPDATE ... RETURNING on the writer connection: every claim is serialised by
// SQLite's write lock, and two claims (two runners, two processes on one file) never return the
// same entry while its lease lives. Each function runs inside the caller's write transaction
// (SqliteStore.write) and returns rows for the store's own row mapper.
import type Database from 'better-sqlite3';

type Row = Record<string, unknown>;
/** the store's prepared-statement cache on the writer connection */
export type Prepare = (sql: string) => Database.Statement;

/**
 * Leases up to `limit` due entries to `node` until `now + leaseMs`, oldest due first: queued,
 * next attempt at or before `now`, and no lease or an expired one. Returns them (q.*, b.size).
 */
export function claim(ws: Prepare, node: string, now: number, limit: number, leaseMs: number): Row[] {
  if (limit <= 0) return [];
  const ids = (ws(`UPDATE queue SET lease_node = ?, lease_until = ?
      WHERE id IN (SELECT id FROM queue WHERE status = 'queued' AND next_attempt <= ? AND (lease_until IS NULL OR lease_until <= ?)
                   ORDER BY next_attempt, id LIMIT ?)
      RETURNING id`).all(node, now + leaseMs, now, now, limit) as Row[]).map((r) => r.id as number);
  if (!ids.length) return [];
  return ws(`SELECT q.*, b.size FROM queue q JOIN blobs b ON b.id = q.blob_id
      WHERE q.id IN (SELECT value FROM json_each(?)) ORDER BY q.next_attempt, q.id`).all(JSON.stringify(ids)) as Row[];
}

/** Extends the leases `node` still holds among `ids`; returns those ids. */
export function renew(ws: Prepare, node: string, ids: number[], now: number, leaseMs: number): number[] {
  if (!ids.length) return [];
  return (ws(`UPDATE queue SET lease_until = ? WHERE lease_node = ? AND status = 'queued' AND id IN (SELECT value FROM json_each(?)) RETURNING id`)
    .all(now + leaseMs, node, JSON.stringify(ids)) as Row[]).map((r) => r.id as number);
}

/** Ends `node`'s leases on `ids` (or on everything it holds); returns how many. */
export function release(ws: Prepare, node: string, ids?: number[]): number {
  if (ids === undefined) return ws('UPDATE queue SET lease_node = NULL, lease_until = NULL WHERE lease_node = ?').run(node).changes;
  if (!ids.length) return 0;
  return ws('UPDATE queue SET lease_node = NULL, lease_until = NULL WHERE lease_node = ? AND id IN (SELECT value FROM json_each(?))')
    .run(node, JSON.stringify(ids)).changes;
}

/** reschedule (an attempt ended, the entry waits again): the SET clause that ends its lease */
export const END_LEASE = 'lease_node = NULL, lease_until = NULL';

/** The lease fields of a QueueEntry from a queue row. */
export function leaseOf(r: Row): { leaseNode: string | null; leaseUntil: number | null } {
  return { leaseNode: (r.lease_node as string | null) ?? null, leaseUntil: (r.lease_until as number | null) ?? null };
}
