// SELECT (cold and warm), STATUS, UID FETCH of the newest 100 headers, SEARCH of a header word and the
// server's memory, against the size of one mailbox. The mailbox grows through the sizes: at each step the
// missing messages are seeded in bulk with the server stopped, then the server starts (cold) and is measured.
//   postoffice: `postoffice import ADDRESS FILE.mbox` (the store's batched appendMany path)
//   anchor:     files written straight into the user's Maildir cur/; Dovecot indexes them on the first SELECT
//   BENCH_SCALE_MAILBOX_SEEDED=DIR (postoffice): at the size DIR holds (DIR.json from seed.mjs, else
//   BENCH_SCALE_MAILBOX_SEEDED_COUNT, else 1,000,000) the data dir becomes a COPY of DIR instead of
//   importing the missing messages (DIR itself is never served or changed)
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { DOMAIN, PASSWORD, POSTOFFICE_DIR, diskMb, dropCaches, env, imapConnect, list, loadMeter, log, median, message, ms, now, num, r1, record, serverMemory, sleep } from './lib.mjs';

const SIZES = list('BENCH_SCALE_MAILBOX_SIZES', '1000,10000');
const BODY = num('BENCH_SCALE_MAILBOX_MSG_BYTES', 600);
const WARM = num('BENCH_SCALE_WARM_RUNS', 5);
const SEEDED = env('BENCH_SCALE_MAILBOX_SEEDED', '');

/**
 * Waits until postoffice's background header-text backfill (migration 090, on a store seeded by an
 * older build) is done: its meta row 'header_text_backfill' gone. Read-only, a fresh connection per
 * look (a WAL reader blocks no writer). Resolves with the seconds waited (0: nothing to do, or a store
 * without that table). BENCH_SCALE_WAIT_BACKFILL=0 measures at once (a just-upgraded server).
 */
async function waitBackfill(dataDir) {
  if (env('BENCH_SCALE_WAIT_BACKFILL', '1') !== '1') return null;
  const require = createRequire(path.join(POSTOFFICE_DIR, 'package.json'));
  const Database = require('better-sqlite3');
  const pending = () => {
    const db = new Database(path.join(dataDir, 'postoffice.sqlite'), { readonly: true, fileMustExist: true });
    try { return db.prepare(`SELECT value FROM meta WHERE key = 'header_text_backfill'`).get()?.value ?? null; } catch { return null; } finally { db.close(); }
  };
  const t0 = now();
  const limit = num('BENCH_SCALE_BACKFILL_TIMEOUT', 3600) * 1000;
  let mark = pending();
  if (mark !== null) log(`postoffice: waiting for the header-text backfill (blob ids up to ${mark} to do)`);
  while (mark !== null) {
    if (ms(t0) > limit) throw new Error(`header-text backfill not done after ${limit / 1000} s (at ${mark})`);
    await sleep(1000);
    mark = pending();
  }
  return r1(ms(t0) / 1000);
}

/** The message count of a kept data dir from seed.mjs (its DIR.json), or the knob, or 1M. */
function seededCount(dir) {
  try { return JSON.parse(readFileSync(`${dir}.json`, 'utf8')).messages; } catch { return num('BENCH_SCALE_MAILBOX_SEEDED_COUNT', 1_000_000); }
}
export const USER = `scale-big@${DOMAIN}`;

/** Messages from+1 .. to as an mbox file (RFC 4155 From_ lines; the bodies never start a line with "From "), all seen. */
export function writeMbox(file, from, to) {
  const fd = openSync(file, 'w');
  let chunk = '';
  for (let i = from + 1; i <= to; i++) {
    // Status: RO = \Seen (the importer strips the field), as the anchor's Maildir files are (:2,S): an old mailbox is read
    chunk += `From seed@example.test Tue Dec  1 10:00:00 2026\nStatus: RO\n${message(i, BODY, USER).replace(/\r\n/g, '\n')}\n`;
    if (chunk.length > 1 << 20) { writeSync(fd, chunk); chunk = ''; }
  }
  writeSync(fd, chunk);
  closeSync(fd);
}

