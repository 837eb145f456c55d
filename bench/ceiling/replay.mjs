#!/usr/bin/env node
// The load generator's ceiling: how fast can the shared bench's Python client (../shared/bench/
// pobench.py) read at all on this machine? This records what a real server answers to the exact
// commands of the imap_fetch and pop3_retr workloads, then serves those recorded bytes again from
// memory (one write per response, no store, no parsing beyond the command word) and runs the same
// workloads against the replay. The replay's rate is the most any server can score here: above it
// the client, not the server, is what is measured.
//
//   node bench/ceiling/replay.mjs [--imap HOST:PORT] [--pop3 HOST:PORT] [--runs N] [--label NAME]
//
// Each run measures the replay and then the recorded target itself, back to back, so that the
// target's share of the ceiling is taken under the same machine load; then the target once more
// with a lighter client (bench/ceiling/light.mjs: the same workload in Node), where the server
// rather than the client sets the pace. One JSON line per measurement on stdout (target "replay"
// or the label, client "python" or "node"), with the load average at its end.
//
// The target must hold the bench's mail already (bench-in@ with the imap_fetch mailbox, bench-pop1..4@
// with theirs), as after a `npm run bench` round with the clean-up skipped, or bench/ceiling/run.sh.
// Env: SHARED (../shared), BENCH_PASSWORD (benchpw), BENCH_FETCH_CLIENTS (8), BENCH_POP3_SESSIONS (4).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { imapFetch, pop3Retr } from './light.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SHARED = process.env.SHARED ?? path.join(HERE, '..', '..', '..', 'shared');
const PASSWORD = process.env.BENCH_PASSWORD ?? 'benchpw';
const CLIENTS = Number(process.env.BENCH_FETCH_CLIENTS ?? 8);
const SESSIONS = Number(process.env.BENCH_POP3_SESSIONS ?? 4);
const arg = (name, dflt) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : dflt; };
const hostPort = (s) => { const [h, p] = s.split(':'); return { host: h, port: Number(p) }; };
const IMAP = hostPort(arg('imap', '127.0.0.1:2143'));
const POP3 = hostPort(arg('pop3', '127.0.0.1:2110'));
const RUNS = Number(arg('runs', '3'));
const LABEL = arg('label', 'target');
const USER_IN = 'bench-in@example.test';
const POP_USERS = Array.from({ length: SESSIONS }, (_, i) => `bench-pop${i + 1}@example.test`);

/** A connection that reads CRLF lines and IMAP literals. */
function conn({ host, port }) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    let buf = Buffer.alloc(0);
    let waiter = null;
    sock.on('data', (d) => { buf = buf.length ? Buffer.concat([buf, d]) : d; if (waiter) waiter(); });
    sock.once('error', reject);
    const more = () => new Promise((r) => { waiter = () => { waiter = null; r(); }; });
    const c = {
      sock,
      async line() { // one line, CRLF included
        for (;;) { const i = buf.indexOf('\r\n'); if (i >= 0) { const l = buf.subarray(0, i + 2); buf = buf.subarray(i + 2); return l; } await more(); }
      },
      async bytes(n) { while (buf.length < n) await more(); const b = buf.subarray(0, n); buf = buf.subarray(n); return b; },
      async until(marker) { for (;;) { const i = buf.indexOf(marker); if (i >= 0) { const b = buf.subarray(0, i + marker.length); buf = buf.subarray(i + marker.length); return b; } await more(); } },
      send(s) { sock.write(s); },
    };
    sock.once('connect', () => resolve(c));
  });
}

/** An IMAP command's whole response: the untagged part (literals kept) and the tagged line. */
async function imapCmd(c, tag, text) {
  c.send(`${tag} ${text}\r\n`);
  const parts = [];
  for (;;) {
    let l = await c.line();
    if (l.toString('latin1').startsWith(`${tag} `)) return { untagged: Buffer.concat(parts), tagged: l.toString('latin1').slice(tag.length + 1) };
    parts.push(l);
    for (let m; (m = /\{(\d+)\+?\}\r\n$/.exec(l.toString('latin1'))); ) {
      parts.push(await c.bytes(Number(m[1])));
      l = await c.line();
      parts.push(l);
    }
  }
}

async function recordImap() {
  const c = await conn(IMAP);
  await c.line();
  const login = await imapCmd(c, 'r1', `LOGIN "${USER_IN}" "${PASSWORD}"`);
  if (!login.tagged.startsWith('OK')) throw new Error(`IMAP LOGIN: ${login.tagged}`);
  const select = await imapCmd(c, 'r2', 'SELECT INBOX');
  const meta = await imapCmd(c, 'r3', 'UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE)');
  const bodies = await imapCmd(c, 'r4', 'UID FETCH 1:* BODY.PEEK[]');
  const status = await imapCmd(c, 'r5', 'STATUS INBOX (MESSAGES)');
  c.sock.destroy();
  return { select, meta, bodies, status };
}

