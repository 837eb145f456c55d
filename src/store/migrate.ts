// `postoffice migrate-store`: copies a single-node installation (the SQLite file) into a
// PostgreSQL store that several nodes will share. Everything keeps its identity: ids of users,
// mailboxes, blobs, queue entries and journey rows; every mailbox's UIDVALIDITY, UIDNEXT and
// HIGHESTMODSEQ; every message's UID, MODSEQ, flags and internal date. Clients see the same
// mailboxes afterwards and resynchronise nothing (RFC 3501 §2.3.1.1, RFC 7162 §3.1).
//
// One run reads one snapshot of the source (a single SQLite read transaction: the server may go
// on writing meanwhile) and writes PostgreSQL in batches, each its own transaction. It is
// resumable: rows are inserted with ON CONFLICT, so a second run (after an interruption, or to
// pick up mail that arrived meanwhile) continues where the last stopped and duplicates nothing;
// message bytes already copied are not sent again. Mailbox counters, flags and the queue are
// brought up to the newer snapshot; messages expunged since are removed. Run it a last time with
// the old server stopped, then start the nodes on the PostgreSQL store.
import Database from 'better-sqlite3';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../config/config.js';
import { storedSearchText } from './analyze.js';
import { PgDb, redact, type PgTx, type Row } from './postgres/db.js';

/** what a run tells its caller as it goes (the CLI draws a progress bar) */
export interface MigrateProgress {
  /** a new phase (a table), with what is known of its size */
  phase(label: string, total: { messages?: number; bytes?: number }): void;
  /** rows (and bytes) copied since the last tick */
  tick(rows: number, bytes: number): void;
}

export interface MigrateCount { table: string; source: number; target: number; ok: boolean }
export interface MigrateReport {
  source: string;
  target: string;
  /** true when the target already held an earlier run's copy */
  resumed: boolean;
  /** message bytes sent in this run (blobs copied before were skipped) */
  blobsCopied: number;
  bytesCopied: number;
  counts: MigrateCount[];
  /** mailboxes whose UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, message count or size differ (none when ok) */
  mismatched: string[];
  ok: boolean;
  ms: number;
}

/** a user-facing failure (bad source, a target holding other data) */
export class MigrateError extends Error {}

/** one PostgreSQL transaction writes at most this many message bytes or rows */
const BATCH_BYTES = 16 * 1024 * 1024;
const BATCH_ROWS = 2000;

const PG_MIGRATIONS = path.join(PACKAGE_ROOT, 'src', 'store', 'postgres', 'migrations');

/** `sqlite:PATH` (a data dir or the database file) -> the file; accepts a bare path too. */
export function sqliteSource(spec: string): string {
  const p = spec.replace(/^sqlite:(\/\/)?/i, '');
  if (!p) throw new MigrateError('--from: expected sqlite:PATH (the data dir or its postoffice.sqlite)');
  const abs = path.resolve(p);
  if (existsSync(abs) && statSync(abs).isDirectory()) {
    const f = path.join(abs, 'postoffice.sqlite');
    if (!existsSync(f)) throw new MigrateError(`--from: no postoffice.sqlite in ${abs}`);
    return f;
  }
  if (existsSync(abs)) return abs;
  // the data dir's file is postoffice.sqlite: `sqlite:./data/postoffice.db` means that one
  const sibling = path.join(path.dirname(abs), 'postoffice.sqlite');
  if (existsSync(sibling)) return sibling;
  throw new MigrateError(`--from: no such SQLite database: ${abs}`);
}

const bool = (v: unknown) => v === 1 || v === true;
const flagsOf = (s: unknown) => (typeof s === 'string' && s ? s.split(' ') : []);
/** PostgreSQL TEXT cannot hold NUL */
const txt = (s: unknown) => (typeof s === 'string' && s.includes('\0') ? s.replace(/\0/g, '') : (s as string | null));

