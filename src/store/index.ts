// MDA: the store. Callers import from here; only this folder knows SQL.
import type { MimeLimits } from '../mail/mime.js';
import type { Store } from './types.js';
import { WorkerStore } from './worker-store.js';

export * from './types.js';
export { SqliteStore, StoreError, DEFAULT_MAILBOXES } from './sqlite-store.js';
export { checkSnapshot, type SnapshotCheck } from './snapshot.js';

/** The server's store: a writer thread that group-commits, reads on the calling thread. */
export function openStore(dataDir: string, opts: { commitDelayMs?: number; mimeLimits?: Partial<MimeLimits>; bodyCacheBytes?: number } = {}): Promise<Store> {
  return WorkerStore.open(dataDir, opts.commitDelayMs, opts.mimeLimits, opts.bodyCacheBytes);
}
