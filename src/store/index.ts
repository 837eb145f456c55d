// MDA: the store. Callers import from here; only this folder knows SQL.
import type { Store } from './types.js';
import { SqliteStore } from './sqlite-store.js';

export * from './types.js';
export { SqliteStore, StoreError, DEFAULT_MAILBOXES } from './sqlite-store.js';

export function openStore(dataDir: string, opts: { commitDelayMs?: number } = {}): Store & { stats: SqliteStore['stats'] } {
  return new SqliteStore({ dataDir, commitDelayMs: opts.commitDelayMs });
}
