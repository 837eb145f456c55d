#!/usr/bin/env node
// Import/export/backup figures (not a test): N generated messages in an mbox, imported into a
// fresh store (batched transactions), imported again (all duplicates), exported as mbox and as
// Maildir, and backed up. RSS is sampled every 50 ms: a streamed import keeps it flat.
//
//   npm run build && node bench/move-bench.mjs [N=20000] [BODY_BYTES=8000]
import { mkdtempSync, rmSync, statSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteStore } from '../dist/src/store/index.js';
import { importPath } from '../dist/src/move/import.js';
import { exportUser } from '../dist/src/move/export.js';
import { backup } from '../dist/src/move/backup.js';
import { fromLine } from '../dist/src/move/mbox.js';
import { importImap } from '../dist/src/move/imap-import.js';
import { hashPassword } from '../dist/src/auth/password.js';
import { loadConfig } from '../dist/src/config/config.js';
import { silentLogger } from '../dist/src/log/log.js';
import { startPostoffice } from '../dist/src/postoffice.js';
import { execFile } from 'node:child_process';
import nodemailer from 'nodemailer';

const N = Number(process.argv[2] ?? 20000);
const BODY = Number(process.argv[3] ?? 8000);
const dir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-move-bench-'));
const mb = (b) => (b / 1e6).toFixed(1);

function message(i) {
  const words = ['mail', 'server', 'queue', 'relay', 'From', 'imap', 'store', 'journey', 'Ärger', 'naïve'];
  let body = '';
  while (body.length < BODY) body += words[(i * 7 + body.length) % words.length] + (body.length % 70 < 8 ? '\n' : ' ');
  if (i % 10 === 0) body += '\nFrom the archive: a body line mboxrd quotes\n';
  const head = `Return-Path: <sender${i % 97}@remote.test>\nFrom: Sender ${i % 97} <sender${i % 97}@remote.test>\nTo: bench@example.test\n` +
    `Subject: bench message ${i}\nMessage-ID: <bench-${i}@remote.test>\nDate: ${new Date(Date.UTC(2024, 0, 1) + i * 60_000).toUTCString()}\n` +
    `MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n` + (i % 3 === 0 ? 'Status: RO\n' : '');
  return head + '\n' + body.replace(/^(>*From )/gm, '>$1') + '\n';
}

const mbox = path.join(dir, 'bench.mbox');
const fd = openSync(mbox, 'w');
for (let i = 0; i < N; i++) writeSync(fd, fromLine(`sender${i % 97}@remote.test`, Date.UTC(2024, 0, 1) + i * 60_000) + message(i) + '\n');
closeSync(fd);
const size = statSync(mbox).size;
console.log(`mbox: ${N} messages, ${mb(size)} MB`);

// RSS counts the pages of the database file that SQLite's readers map (mmap_size), which the
// kernel can drop at will; heap+external is what JavaScript holds (buffers included)
let peak = 0;
let peakHeap = 0;
const heap = () => { const m = process.memoryUsage(); return m.heapUsed + m.external; };
const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); peakHeap = Math.max(peakHeap, heap()); }, 50);
const store = new SqliteStore({ dataDir: path.join(dir, 'data'), bodyCacheBytes: 0 });
await store.domains.add('example.test');
const user = await store.users.add('bench@example.test', await hashPassword('bench-pw'));

async function measure(label, fn) {
  if (global.gc) global.gc();
  const rss0 = process.memoryUsage().rss;
  const heap0 = heap();
  peak = rss0;
  peakHeap = heap0;
  const t0 = performance.now();
  const r = await fn();
  const secs = (performance.now() - t0) / 1000;
  const rss1 = process.memoryUsage().rss;
  console.log(`${label}: ${secs.toFixed(1)} s` + (r?.count !== undefined ? `, ${Math.round(r.count / secs)} messages/s, ${mb(r.bytes / secs)} MB/s` : '') +
    `; RSS before ${mb(rss0)} MB, peak ${mb(peak)} MB, after ${mb(rss1)} MB; heap+external ${mb(heap0)} / ${mb(peakHeap)} / ${mb(heap())} MB` + (r?.note ? `; ${r.note}` : ''));
  return r;
}

