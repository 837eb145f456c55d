// MDA: the store. Callers import from here; only this folder knows SQL.
import type { MimeLimits } from '../mail/mime.js';
import type { Store } from './types.js';
import { SqliteStore } from './sqlite/store.js';
import { WorkerStore } from './worker-store.js';

export * from './types.js';
export { SqliteStore, type SqliteStoreOptions } from './sqlite/store.js';
export { StoreError } from './errors.js';
export { DEFAULT_MAILBOXES } from './defaults.js';
export { checkSnapshot, type SnapshotCheck } from './snapshot.js';

/**
 * The server's store. Config storeUrl unset: the SQLite file in dataDir, a writer thread that
 * group-commits and reads on the calling thread. storeUrl postgres://...: the PostgreSQL store
 * that several nodes share (store/postgres/). Nothing outside store/ learns which one runs.
 */
export async function openStore(dataDir: string, opts: { storeUrl?: string | null; commitDelayMs?: number; mimeLimits?: Partial<MimeLimits>; bodyCacheBytes?: number } = {}): Promise<Store> {
  if (opts.storeUrl) {
    const { PgStore } = await import('./postgres/pg-store.js');
    return PgStore.open({ url: opts.storeUrl, mimeLimits: opts.mimeLimits, bodyCacheBytes: opts.bodyCacheBytes });
  }
  return WorkerStore.open(dataDir, opts.commitDelayMs, opts.mimeLimits, opts.bodyCacheBytes);
}

/**
 * A store for tools that run beside the server (the CLI): the SQLite file opened on this thread
 * (no writer thread), or the same PostgreSQL database as the server.
 */
export async function openToolStore(dataDir: string, opts: { storeUrl?: string | null; mimeLimits?: Partial<MimeLimits>; bodyCacheBytes?: number } = {}): Promise<Store> {
  if (opts.storeUrl) {
    const { PgStore } = await import('./postgres/pg-store.js');
    return PgStore.open({ url: opts.storeUrl, mimeLimits: opts.mimeLimits, bodyCacheBytes: opts.bodyCacheBytes ?? 0, poolSize: 4 });
  }
  return new SqliteStore({ dataDir, mimeLimits: opts.mimeLimits, bodyCacheBytes: opts.bodyCacheBytes });
}