/** Messages from+1 .. to as Maildir files in cur/ (seen), owned by Dovecot's mail user. */
function writeMaildir(dir, from, to) {
  for (const d of ['cur', 'new', 'tmp']) mkdirSync(path.join(dir, d), { recursive: true });
  const host = os.hostname().replace(/[/:]/g, '_');
  const base = 1764583200; // 2025-12-01, fixed so re-runs name files alike
  for (let i = from + 1; i <= to; i++) {
    const raw = message(i, BODY, USER);
    const fd = openSync(path.join(dir, 'cur', `${base + i}.M${i}P1.${host},S=${raw.length}:2,S`), 'w');
    writeSync(fd, raw);
    closeSync(fd);
  }
  execFileSync('chown', ['-R', 'mail:mail', path.dirname(path.dirname(dir))]); // the domain folder too: Dovecot creates users' homes in it
}

/**
 * One point. Figures are kept as they come: a step that fails (a server that dies or answers NO at 1M)
 * leaves the figures before it and an `error`, instead of losing the point. The server's memory is also
 * sampled every 250 ms (peak anonymous RSS and RSS over the point).
 */
async function measure(t, size, cold) {
  const meter = loadMeter();
  const r = { mailbox_messages: size, cold };
  const peak = { anon: 0, rss: 0 };
  const sample = () => { const m = serverMemory(t.pids()); peak.anon = Math.max(peak.anon, m.anon_mb ?? 0); peak.rss = Math.max(peak.rss, m.rss_mb ?? 0); };
  const sampler = setInterval(sample, 250);
  let c = null; let side = null;
  try {
    c = await imapConnect(t.ports.imap);
    side = await imapConnect(t.ports.imap);
    await c.cmd(`LOGIN ${USER} ${PASSWORD}`);
    await side.cmd(`LOGIN ${USER} ${PASSWORD}`);
    let t0 = now();
    const first = await c.cmd('SELECT INBOX');
    r.select_cold_ms = r1(ms(t0));
    const afterSelect = serverMemory(t.pids());
    r.server_anon_mb_after_select = afterSelect.anon_mb; r.server_rss_mb_after_select = afterSelect.rss_mb; r.server_file_mb_after_select = afterSelect.file_mb;
    const exists = Number(/\* (\d+) EXISTS/.exec(first)?.[1]);
    // how many the cold SELECT made \Recent (RFC 3501 7.3.2): postoffice's imported messages are new to
    // every session until one SELECTs them; Dovecot's files written into cur/ may not be
    r.recent_at_cold_select = Number(/\* (\d+) RECENT/.exec(first)?.[1] ?? NaN);
    const uidnext = Number(/UIDNEXT (\d+)/.exec(first)?.[1]);
    if (exists !== size) throw new Error(`${t.name}: SELECT shows ${exists} messages, seeded ${size}`);
    const warm = [];
    for (let i = 0; i < WARM; i++) { t0 = now(); await c.cmd('SELECT INBOX'); warm.push(ms(t0)); }
    r.select_warm_ms = r1(median(warm));
    const status = [];
    for (let i = 0; i < WARM; i++) { t0 = now(); await side.cmd('STATUS INBOX (MESSAGES UIDNEXT UNSEEN)'); status.push(ms(t0)); }
    r.status_ms = r1(median(status));
    const fetch = [];
    for (let i = 0; i < WARM; i++) {
      t0 = now();
      const out = await c.cmd(`UID FETCH ${Math.max(1, uidnext - 100)}:* (UID FLAGS BODY.PEEK[HEADER])`);
      fetch.push(ms(t0));
      if (i === 0) { const got = (out.match(/^\* \d+ FETCH/gm) ?? []).length; if (got !== Math.min(100, size)) throw new Error(`${t.name}: FETCH of the newest 100 gave ${got}`); }
    }
    r.fetch_newest100_ms = r1(median(fetch));
    t0 = now();
    const found = await c.cmd('UID SEARCH SUBJECT zebra');
    r.search_header_ms = r1(ms(t0));
    const hits = (/\* SEARCH([\d ]*)/.exec(found)?.[1].trim().split(/\s+/).filter(Boolean) ?? []).length;
    r.search_hits = hits;
    if (hits !== Math.floor(size / 1000)) throw new Error(`${t.name}: SEARCH SUBJECT zebra found ${hits}, seeded ${Math.floor(size / 1000)}`);
  } catch (e) {
    r.error = String(e.message ?? e).slice(0, 500);
    log(`${t.name}: ${size}: ${r.error}`);
  } finally { clearInterval(sampler); c?.close(); side?.close(); }
  sample();
  const mem = serverMemory(t.pids());
  return {
    ...r, server_rss_mb: mem.rss_mb, server_pss_mb: mem.pss_mb, server_anon_mb: mem.anon_mb, server_file_mb: mem.file_mb, server_processes: mem.processes,
    server_anon_mb_peak: r1(peak.anon), server_rss_mb_peak: r1(peak.rss), server_alive: t.pids().length > 0, ...meter.stop(),
  };
}

