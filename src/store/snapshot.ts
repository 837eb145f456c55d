// MDA: checks of a database file that is not open as a store (a backup, before `restore` copies it in).
import Database from 'better-sqlite3';

export interface SnapshotCheck { ok: boolean; integrity: string; userVersion: number; users: number; messages: number }

/** PRAGMA integrity_check of a database file (opened read-only) and what it holds. */
export function checkSnapshot(file: string): SnapshotCheck {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('PRAGMA integrity_check').all() as { integrity_check: string }[];
    const integrity = rows.map((r) => r.integrity_check).join('; ');
    const userVersion = db.pragma('user_version', { simple: true }) as number;
    const count = (table: string) => {
      try { return (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n; } catch { return -1; }
    };
    return { ok: integrity === 'ok', integrity, userVersion, users: count('users'), messages: count('messages') };
  } finally {
    db.close();
  }
}
