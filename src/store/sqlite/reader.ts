// The reader: a read-only connection and the caches, on the thread that serves the sessions
// (WAL: it never blocks the writer and never waits for it). It cannot write: the connection is
// opened read-only and no write function takes a Reader.
import type Database from 'better-sqlite3';
import { BodyCache, DEFAULT_BODY_CACHE_BYTES, ListCache, MetaCache, UidCache, type CachedMeta } from './caches.js';
import { openReadDb, statements } from './open.js';

export class Reader {
  /** a statement on the read connection, compiled once */
  readonly st: (sql: string) => Database.Statement;
  readonly lists = new ListCache();
  /** every live UID by mailbox (mailboxes.view), kept current from the change events */
  readonly uids = new UidCache();
  readonly metas = new MetaCache<CachedMeta>();
  readonly bodies: BodyCache;
  /** for tests and the bench: reads of message bytes (from the cache or the database) */
  readonly stats = { bodyReads: 0, bodyCacheHits: 0 };
  private readonly db: Database.Database;
  private closed = false;

  /** `file` must exist and be migrated (the writer opens it first) */
  constructor(file: string, bodyCacheBytes = DEFAULT_BODY_CACHE_BYTES) {
    this.db = openReadDb(file);
    this.st = statements(this.db);
    this.bodies = new BodyCache(bodyCacheBytes);
  }

  /** `fn`'s reads in one read transaction: one point in time (WAL: writers go on meanwhile) */
  snapshot<T>(fn: () => T): T {
    if (this.db.inTransaction) return fn();
    this.db.exec('BEGIN');
    try {
      return fn();
    } finally {
      this.db.exec('COMMIT');
    }
  }

  get readonly(): boolean {
    return this.db.readonly;
  }

  /** A consistent snapshot into `file` (which must not exist): VACUUM INTO runs in one read transaction (WAL: writers go on). */
  backup(file: string): void {
    this.db.prepare('VACUUM INTO ?').run(file);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
