// Opening the database: the writer's connection (WAL, synchronous=FULL, migrations) and the
// readers' (read-only: SQLite itself refuses a write on it).
import Database from 'better-sqlite3';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../config/config.js';
import { InternalError } from '../../mail/errors.js';

export type Row = Record<string, unknown>;

const MIGRATIONS_DIR = path.join(PACKAGE_ROOT, 'src', 'store', 'migrations');

/** The database file of a data dir (the dir is made if missing). */
export function databaseFile(dataDir: string): string {
  mkdirSync(dataDir, { recursive: true });
  return path.join(dataDir, 'postoffice.sqlite');
}

function opening<T>(file: string, open: () => T): T {
  try {
    return open();
  } catch (err) {
    throw new InternalError('STORE_OPEN_FAILED', `cannot open the database ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** The one writer connection: WAL, synchronous=FULL, the schema brought up to date. */
export function openWriteDb(file: string): Database.Database {
  return opening(file, () => {
    const db = new Database(file, { timeout: 10_000 });
    try {
      db.pragma('journal_mode = WAL');
      // DESIGN: a 250 means the mail is on disk: the writer fsyncs every commit.
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      migrate(db);
    } catch (err) {
      db.close();
      throw err;
    }
    return db;
  });
}

/** A read connection (opened after the writer has migrated). */
export function openReadDb(file: string): Database.Database {
  return opening(file, () => {
    const db = new Database(file, { timeout: 10_000, readonly: true });
    db.pragma('foreign_keys = ON');
    // fetches read pages through a memory map (no read() call and copy per page) and keep
    // a larger page cache: message bodies are most of what the reader reads
    db.pragma('mmap_size = 1073741824');
    db.pragma('cache_size = -32768');
    return db;
  });
}

/** migrations/NNN-*.sql above PRAGMA user_version, each in its own transaction. */
function migrate(db: Database.Database): void {
  const files = readdirSync(MIGRATIONS_DIR).filter((f) => /^\d{3}-.*\.sql$/.test(f)).sort();
  const current = db.pragma('user_version', { simple: true }) as number;
  for (const f of files) {
    const n = Number(f.slice(0, 3));
    if (n <= current) continue;
    const sql = readFileSync(path.join(MIGRATIONS_DIR, f), 'utf8');
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${n}`);
    }).immediate();
  }
}

/** Prepared statements of one connection, each compiled once. */
export function statements(db: Database.Database): (sql: string) => Database.Statement {
  const cache = new Map<string, Database.Statement>();
  return (sql) => {
    let st = cache.get(sql);
    if (!st) cache.set(sql, (st = db.prepare(sql)));
    return st;
  };
}
