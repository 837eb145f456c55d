// The two IMAP fetch figures issue 3 names, measured apart (the shared bench's imap_fetch gives
// one figure for both phases): on a mailbox of N messages, C clients at once
//   1. SELECT + UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE)
//   2. UID FETCH 1:* BODY.PEEK[]
// and messages/s of each phase (all clients' messages / wall time from the first command to the
// last tagged OK). The same client for any server: run it against postoffice and the anchor.
//
//   node bench/imap-fetch-split.mjs HOST PORT USER PASSWORD [messages=5000] [clients=8] [runs=3]
//
// It fills the mailbox itself with APPEND (10 KB messages, like the shared bench's smtp-source
// ones, every fourth multipart) and empties it at the end.
import { Client as BaseClient } from './imap-client.mjs';

const [host = '127.0.0.1', port = '2143', user = 'bench-in@example.test', pass = 'benchpw'] = process.argv.slice(2, 6);
const N = Number(process.argv[6] ?? 5000);
const CLIENTS = Number(process.argv[7] ?? 8);
const RUNS = Number(process.argv[8] ?? 3);

function message(i) {
  const words = 'alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa'.split(' ');
  const lines = [];
  for (let k = 0; lines.join('\r\n').length < 9600; k++) lines.push(Array.from({ length: 12 }, (_, j) => words[(i * 7 + k * 3 + j) % words.length]).join(' '));
  const head = `From: Sender ${i % 50} <sender${i % 50}@example.test>\r\nTo: ${user}\r\nSubject: fetch bench ${i}\r\n` +
    `Date: Mon, 30 Nov 2026 12:00:00 +0000\r\nMessage-ID: <split${i}@example.test>\r\nMIME-Version: 1.0\r\n`;
  const text = lines.join('\r\n');
  if (i % 4) return Buffer.from(`${head}Content-Type: text/plain; charset=us-ascii\r\n\r\n${text}\r\n`);
  const b = `b${i}`;
  return Buffer.from(`${head}Content-Type: multipart/mixed; boundary="${b}"\r\n\r\n--${b}\r\nContent-Type: text/plain\r\n\r\n` +
    `${text.slice(0, 6000)}\r\n--${b}\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n` +
    `${Buffer.from(text.slice(6000)).toString('base64').replace(/.{76}/g, '$&\r\n')}\r\n--${b}--\r\n`);
}

const Client = { connect: () => BaseClient.connect(host, port) };

async function login() {
  const c = await Client.connect();
  await c.cmd(`LOGIN "${user}" "${pass}"`);
  return c;
}

async function empty(c) {
  await c.cmd('SELECT INBOX');
  await c.cmd('UID STORE 1:* +FLAGS.SILENT (\\Deleted)').catch(() => {});
  await c.cmd('EXPUNGE');
}

const admin = await login();
await empty(admin);
let t = performance.now();
for (let i = 0; i < N; i++) await admin.cmd('APPEND INBOX (\\Seen)', message(i));
process.stderr.write(`filled ${N} messages in ${((performance.now() - t) / 1000).toFixed(1)} s\n`);

const results = [];
for (let run = 1; run <= RUNS; run++) {
  const clients = await Promise.all(Array.from({ length: CLIENTS }, login));
  t = performance.now();
  const meta = await Promise.all(clients.map(async (c) => {
    await c.cmd('SELECT INBOX');
    return c.cmd('UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE)');
  }));
  const tMeta = (performance.now() - t) / 1000;
  t = performance.now();
  const bodies = await Promise.all(clients.map((c) => c.cmd('UID FETCH 1:* BODY.PEEK[]')));
  const tBody = (performance.now() - t) / 1000;
  for (const c of clients) c.close();
  const sum = (a) => a.reduce((x, y) => x + y, 0);
  const r = { run, header_msgs_per_s: Math.round(sum(meta) / tMeta), body_msgs_per_s: Math.round(sum(bodies) / tBody), header_s: +tMeta.toFixed(3), body_s: +tBody.toFixed(3), fetched: [sum(meta), sum(bodies)] };
  if (sum(meta) !== N * CLIENTS || sum(bodies) !== N * CLIENTS) r.warning = `expected ${N * CLIENTS} each`;
  console.log(JSON.stringify(r));
  results.push(r);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(JSON.stringify({ summary: true, port: Number(port), messages: N, clients: CLIENTS, header_msgs_per_s: median(results.map((r) => r.header_msgs_per_s)), body_msgs_per_s: median(results.map((r) => r.body_msgs_per_s)) }));
await empty(admin);
admin.close();