async function recordPop3(user) {
  const c = await conn(POP3);
  await c.line();
  for (const cmd of [`USER ${user}`, `PASS ${PASSWORD}`]) { c.send(`${cmd}\r\n`); const l = (await c.line()).toString(); if (!l.startsWith('+OK')) throw new Error(`POP3 ${cmd.split(' ')[0]}: ${l}`); }
  c.send('STAT\r\n');
  const stat = await c.line();
  const n = Number(stat.toString().split(' ')[1]);
  const retr = [];
  for (let i = 1; i <= n; i++) {
    c.send(`RETR ${i}\r\n`);
    const head = await c.line();
    retr.push(Buffer.concat([head, await c.until('\r\n.\r\n')]));
  }
  c.sock.destroy(); // no QUIT: the target's maildrop is left as it was
  return { stat, retr };
}

/** Serve the recorded IMAP answers: one write per response, the tag swapped in. */
function serveImap(rec) {
  return net.createServer((sock) => {
    sock.write('* OK replay ready\r\n');
    let buf = '';
    sock.setEncoding('latin1');
    sock.on('error', () => undefined);
    sock.on('data', (d) => {
      buf += d;
      for (let i; (i = buf.indexOf('\r\n')) >= 0; ) {
        const line = buf.slice(0, i); buf = buf.slice(i + 2);
        const [tag, cmd, sub] = line.split(' ');
        const answer = (r) => sock.write(Buffer.concat([r.untagged, Buffer.from(`${tag} ${r.tagged}`, 'latin1')]));
        switch (cmd.toUpperCase()) {
          case 'LOGIN': sock.write(`${tag} OK LOGIN completed\r\n`); break;
          case 'SELECT': answer(rec.select); break;
          case 'STATUS': answer(rec.status); break;
          case 'UID':
            if (sub?.toUpperCase() === 'FETCH') answer(line.includes('BODY.PEEK[]') ? rec.bodies : rec.meta);
            else sock.write(`${tag} BAD replay knows only the bench's commands\r\n`);
            break;
          case 'LOGOUT': sock.end(`* BYE replay\r\n${tag} OK LOGOUT completed\r\n`); break;
          default: sock.write(`${tag} BAD replay knows only the bench's commands\r\n`);
        }
      }
    });
  });
}

/** Serve the recorded POP3 answers per user, RETR n from the recording. */
function servePop3(recs) {
  return net.createServer((sock) => {
    sock.write('+OK replay ready\r\n');
    let buf = '';
    let user = null;
    sock.setEncoding('latin1');
    sock.on('error', () => undefined);
    sock.on('data', (d) => {
      buf += d;
      for (let i; (i = buf.indexOf('\r\n')) >= 0; ) {
        const [cmd, a] = buf.slice(0, i).split(' '); buf = buf.slice(i + 2);
        switch (cmd.toUpperCase()) {
          case 'USER': user = recs.get(a) ?? null; sock.write('+OK\r\n'); break;
          case 'STAT': sock.write(user.stat); break;
          case 'RETR': sock.write(user.retr[Number(a) - 1] ?? '-ERR no such message\r\n'); break;
          case 'QUIT': sock.end('+OK bye\r\n'); break;
          default: sock.write('+OK\r\n'); // PASS, RSET, NOOP
        }
      }
    });
  });
}

function listen(server) {
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server.address().port)));
}

/** One workload of the shared load generator, in its own process (the replay serves meanwhile). */
function pobench(workload, args, env) {
  return new Promise((resolve, reject) => {
    const p = spawn('python3', [path.join(SHARED, 'bench', 'pobench.py'), workload, ...args], { env: { ...process.env, BENCH_TARGET: 'replay', ...env } });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop())) : reject(new Error(`pobench ${workload}: ${err}`))));
  });
}

const imap = await recordImap();
const pop = new Map();
for (const u of POP_USERS) pop.set(u, await recordPop3(u));
const imapPort = await listen(serveImap(imap));
const pop3Port = await listen(servePop3(pop));
const loadavg = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
const emit = (r, target, from) => console.log(JSON.stringify({ client: 'python', ...r, target, loadavg_1m: loadavg(), recorded_from: from }));
for (let run = 1; run <= RUNS; run++) {
  const env = { BENCH_RUN: String(run) };
  const imapFrom = `${IMAP.host}:${IMAP.port}`, pop3From = `${POP3.host}:${POP3.port}`;
  emit(await pobench('imap_fetch', [USER_IN, String(CLIENTS)], { ...env, BENCH_IMAP_PORT: String(imapPort) }), 'replay', imapFrom);
  emit(await pobench('imap_fetch', [USER_IN, String(CLIENTS)], { ...env, BENCH_HOST: IMAP.host, BENCH_IMAP_PORT: String(IMAP.port) }), LABEL, imapFrom);
  emit({ run, ...(await imapFetch(IMAP.host, IMAP.port, USER_IN, PASSWORD, CLIENTS)) }, LABEL, imapFrom);
  emit(await pobench('pop3_retr', POP_USERS, { ...env, BENCH_POP3_PORT: String(pop3Port) }), 'replay', pop3From);
  emit(await pobench('pop3_retr', POP_USERS, { ...env, BENCH_HOST: POP3.host, BENCH_POP3_PORT: String(POP3.port) }), LABEL, pop3From);
  emit({ run, ...(await pop3Retr(POP3.host, POP3.port, POP_USERS, PASSWORD)) }, LABEL, pop3From);
}
process.exit(0);
