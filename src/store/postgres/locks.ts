// Locks and login-failure counts on PostgreSQL (Store.locks, Store.penalties): one table each,
// shared by every node. A lock is a row with an owner and an expiry (not a session advisory lock:
// the pool hands out connections per statement, and a node that dies must let go by itself).
// Each call is one statement, atomic on its own (INSERT ... ON CONFLICT takes the row lock).
import type { PgDb } from './db.js';

/** Takes `key` for `owner` until `ttlMs` from now when it is free, expired, or already `owner`'s. */
export async function tryAcquire(db: PgDb, key: string, owner: string, ttlMs: number): Promise<boolean> {
  const now = Date.now();
  const rows = await db.tx((t) => t.q(`
    INSERT INTO locks AS l (key, owner, until) VALUES ($1, $2, $3)
    ON CONFLICT (key) DO UPDATE SET owner = EXCLUDED.owner, until = EXCLUDED.until
      WHERE l.owner = EXCLUDED.owner OR l.until <= $4
    RETURNING owner`, [key, owner, now + ttlMs, now]));
  return rows.length === 1;
}

/** Lets go of `key` if `owner` holds it. */
export async function release(db: PgDb, key: string, owner: string): Promise<boolean> {
  return (await db.tx((t) => t.run('DELETE FROM locks WHERE key = $1 AND owner = $2', [key, owner]))) > 0;
}

/** One more failure for every key (a count forgotten `forgetAfterMs` after its last failure starts again at 1); the largest count. */
export async function fail(db: PgDb, keys: string[], now: number, forgetAfterMs: number): Promise<number> {
  if (!keys.length) return 0;
  const rows = await db.tx(async (t) => {
    // now and then, forget what is long past (bounded: the table never holds more than recent guessers)
    if (Math.random() < 0.01) await t.run('DELETE FROM login_failures WHERE last < $1', [now - forgetAfterMs]);
    // sorted keys: two nodes counting the same pair lock the rows in the same order (no deadlock)
    return t.q(`
      INSERT INTO login_failures AS f (key, failures, last)
      SELECT k, 1, $2 FROM unnest($1::text[]) AS k ORDER BY k
      ON CONFLICT (key) DO UPDATE SET
        failures = CASE WHEN f.last < $3 THEN 1 ELSE f.failures + 1 END, last = EXCLUDED.last
      RETURNING failures`, [[...new Set(keys)].sort(), now, now - forgetAfterMs]);
  });
  return Math.max(0, ...rows.map((r) => r.failures as number));
}

/** The failure count of `key` (0 when none, or forgotten). */
export async function failures(db: PgDb, key: string, now: number, forgetAfterMs: number): Promise<number> {
  const r = await db.readOne('SELECT failures FROM login_failures WHERE key = $1 AND last >= $2', [key, now - forgetAfterMs]);
  return (r?.failures as number | undefined) ?? 0;
}

/** Forgets the keys' failures (a successful login). */
export async function clear(db: PgDb, keys: string[]): Promise<void> {
  if (!keys.length) return;
  await db.tx((t) => t.run('DELETE FROM login_failures WHERE key = ANY($1::text[])', [keys]));
}