/** Copies `from` (SQLite file) into `to` (postgres://...). */
export async function migrateStore(opts: { from: string; to: string; progress?: MigrateProgress; log?: (line: string) => void }): Promise<MigrateReport> {
  const started = Date.now();
  const file = sqliteSource(opts.from);
  if (!/^postgres(ql)?:\/\//i.test(opts.to)) throw new MigrateError('--to: expected postgres://USER:PASSWORD@HOST:PORT/DATABASE');
  const progress = opts.progress ?? { phase() {}, tick() {} };
  let src: Database.Database;
  try {
    src = new Database(file, { readonly: true, fileMustExist: true, timeout: 10_000 });
  } catch (err) {
    throw new MigrateError(`--from: cannot open ${file}: ${(err as Error).message}`);
  }
  const version = src.pragma('user_version', { simple: true }) as number;
  if (version < 60) { src.close(); throw new MigrateError(`--from: ${file} has schema version ${version}; start the current postoffice on it once (it migrates), then copy`); }
  const db = await PgDb.open({ url: opts.to, poolSize: 2, onChange: () => {}, onQueued: () => {} }, PG_MIGRATIONS).catch((err: Error) => { src.close(); throw err; });
  const report: MigrateReport = { source: file, target: redact(opts.to), resumed: false, blobsCopied: 0, bytesCopied: 0, counts: [], mismatched: [], ok: false, ms: 0 };
  try {
    // one snapshot of the source for the whole run
    src.prepare('BEGIN').run();
    const all = (sql: string, ...p: unknown[]) => src.prepare(sql).all(...p) as Row[];
    const one = (sql: string, ...p: unknown[]) => src.prepare(sql).get(...p) as Row | undefined;
    all('SELECT 1 FROM meta LIMIT 1');

    // 0. the target is empty, or holds an earlier run's copy of this source
    const mark = await db.readOne(`SELECT value FROM meta WHERE key = 'migrated-from'`);
    const held = Number((await db.readOne('SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM domains) + (SELECT count(*) FROM blobs) AS n'))!.n);
    if (mark) {
      const was = (JSON.parse(mark.value as string) as { file: string }).file;
      if (was !== file) throw new MigrateError(`--to: the target holds a copy of ${was}, not of ${file}`);
      report.resumed = true;
    } else if (held > 0) {
      throw new MigrateError('--to: the target database holds data that migrate-store did not copy; give an empty database');
    }
    await db.tx((t) => t.run(`INSERT INTO meta (key, value) VALUES ('migrated-from', $1) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
      [JSON.stringify({ file, at: Date.now() })]));

    // 1. small tables, whole
    const small = async (label: string, rows: Row[], write: (t: PgTx, r: Row[]) => Promise<unknown>) => {
      progress.phase(label, { messages: rows.length });
      for (let i = 0; i < rows.length; i += BATCH_ROWS) {
        const part = rows.slice(i, i + BATCH_ROWS);
        await db.tx((t) => write(t, part));
        progress.tick(part.length, 0);
      }
    };
    const col = <T>(rows: Row[], k: string, f: (v: unknown) => T = (v) => v as T): T[] => rows.map((r) => f(r[k]));
    const lower = (v: unknown) => String(v).toLowerCase();

    // meta: the UIDVALIDITY high-water mark (a mailbox created later on PostgreSQL gets a larger one)
    await small('meta', all(`SELECT key, value FROM meta WHERE key <> 'migrated-from'`), (t, r) => t.q(`
      INSERT INTO meta (key, value) SELECT * FROM unnest($1::text[], $2::text[])
      ON CONFLICT (key) DO UPDATE SET value = CASE WHEN meta.key = 'uidvalidity' AND meta.value ~ '^[0-9]+$' AND EXCLUDED.value ~ '^[0-9]+$'
        THEN GREATEST(meta.value::bigint, EXCLUDED.value::bigint)::text ELSE EXCLUDED.value END`, [col(r, 'key'), col(r, 'value', String)]));
    await small('domains', all('SELECT name, created FROM domains'), (t, r) => t.q(`
      INSERT INTO domains (name, created) SELECT * FROM unnest($1::text[], $2::bigint[]) ON CONFLICT DO NOTHING`, [col(r, 'name', lower), col(r, 'created')]));
    await small('users', all('SELECT id, address, domain, password_hash, created, admin FROM users ORDER BY id'), (t, r) => t.q(`
      INSERT INTO users (id, address, domain, password_hash, created, admin) OVERRIDING SYSTEM VALUE
      SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::boolean[])
      ON CONFLICT (id) DO UPDATE SET password_hash = EXCLUDED.password_hash, admin = EXCLUDED.admin`,
      [col(r, 'id'), col(r, 'address', lower), col(r, 'domain', lower), col(r, 'password_hash'), col(r, 'created'), col(r, 'admin', bool)]));
    await small('aliases', all('SELECT id, source, target, created FROM aliases ORDER BY id'), (t, r) => t.q(`
      INSERT INTO aliases (id, source, target, created) OVERRIDING SYSTEM VALUE
      SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[]) ON CONFLICT DO NOTHING`,
      [col(r, 'id'), col(r, 'source', lower), col(r, 'target', lower), col(r, 'created')]));
    // RFC 3501 §2.3.1.1, RFC 7162 §3.1: UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ as they are
    await small('mailboxes', all('SELECT * FROM mailboxes ORDER BY id'), (t, r) => t.q(`
      INSERT INTO mailboxes (id, user_id, name, special_use, subscribed, uidvalidity, uidnext, highestmodseq, recent_uid, created) OVERRIDING SYSTEM VALUE
      SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::boolean[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[])
      ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, special_use = EXCLUDED.special_use, subscribed = EXCLUDED.subscribed,
        uidnext = GREATEST(mailboxes.uidnext, EXCLUDED.uidnext), highestmodseq = GREATEST(mailboxes.highestmodseq, EXCLUDED.highestmodseq),
        recent_uid = GREATEST(mailboxes.recent_uid, EXCLUDED.recent_uid)`,
      [col(r, 'id'), col(r, 'user_id'), col(r, 'name'), col(r, 'special_use'), col(r, 'subscribed', bool), col(r, 'uidvalidity'), col(r, 'uidnext'),
        col(r, 'highestmodseq'), col(r, 'recent_uid'), col(r, 'created')]));

    // RFC 3501 §6.3.6 subscriptions by name (a source from before migration 080 keeps them on the mailboxes)
    const hasSubs = !!one(`SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = 'subscriptions'`);
    const subscriptions = hasSubs ? all('SELECT user_id, name FROM subscriptions') : all('SELECT user_id, name FROM mailboxes WHERE subscribed = 1');
    await db.tx(async (t) => {
      await t.run('DELETE FROM subscriptions');
      for (let i = 0; i < subscriptions.length; i += BATCH_ROWS) {
        const r = subscriptions.slice(i, i + BATCH_ROWS);
        await t.q('INSERT INTO subscriptions (user_id, name) SELECT * FROM unnest($1::bigint[], $2::text[]) ON CONFLICT DO NOTHING', [col(r, 'user_id'), col(r, 'name')]);
      }
    });

    // 2. message bytes, once each: only blobs the target does not hold yet (by id; a same id with
    // other bytes means someone wrote to the target meanwhile: stop rather than mix them up)
    const have = new Set((await db.read('SELECT id FROM blobs')).map((r) => r.id as number));
    const blobIds = (all('SELECT id, size, sha256 FROM blobs ORDER BY id') as { id: number; size: number; sha256: string }[]);
    const todo = blobIds.filter((b) => !have.has(b.id));
    if (have.size) {
      const targetSha = new Map((await db.read('SELECT id, sha256 FROM blobs')).map((r) => [r.id as number, r.sha256 as string]));
      for (const b of blobIds) {
        const s = targetSha.get(b.id);
        if (s !== undefined && s !== b.sha256) throw new MigrateError(`--to: blob ${b.id} holds other bytes in the target than in the source: the target was written to since the last run`);
      }
    }
    progress.phase('message bytes', { messages: todo.length, bytes: todo.reduce((n, b) => n + b.size, 0) });
    // SEARCH's indexed header text goes along when the source has it (SQLite migration 090); the rest
    // is filled in by the nodes' background backfill (the mark set below)
    const srcHeaders = !!one(`SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = 'blob_headers'`);
    const getBlob = src.prepare(`SELECT b.id, b.sha256, b.size, b.refs, b.message_id, b.subject, b.created, b.mime, b.raw, b.search_text,
      ${srcHeaders ? 'h.text' : 'NULL'} AS header_text FROM blobs b ${srcHeaders ? 'LEFT JOIN blob_headers h ON h.blob_id = b.id' : ''} WHERE b.id = ?`);
    for (let i = 0; i < todo.length;) {
      let bytes = 0;
      const batch: Row[] = [];
      while (i < todo.length && batch.length < 500 && (bytes < BATCH_BYTES || batch.length === 0)) {
        const r = getBlob.get(todo[i++].id) as Row | undefined;
        if (!r) continue;
        batch.push(r);
        bytes += (r.raw as Buffer).length;
      }
      await db.tx(async (t) => {
        for (const r of batch) {
          await t.q(`INSERT INTO blobs (id, sha256, size, refs, message_id, subject, created, mime, raw, search_text) OVERRIDING SYSTEM VALUE
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
          [r.id, r.sha256, r.size, r.refs, txt(r.message_id), txt(r.subject), r.created, txt(r.mime), r.raw,
            // PostgreSQL keeps the decoded text itself (no TEXT_FROM_RAW mark there)
            txt(storedSearchText(r.search_text as string, () => r.raw as Buffer, JSON.parse(r.mime as string)))]);
          if (r.header_text != null) await t.q('INSERT INTO blob_headers (blob_id, text) VALUES ($1, $2) ON CONFLICT DO NOTHING', [r.id, txt(r.header_text)]);
        }
      });
      report.blobsCopied += batch.length;
      report.bytesCopied += bytes;
      progress.tick(batch.length, bytes);
    }

    // blobs copied without their header text: the nodes' backfill (postgres/backfill.ts) passes over
    // those that have it and parses the others, newest first
    await db.tx((t) => t.run(`INSERT INTO meta (key, value) SELECT 'header_text_backfill', MAX(id)::text FROM blobs HAVING MAX(id) IS NOT NULL
      ON CONFLICT (key) DO UPDATE SET value = GREATEST(meta.value::bigint, excluded.value::bigint)::text`));

    // 3. mailbox copies by (mailbox, UID), keyset-paged: new ones inserted, flags and MODSEQ brought up to date
    const nMessages = Number(one('SELECT count(*) AS n FROM messages')!.n);
    progress.phase('messages', { messages: nMessages });
    const page = src.prepare(`SELECT mailbox_id, uid, modseq, flags, internal_date, blob_id, size, msg_id FROM messages
      WHERE (mailbox_id, uid) > (?, ?) ORDER BY mailbox_id, uid LIMIT ${BATCH_ROWS * 2}`);
    for (let after: [number, number] = [-1, -1]; ;) {
      const rows = page.all(after[0], after[1]) as Row[];
      if (!rows.length) break;
      after = [rows[rows.length - 1].mailbox_id as number, rows[rows.length - 1].uid as number];
      await db.tx((t) => t.q(`
        INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, blob_id, size, msg_id)
        SELECT m, u, s, CASE WHEN f = '' THEN '{}'::text[] ELSE string_to_array(f, ' ') END, d, b, z, i
          FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::text[]) AS x(m, u, s, f, d, b, z, i)
        ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = EXCLUDED.modseq, flags = EXCLUDED.flags
          WHERE messages.modseq < EXCLUDED.modseq`,
      [col(rows, 'mailbox_id'), col(rows, 'uid'), col(rows, 'modseq'), col(rows, 'flags', (v) => flagsOf(v).join(' ')), col(rows, 'internal_date'),
        col(rows, 'blob_id'), col(rows, 'size'), col(rows, 'msg_id', txt)]));
      progress.tick(rows.length, 0);
    }
    // RFC 7162 §3.2.10: expunged UIDs stay as tombstones (VANISHED); a copy expunged since the last run goes
    await small('expunged', all('SELECT mailbox_id, uid, modseq FROM expunged'), async (t, r) => {
      await t.q(`INSERT INTO expunged (mailbox_id, uid, modseq) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) ON CONFLICT DO NOTHING`,
        [col(r, 'mailbox_id'), col(r, 'uid'), col(r, 'modseq')]);
      await t.q(`DELETE FROM messages m USING unnest($1::bigint[], $2::bigint[]) AS x(mb, u) WHERE m.mailbox_id = x.mb AND m.uid = x.u`, [col(r, 'mailbox_id'), col(r, 'uid')]);
    });

    // 4. the relay queue as it stands (no leases: the nodes claim afresh); entries finished since go
    const queue = all('SELECT * FROM queue ORDER BY id');
    await small('queue', queue, (t, r) => t.q(`
      INSERT INTO queue (id, msg_id, blob_id, mail_from, domain, rcpts, attempts, next_attempt, last_reply, status, data, created, updated) OVERRIDING SYSTEM VALUE
      SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::int[], $8::bigint[], $9::text[], $10::text[], $11::text[], $12::bigint[], $13::bigint[])
      ON CONFLICT (id) DO UPDATE SET rcpts = EXCLUDED.rcpts, attempts = EXCLUDED.attempts, next_attempt = EXCLUDED.next_attempt,
        last_reply = EXCLUDED.last_reply, status = EXCLUDED.status, data = EXCLUDED.data, updated = EXCLUDED.updated`,
    [col(r, 'id'), col(r, 'msg_id'), col(r, 'blob_id'), col(r, 'mail_from'), col(r, 'domain', lower), col(r, 'rcpts'), col(r, 'attempts'), col(r, 'next_attempt'),
      col(r, 'last_reply', txt), col(r, 'status'), col(r, 'data'), col(r, 'created'), col(r, 'updated')]));
    await db.tx((t) => t.run('DELETE FROM queue WHERE NOT (id = ANY($1::bigint[]))', [queue.map((q) => q.id)]));

    // 5. the journey (append-only: rows past the last one copied), its "MDA <- MUA" steps, and the per-user submission counts
    const lastJourney = Number((await db.readOne('SELECT COALESCE(MAX(id), 0) AS n FROM journey'))!.n);
    const nJourney = Number(one('SELECT count(*) AS n FROM journey WHERE id > ?', lastJourney)!.n);
    progress.phase('journey', { messages: nJourney });
    const jpage = src.prepare(`SELECT id, msg_id, message_id, time, agent, step, details FROM journey WHERE id > ? ORDER BY id LIMIT ${BATCH_ROWS * 2}`);
    for (let after = lastJourney; ;) {
      const rows = jpage.all(after) as Row[];
      if (!rows.length) break;
      after = rows[rows.length - 1].id as number;
      await db.tx((t) => t.q(`
        INSERT INTO journey (id, msg_id, message_id, time, agent, step, details) OVERRIDING SYSTEM VALUE
        SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[]) ON CONFLICT DO NOTHING`,
      [col(rows, 'id'), col(rows, 'msg_id', txt), col(rows, 'message_id', txt), col(rows, 'time'), col(rows, 'agent'), col(rows, 'step', txt), col(rows, 'details', txt)]));
      progress.tick(rows.length, 0);
    }
    await small('reading sessions', all('SELECT * FROM access_sessions ORDER BY id'), (t, r) => t.q(`
      INSERT INTO access_sessions (id, sid, "user", protocol, client, started) OVERRIDING SYSTEM VALUE
      SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[]) ON CONFLICT DO NOTHING`,
    [col(r, 'id'), col(r, 'sid'), col(r, 'user', txt), col(r, 'protocol'), col(r, 'client', txt), col(r, 'started')]));
    await small('fetched/retrieved steps', all('SELECT * FROM journey_access'), (t, r) => t.q(`
      INSERT INTO journey_access (msg_id, session_id, step, time, mailbox, uid)
      SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::bigint[]) ON CONFLICT DO NOTHING`,
    [col(r, 'msg_id'), col(r, 'session_id'), col(r, 'step'), col(r, 'time'), col(r, 'mailbox', txt), col(r, 'uid')]));
    // the lab's protocol transcripts (sessions updated in place; their line batches are append-only)
    await small('transcripts', all('SELECT * FROM transcripts ORDER BY id'), (t, r) => t.q(`
      INSERT INTO transcripts (id, sid, protocol, local, remote, "user", tls, started, ended, msg_ids, lines, bytes, truncated) OVERRIDING SYSTEM VALUE
      SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::text[], $11::int[], $12::int[], $13::boolean[])
      ON CONFLICT (id) DO UPDATE SET ended = EXCLUDED.ended, msg_ids = EXCLUDED.msg_ids, lines = EXCLUDED.lines, bytes = EXCLUDED.bytes,
        truncated = EXCLUDED.truncated, "user" = EXCLUDED."user", tls = EXCLUDED.tls`,
    [col(r, 'id'), col(r, 'sid'), col(r, 'protocol'), col(r, 'local', txt), col(r, 'remote', txt), col(r, 'user', txt), col(r, 'tls', txt), col(r, 'started'),
      col(r, 'ended'), col(r, 'msg_ids', txt), col(r, 'lines'), col(r, 'bytes'), col(r, 'truncated', bool)]));
    const lastLines = Number((await db.readOne('SELECT COALESCE(MAX(id), 0) AS n FROM transcript_lines'))!.n);
    await small('transcript lines', all('SELECT id, transcript_id, lines FROM transcript_lines WHERE id > ? ORDER BY id', lastLines), (t, r) => t.q(`
      INSERT INTO transcript_lines (id, transcript_id, lines) OVERRIDING SYSTEM VALUE
      SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[]) ON CONFLICT DO NOTHING`, [col(r, 'id'), col(r, 'transcript_id'), col(r, 'lines', txt)]));
    await small('transcript links', all('SELECT msg_id, transcript_id FROM transcript_msgs'), (t, r) => t.q(`
      INSERT INTO transcript_msgs (msg_id, transcript_id) SELECT * FROM unnest($1::text[], $2::bigint[]) ON CONFLICT DO NOTHING`,
    [col(r, 'msg_id', txt), col(r, 'transcript_id')]));
    const subs = all('SELECT user_id, time, recipients, msg_id FROM submissions ORDER BY time');
    await db.tx(async (t) => {
      await t.run('DELETE FROM submissions');
      for (let i = 0; i < subs.length; i += BATCH_ROWS) {
        const r = subs.slice(i, i + BATCH_ROWS);
        await t.q(`INSERT INTO submissions (user_id, time, recipients, msg_id) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::text[])`,
          [col(r, 'user_id'), col(r, 'time'), col(r, 'recipients'), col(r, 'msg_id')]);
      }
    });

    // 6. blob references as the copied rows count them (a blob no copy or entry uses any more goes),
    // and identities past the copied ids (rows the nodes add later never take a copied id)
    await db.tx(async (t) => {
      await t.run(`WITH c AS (SELECT b.id, (SELECT count(*) FROM messages m WHERE m.blob_id = b.id) + (SELECT count(*) FROM queue q WHERE q.blob_id = b.id) AS n FROM blobs b)
        UPDATE blobs SET refs = c.n FROM c WHERE blobs.id = c.id AND blobs.refs <> c.n`);
      await t.run('DELETE FROM blobs WHERE refs <= 0');
      for (const table of ['users', 'aliases', 'mailboxes', 'blobs', 'queue', 'journey', 'access_sessions', 'transcripts', 'transcript_lines']) {
        await t.q(`SELECT setval(pg_get_serial_sequence('${table}', 'id'), GREATEST((SELECT COALESCE(MAX(id), 0) FROM ${table}), 1))`);
      }
    });

    // 7. verify: the same counts on both sides, and every mailbox's counters and contents
    const count = async (table: string, srcSql: string, dstSql: string) => {
      const s = Number(one(srcSql)!.n);
      const d = Number((await db.readOne(dstSql))!.n);
      report.counts.push({ table, source: s, target: d, ok: s === d });
    };
    for (const table of ['domains', 'users', 'aliases', 'mailboxes', 'messages', 'expunged', 'queue', 'journey', 'journey_access', 'submissions', 'transcripts', 'transcript_lines']) {
      await count(table, `SELECT count(*) AS n FROM ${table}`, `SELECT count(*) AS n FROM ${table}`);
    }
    if (hasSubs) await count('subscriptions', 'SELECT count(*) AS n FROM subscriptions', 'SELECT count(*) AS n FROM subscriptions');
    await count('blobs', 'SELECT count(*) AS n FROM blobs WHERE refs > 0', 'SELECT count(*) AS n FROM blobs');
    await count('message bytes', 'SELECT COALESCE(SUM(size), 0) AS n FROM blobs WHERE refs > 0', 'SELECT COALESCE(SUM(size), 0) AS n FROM blobs');
    const srcBoxes = all(`SELECT b.id, u.address || ' ' || b.name AS label, b.uidvalidity, b.uidnext, b.highestmodseq,
      (SELECT count(*) FROM messages m WHERE m.mailbox_id = b.id) AS n, (SELECT COALESCE(SUM(size), 0) FROM messages m WHERE m.mailbox_id = b.id) AS size
      FROM mailboxes b JOIN users u ON u.id = b.user_id`);
    const dstBoxes = new Map((await db.read(`SELECT b.id, b.uidvalidity, b.uidnext, b.highestmodseq,
      (SELECT count(*) FROM messages m WHERE m.mailbox_id = b.id) AS n, (SELECT COALESCE(SUM(size), 0) FROM messages m WHERE m.mailbox_id = b.id) AS size
      FROM mailboxes b`)).map((r) => [r.id as number, r]));
    for (const s of srcBoxes) {
      const d = dstBoxes.get(s.id as number);
      const same = d && ['uidvalidity', 'uidnext', 'highestmodseq', 'n', 'size'].every((k) => Number(d[k]) === Number(s[k]));
      if (!same) report.mismatched.push(s.label as string);
    }
    src.prepare('COMMIT').run();
    report.ok = report.counts.every((c) => c.ok) && report.mismatched.length === 0;
    report.ms = Date.now() - started;
    return report;
  } finally {
    if (src.inTransaction) src.prepare('ROLLBACK').run();
    src.close();
    await db.close();
  }
}
