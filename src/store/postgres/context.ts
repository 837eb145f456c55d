// What every PostgreSQL job file works over: the database handle (db.ts: the pools, transactions,
// the change channel), the caches shared by every session of the process, the store's events
// and counters, and the deliveries waiting for a group commit. The job files hold plain
// functions `(pg, ...args)`; PgStore binds them to one context (pg-store.ts).
import type { MimeLimits } from '../../mail/mime.js';
import type { StoreEvents } from '../types.js';
import type { PgCaches } from './caches.js';
import type { PgDb } from './db.js';
import type { GroupCommit } from './deliver.js';

/** for tests and the bench: reads of message bytes; delivery transactions, the deliveries in them, and batches run again with a savepoint per delivery */
export interface PgStats { bodyReads: number; bodyCacheHits: number; deliveryCommits: number; deliveries: number; isolatedRetries: number }

export interface Pg {
  readonly db: PgDb;
  readonly events: StoreEvents;
  readonly mimeLimits: Partial<MimeLimits> | undefined;
  readonly caches: PgCaches;
  readonly stats: PgStats;
  readonly group: GroupCommit;
}

/** A table of functions over the context, with the context bound: `(pg, ...a) => r` becomes `(...a) => r`. */
export type Bound<T> = { [K in keyof T]: T[K] extends (pg: never, ...a: infer A) => infer R ? (...a: A) => R : Bound<T[K]> };

/** Binds every function of a table (and of its sub-tables) to `pg`. */
export function bind<T extends object>(table: T, pg: Pg): Bound<T> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(table)) {
    out[k] = typeof v === 'function' ? (...a: unknown[]) => (v as (c: Pg, ...a: unknown[]) => unknown)(pg, ...a) : bind(v as object, pg);
  }
  return out as Bound<T>;
}
