// `postoffice backup PATH` and `postoffice restore PATH`. A backup is a folder: postoffice.sqlite
// (a consistent snapshot taken with VACUUM INTO in one read transaction: in WAL mode delivery goes
// on meanwhile, and every message acknowledged before it started is in it), the TLS and DKIM keys
// of the data dir, and manifest.json. It is made under a temporary name and renamed when complete.
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { checkSnapshot, type SnapshotCheck, type Store } from '../store/index.js';
import { SourceError } from './source.js';

export const DB_FILE = 'postoffice.sqlite';
/** what a data dir holds besides the database that a restore needs: the TLS pair and the DKIM keys */
const KEY_DIRS = ['tls', 'dkim'];

function isEmptyOrMissing(p: string): boolean {
  if (!existsSync(p)) return true;
  return statSync(p).isDirectory() && readdirSync(p).length === 0;
}

export interface BackupSummary extends SnapshotCheck { path: string; bytes: number; seconds: number; keys: string[] }

export async function backup(store: Store, dataDir: string, dest: string): Promise<BackupSummary> {
  const started = Date.now();
  const target = path.resolve(dest);
  if (!isEmptyOrMissing(target)) throw new SourceError(`${target} exists and is not empty; a backup goes into a new folder`);
  if (target === path.resolve(dataDir) || target.startsWith(path.resolve(dataDir) + path.sep)) throw new SourceError('a backup cannot go inside the data dir');
  const tmp = `${target}.partial-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  try {
    await store.backup(path.join(tmp, DB_FILE));
    chmodSync(path.join(tmp, DB_FILE), 0o600); // password hashes and everyone's mail
    const keys: string[] = [];
    for (const d of KEY_DIRS) {
      const from = path.join(dataDir, d);
      if (existsSync(from)) { cpSync(from, path.join(tmp, d), { recursive: true, preserveTimestamps: true }); keys.push(d); }
    }
    const check = checkSnapshot(path.join(tmp, DB_FILE));
    if (!check.ok) throw new SourceError(`the snapshot failed its integrity check: ${check.integrity}`);
    const bytes = statSync(path.join(tmp, DB_FILE)).size;
    writeFileSync(path.join(tmp, 'manifest.json'), JSON.stringify({
      kind: 'postoffice backup', created: new Date().toISOString(), dataDir: path.resolve(dataDir), schema: check.userVersion,
      users: check.users, messages: check.messages, bytes, keys,
    }, null, 2) + '\n');
    if (existsSync(target)) rmSync(target, { recursive: true });
    renameSync(tmp, target);
    return { ...check, path: target, bytes, keys, seconds: (Date.now() - started) / 1000 };
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Copies a backup into an empty (or missing) data dir, after checking the snapshot's integrity. */
export function restore(src: string, dataDir: string): SnapshotCheck & { keys: string[] } {
  const db = path.join(src, DB_FILE);
  if (!existsSync(db)) throw new SourceError(`${src} is not a postoffice backup (no ${DB_FILE})`);
  if (!isEmptyOrMissing(dataDir)) throw new SourceError(`the data dir ${dataDir} is not empty; restore only into an empty one`);
  const check = checkSnapshot(db);
  if (!check.ok) throw new SourceError(`the backup's database failed its integrity check: ${check.integrity}`);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  cpSync(db, path.join(dataDir, DB_FILE));
  chmodSync(path.join(dataDir, DB_FILE), 0o600);
  const keys: string[] = [];
  for (const d of KEY_DIRS) {
    const from = path.join(src, d);
    if (existsSync(from)) { cpSync(from, path.join(dataDir, d), { recursive: true, preserveTimestamps: true }); keys.push(d); }
  }
  return { ...check, keys };
}