await measure('import mbox', async () => {
  const s = await importPath(store, user, mbox, { maxBytes: 25 << 20 });
  return { count: s.imported + s.duplicates, bytes: size, note: `${s.imported} imported, ${s.duplicates} duplicates, ${s.failed.length} failed, ${store.stats.commits} commits` };
});
await measure('import again (all duplicates)', async () => {
  const s = await importPath(store, user, mbox, { maxBytes: 25 << 20 });
  return { count: s.imported + s.duplicates, bytes: size, note: `${s.imported} imported, ${s.duplicates} duplicates` };
});
await measure('export mbox', async () => {
  const s = await exportUser(store, user, path.join(dir, 'out.mbox'), { format: 'mbox', mailbox: 'INBOX' });
  return { count: s.imported, bytes: s.bytes };
});
await measure('export maildir', async () => {
  const s = await exportUser(store, user, path.join(dir, 'out-maildir'), { format: 'maildir', mailbox: 'INBOX' });
  return { count: s.imported, bytes: s.bytes };
});
await measure('backup', async () => {
  const r = await backup(store, path.join(dir, 'data'), path.join(dir, 'backup'));
  return { note: `${mb(r.bytes)} MB database, integrity ${r.integrity}` };
});
// IMAP import from a running post office (this store, served) into a second store, over loopback
const config = loadConfig({ POSTOFFICE_DATA_DIR: path.join(dir, 'data'), POSTOFFICE_LOG_LEVEL: 'silent', POSTOFFICE_LISTEN: '127.0.0.1', POSTOFFICE_DNS_SERVERS: '127.0.0.1:9', POSTOFFICE_INBOUND_AUTH: 'false' });
const server = await startPostoffice(config, silentLogger, { ephemeralPorts: true });
const store2 = new SqliteStore({ dataDir: path.join(dir, 'data2'), bodyCacheBytes: 0 });
await store2.domains.add('example.test');
const user2 = await store2.users.add('copy@example.test', 'x');
const url = `imaps://bench@example.test@127.0.0.1:${server.port('imaps')}`;
await measure('import over IMAP', async () => {
  const s = await importImap(store2, user2, url, { maxBytes: 25 << 20, insecure: true, password: () => 'bench-pw' });
  return { count: s.imported + s.duplicates, bytes: s.bytes, note: `${s.imported} imported, ${s.failed.length} failed` };
});
await measure('import over IMAP again (nothing missing)', async () => {
  const s = await importImap(store2, user2, url, { maxBytes: 25 << 20, insecure: true, password: () => 'bench-pw' });
  return { count: s.imported + s.duplicates, bytes: size, note: `${s.imported} imported, ${s.duplicates} already there` };
});
// the 250 latency of SMTP delivery before and while `postoffice backup` (another process) runs
const tr = nodemailer.createTransport({ host: '127.0.0.1', port: server.port('smtp'), secure: false, ignoreTLS: true, pool: true, maxConnections: 4 });
async function latencies(until) {
  const lat = [];
  let done = false;
  until.then(() => { done = true; });
  await Promise.all([0, 1, 2, 3].map(async (w) => {
    for (let i = 0; !done; i++) {
      const t0 = performance.now();
      await tr.sendMail({ from: 'carol@remote.test', to: 'bench@example.test', subject: `latency ${w}.${i}`, text: 'x'.repeat(4000) });
      lat.push(performance.now() - t0);
    }
  }));
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))].toFixed(1);
  return `${lat.length} messages, 250 after p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${lat[lat.length - 1].toFixed(1)} ms`;
}
console.log(`SMTP delivery, no backup: ${await latencies(new Promise((r) => setTimeout(r, 3000)))}`);
let backupSecs = 0;
const during = await latencies(new Promise((resolve, reject) => {
  const t0 = performance.now();
  execFile(process.execPath, [new URL('../dist/src/cli/main.js', import.meta.url).pathname, 'backup', path.join(dir, 'backup-live')],
    { env: { ...process.env, POSTOFFICE_DATA_DIR: path.join(dir, 'data'), POSTOFFICE_LOG_LEVEL: 'silent' } },
    (err, out) => { backupSecs = (performance.now() - t0) / 1000; if (err) reject(err); else { process.stdout.write(`  ${out}`); resolve(); } });
}));
console.log(`SMTP delivery during a ${backupSecs.toFixed(1)} s backup (CLI process): ${during}`);
// and while `postoffice import` (another process) writes its batches into the same database
await store.users.add('bench2@example.test', 'x');
let importSecs = 0;
const duringImport = await latencies(new Promise((resolve, reject) => {
  const t0 = performance.now();
  execFile(process.execPath, [new URL('../dist/src/cli/main.js', import.meta.url).pathname, 'import', 'bench2@example.test', mbox],
    { env: { ...process.env, POSTOFFICE_DATA_DIR: path.join(dir, 'data'), POSTOFFICE_LOG_LEVEL: 'silent' }, maxBuffer: 64 << 20 },
    (err, out) => { importSecs = (performance.now() - t0) / 1000; if (err) reject(err); else { process.stdout.write(`  ${out}`); resolve(); } });
}));
console.log(`SMTP delivery during a ${importSecs.toFixed(1)} s import (CLI process): ${duringImport}`);
tr.close();
await server.close();
await store2.close();
clearInterval(sampler);
await store.close();
rmSync(dir, { recursive: true, force: true });