export async function mailboxSweep(t, tmp) {
  await t.adduser(USER);
  let have = 0;
  const seeded = SEEDED && t.name === 'postoffice' ? { dir: path.resolve(SEEDED), count: seededCount(path.resolve(SEEDED)) } : null;
  if (seeded && !existsSync(path.join(seeded.dir, 'postoffice.sqlite'))) throw new Error(`BENCH_SCALE_MAILBOX_SEEDED=${seeded.dir}: no postoffice.sqlite there`);
  for (const size of SIZES) {
    if (size < have) { log(`${t.name}: mailbox sizes must grow (${size} after ${have}); skipped`); continue; }
    const s0 = now();
    let seed = {};
    if (t.name === 'postoffice') {
      await t.stop();
      if (seeded && seeded.count === size) {
        // a copy of the kept data dir (cp -a: its WAL and -shm too); the server may migrate it on start
        rmSync(t.dataDir, { recursive: true, force: true });
        execFileSync('cp', ['-a', seeded.dir, t.dataDir]);
        seed = { seeded_from: seeded.dir, copy_s: r1(ms(s0) / 1000) };
      } else {
        const file = path.join(tmp, `seed-${have}-${size}.mbox`);
        writeMbox(file, have, size);
        const writeS = ms(s0) / 1000;
        const mboxMb = statSync(file).size / 2 ** 20;
        const imp = await t.seed(USER, file);
        rmSync(file);
        seed = { mbox_write_s: r1(writeS), mbox_mb: r1(mboxMb), import_s: imp.wall_s, importer_peak_rss_mb: imp.peak_rss_mb };
      }
      const st0 = now();
      await t.start();
      seed.start_s = r1(ms(st0) / 1000);
      seed.backfill_s = await waitBackfill(t.dataDir);
      seed.data_dir_mb = diskMb(t.dataDir);
    } else {
      writeMaildir(t.maildir(USER), have, size);
      seed.maildir_write_s = r1(ms(s0) / 1000);
      const st0 = now();
      await t.restartImap();
      seed.start_s = r1(ms(st0) / 1000);
      seed.data_dir_mb = diskMb(t.maildir(USER));
    }
    const seedS = ms(s0) / 1000;
    seed.dropped_caches = dropCaches();
    have = size;
    log(`${t.name}: mailbox at ${size} messages (seeded in ${seedS.toFixed(1)} s)`);
    const r = await measure(t, size, true);
    record({ target: t.name, workload: 'mailbox', seed_s: r1(seedS), msg_bytes: message(1, BODY, USER).length, ...seed, ...r });
    if (!r.server_alive) { log(`${t.name}: the server is gone; mailbox sweep stopped`); break; }
  }
}
