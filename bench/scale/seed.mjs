// Seeds a postoffice data dir with one big INBOX and keeps it, so a mailbox run at 1M messages (or another
// helper's measurement) starts from a copy instead of spending minutes seeding:
//   POSTOFFICE_DIR=/path/to/built/checkout node bench/scale/seed.mjs DATA_DIR [MESSAGES=1000000]
// The user, password and messages are the mailbox sweep's (scale-big@example.test / scalepw, ~670 bytes,
// every 1000th with "zebra" in its Subject, all \Seen), seeded by `postoffice import` of one mbox. The
// dir is built as DATA_DIR.part and renamed at the end, so a copy never sees half of it. Prints one JSON
// line: the importer's time and peak RSS, the disk used. Serve a COPY of it (mailbox.mjs does:
// BENCH_SCALE_MAILBOX_SEEDED=DATA_DIR), a served data dir is changed by its first SELECT.
import { existsSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { POSTOFFICE_DIR, diskMb, log, message, now, ms, r1, postoffice } from './lib.mjs';
import { USER, writeMbox } from './mailbox.mjs';

const [dir, count = '1000000'] = process.argv.slice(2);
if (!dir) { console.error('usage: POSTOFFICE_DIR=CHECKOUT node bench/scale/seed.mjs DATA_DIR [MESSAGES]'); process.exit(2); }
const target = path.resolve(dir);
if (existsSync(target)) throw new Error(`${target} exists: seed.mjs never overwrites a kept data dir`);
const part = `${target}.part`;
rmSync(part, { recursive: true, force: true });
const n = Number(count);
const t = postoffice(part);
const t0 = now();
await t.adduser(USER);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'scale-seed-'));
const mbox = path.join(tmp, 'seed.mbox');
log(`writing ${n} messages to ${mbox}`);
writeMbox(mbox, 0, n);
const writeS = ms(t0) / 1000;
const mboxMb = statSync(mbox).size / 2 ** 20;
log(`importing into ${part} (from ${POSTOFFICE_DIR})`);
const imp = await t.seed(USER, mbox);
rmSync(tmp, { recursive: true, force: true });
renameSync(part, target);
const meta = {
  workload: 'seed', target: 'postoffice', data_dir: target, postoffice_dir: POSTOFFICE_DIR, messages: n, msg_bytes: message(1, 600, USER).length,
  mbox_mb: r1(mboxMb), mbox_write_s: r1(writeS), import_s: imp.wall_s, import_msgs_per_s: Math.round(n / imp.wall_s),
  importer_peak_rss_mb: imp.peak_rss_mb, data_dir_mb: diskMb(target), loadavg: os.loadavg().map((x) => r1(x)), at: new Date().toISOString(),
};
writeFileSync(`${target}.json`, JSON.stringify(meta) + '\n'); // beside the dir: mailbox.mjs reads the count there
console.log(JSON.stringify(meta));
