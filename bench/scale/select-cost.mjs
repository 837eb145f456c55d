// What SELECT costs on a seeded store, piece by piece, and what the alternatives would cost (for the
// design note in bench/scale/README.md). Read-only on a copy-free open of the data dir's SQLite file.
//   node --expose-gc bench/scale/select-cost.mjs DATA_DIR [ADDRESS=scale-big@example.test]
// (keep a seeded data dir with BENCH_SCALE_KEEP=1 BENCH_SCALE_SWEEPS=mailbox npm run bench:scale)
import path from 'node:path';
import { createRequire } from 'node:module';
import { ROOT, median, r1 } from './lib.mjs';

const require = createRequire(path.join(ROOT, 'package.json'));
const Database = require('better-sqlite3');
const [dataDir, address = 'scale-big@example.test'] = process.argv.slice(2);
if (!dataDir) { console.error('usage: node --expose-gc bench/scale/select-cost.mjs DATA_DIR [ADDRESS]'); process.exit(2); }
const db = new Database(path.join(dataDir, 'postoffice.sqlite'), { readonly: true, fileMustExist: true });
db.pragma('mmap_size = 1073741824'); // as the server's reader
db.pragma('cache_size = -32768');
const mb = db.prepare(`SELECT m.id, m.recent_uid FROM mailboxes m JOIN users u ON u.id = m.user_id WHERE u.address = ? AND m.name = 'INBOX'`).get(address);
if (!mb) throw new Error(`no INBOX of ${address}`);
const n = db.prepare('SELECT COUNT(*) AS n FROM messages WHERE mailbox_id = ?').get(mb.id).n;

const gc = globalThis.gc ?? (() => {});
const heap = () => { gc(); gc(); return process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers; };
function time(name, fn, runs = 5) {
  const times = [];
  let kept;
  let bytes = 0;
  for (let i = 0; i < runs; i++) {
    kept = undefined;
    const h0 = heap();
    const t0 = process.hrtime.bigint();
    kept = fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    bytes = heap() - h0; // what the result keeps alive
  }
  const row = { what: name, first_ms: r1(times[0]), median_ms: r1(median(times.slice(1))), kept_mb: r1(bytes / 2 ** 20), bytes_per_msg: n ? Math.round(bytes / n) : null };
  console.log(JSON.stringify(row));
  return kept;
}

console.log(JSON.stringify({ mailbox: address, messages: n, db_mb: r1(db.prepare('PRAGMA page_count').pluck().get() * db.prepare('PRAGMA page_size').pluck().get() / 2 ** 20), gc: !!globalThis.gc }));
// today: messages.list -> every row as a frozen object (uid, modseq, flags[], dates, size, blob, msgId),
// then SELECT copies the UIDs into the session (sel.uids) and scans them for keywords, first unseen, max MODSEQ
const list = db.prepare('SELECT uid, modseq, flags, internal_date, size, blob_id, msg_id FROM messages WHERE mailbox_id = ? ORDER BY uid');
const rows = time('today: messages.list (all rows as objects, cached per mailbox until its next change)', () => Object.freeze(list.all(mb.id).map((r) => Object.freeze({
  uid: r.uid, modseq: r.modseq, flags: Object.freeze(r.flags ? r.flags.split(' ') : []), internalDate: r.internal_date, size: r.size, blobId: r.blob_id, msgId: r.msg_id,
}))));
time('today: per SELECT, sel.uids = rows.map(uid) (each session its own array)', () => rows.map((m) => m.uid));
time('today: per SELECT, scan for keywords / first unseen / max MODSEQ', () => {
  const kw = new Set(); let first = 0; let hi = 0;
  rows.forEach((m, i) => { for (const f of m.flags) if (!f.startsWith('\\')) kw.add(f); if (!first && !m.flags.includes('\\Seen')) first = i + 1; if (m.modseq > hi) hi = m.modseq; });
  return [kw, first, hi];
});
const status = db.prepare(`SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS size,
  SUM(CASE WHEN (' ' || flags || ' ') LIKE '% \\Seen %' THEN 0 ELSE 1 END) AS unseen,
  SUM(CASE WHEN (' ' || flags || ' ') LIKE '% \\Deleted %' THEN 1 ELSE 0 END) AS deleted,
  SUM(CASE WHEN uid > ? THEN 1 ELSE 0 END) AS recent FROM messages WHERE mailbox_id = ?`);
time('today: STATUS (COUNT/SUM with LIKE over every row)', () => status.get(mb.recent_uid, mb.id));

// the design: UIDs as a typed array, the rest from indexes or counters kept by the writer
const uids = db.prepare('SELECT uid FROM messages WHERE mailbox_id = ? ORDER BY uid').pluck();
const packed = time('design: UIDs only, into a Uint32Array (shared read-only by every session of the mailbox)', () => {
  const out = new Uint32Array(n + 1024); let i = 0;
  for (const u of uids.iterate(mb.id)) out[i++] = u;
  return out.subarray(0, i);
});
time('design: UIDs as one string from SQLite (group_concat), split into a Uint32Array', () => {
  const text = db.prepare('SELECT group_concat(uid) FROM (SELECT uid FROM messages WHERE mailbox_id = ? ORDER BY uid)').pluck().get(mb.id) ?? '';
  const out = new Uint32Array(n); let i = 0; let v = 0;
  for (let k = 0; k < text.length; k++) { const c = text.charCodeAt(k); if (c === 44) { out[i++] = v; v = 0; } else v = v * 10 + c - 48; }
  if (text.length) out[i++] = v;
  return out.subarray(0, i);
});
const from = packed[Math.max(0, packed.length - 100)];
time('design: UIDs above the cached array\'s last (a warm SELECT after new mail: only the tail)', () => db.prepare('SELECT uid FROM messages WHERE mailbox_id = ? AND uid > ? ORDER BY uid').pluck().all(mb.id, from));
time('design: MAX(modseq) by the (mailbox_id, modseq) index', () => db.prepare('SELECT MAX(modseq) FROM messages WHERE mailbox_id = ?').pluck().get(mb.id));
time('design: COUNT(*) by the (mailbox_id, uid) index (no row reads)', () => db.prepare('SELECT COUNT(*) FROM messages WHERE mailbox_id = ?').pluck().get(mb.id));
time('today\'s SQL for first unseen (scan until one is found; all seen = full scan)', () => db.prepare(`SELECT uid FROM messages WHERE mailbox_id = ? AND (' ' || flags || ' ') NOT LIKE '% \\Seen %' ORDER BY uid LIMIT 1`).pluck().get(mb.id));
time('keywords in use (DISTINCT flags, full scan; the design keeps them per mailbox)', () => db.prepare('SELECT DISTINCT flags FROM messages WHERE mailbox_id = ?').pluck().all(mb.id));
const newest = db.prepare('SELECT uid, modseq, flags, internal_date, size, blob_id FROM messages WHERE mailbox_id = ? AND uid >= ? ORDER BY uid');
time('UID FETCH newest 100: the rows by (mailbox_id, uid)', () => newest.all(mb.id, from));
