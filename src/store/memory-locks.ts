// Locks and login-failure counts for a store that one process serves (SQLite: one node per
// file). They live in this process's memory: a restart forgets them, as a restart ends every
// POP3 session that held a lock. A store shared by several nodes keeps them in the database
// instead (store/postgres/locks.ts), behind the same two interfaces.
import type { Store } from './types.js';

/** bound on the entries kept, so that a flood of failing addresses cannot grow memory without end */
const MAX_ENTRIES = 100_000;

export class MemoryLocks implements Pick<Store, 'locks' | 'penalties'> {
  private readonly held = new Map<string, { owner: string; until: number }>();
  private readonly failures = new Map<string, { failures: number; last: number }>();

  locks = {
    tryAcquire: async (key: string, owner: string, ttlMs: number): Promise<boolean> => {
      const now = Date.now();
      const cur = this.held.get(key);
      if (cur && cur.owner !== owner && cur.until > now) return false;
      if (!cur && this.held.size >= MAX_ENTRIES) this.sweepLocks(now);
      this.held.set(key, { owner, until: now + ttlMs });
      return true;
    },
    release: async (key: string, owner: string): Promise<boolean> => {
      const cur = this.held.get(key);
      if (!cur || cur.owner !== owner) return false;
      this.held.delete(key);
      return true;
    },
  };

  penalties = {
    fail: async (keys: string[], now: number, forgetAfterMs: number): Promise<number> => {
      let max = 0;
      for (const key of keys) {
        const p = this.failures.get(key);
        const n = p && now - p.last <= forgetAfterMs ? p.failures + 1 : 1;
        // re-inserted: the Map's order is the order of last failure, oldest first
        this.failures.delete(key);
        this.failures.set(key, { failures: n, last: now });
        max = Math.max(max, n);
      }
      while (this.failures.size > MAX_ENTRIES) this.failures.delete(this.failures.keys().next().value as string);
      return max;
    },
    get: async (key: string, now: number, forgetAfterMs: number): Promise<number> => {
      const p = this.failures.get(key);
      if (!p) return 0;
      if (now - p.last > forgetAfterMs) { this.failures.delete(key); return 0; }
      return p.failures;
    },
    clear: async (keys: string[]): Promise<void> => {
      for (const key of keys) this.failures.delete(key);
    },
  };

  private sweepLocks(now: number): void {
    for (const [k, v] of this.held) if (v.until <= now) this.held.delete(k);
  }
}
