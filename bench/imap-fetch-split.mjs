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
import net from 'node:net';

const [host = '127.0.0.1', port = '2143', user = 'bench-in@example.test', pass = 'benchpw'] = process.argv.slice(2, 6);
const N = Number(process.argv[6] ?? 5000);
const CLIENTS = Number(process.argv[7] ?? 8);
const RUNS = Number(process.argv[8] ?? 3);

/** A minimal IMAP client: sends tagged commands, reads responses (literals skipped by count). */
class Client {
  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.n = 0;
    this.waiting = null; // { tag, resolve, reject, fetches }
    this.literal = 0;
    sock.on('data', (d) => this.onData(d));
    sock.on('error', (e) => this.waiting?.reject(e));
  }

  static connect() {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host, port: Number(port) });
      sock.once('error', reject);
      const c = new Client(sock);
      c.waiting = { tag: '*', resolve: () => resolve(c), reject, fetches: 0 };
    });
  }

  onData(d) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    let pos = 0;
    for (;;) {
      if (this.literal) {
        const take = Math.min(this.literal, this.buf.length - pos);
        this.literal -= take;
        pos += take;
        if (this.literal) break;
      }
      const lf = this.buf.indexOf(10, pos);
      if (lf < 0) break;
      const line = this.buf.toString('latin1', pos, Math.min(lf + 1, pos + 200));
      // a literal announced at the end of the line: {n}CRLF
      if (this.buf[lf - 2] === 0x7d) {
        const open = this.buf.lastIndexOf(0x7b, lf);
        this.literal = Number(this.buf.toString('latin1', open + 1, lf - 2));
      }
      pos = lf + 1;
      const w = this.waiting;
      if (!w) continue;
      if (line.startsWith('* ') && / FETCH \(/.test(line)) w.fetches++;
      if (w.tag === '*' && line.startsWith('* OK')) { this.waiting = null; w.resolve(w.fetches); continue; }
      if (line.startsWith(w.tag + ' ')) {
        this.waiting = null;
        if (line.startsWith(w.tag + ' OK')) w.resolve(w.fetches);
        else w.reject(new Error(`${w.tag}: ${line.trim()}`));
      } else if (line.startsWith('+ ') && w.cont) {
        const next = w.cont;
        w.cont = null;
        next();
      }
    }
    this.buf = pos >= this.buf.length ? Buffer.alloc(0) : this.buf.subarray(pos);
  }

  cmd(text, literal) {
    const tag = `a${++this.n}`;
    return new Promise((resolve, reject) => {
      this.waiting = { tag, resolve, reject, fetches: 0, cont: null };
      if (literal) {
        // a synchronizing literal: send the bytes once the server says "+"
        this.waiting.cont = () => this.sock.write(Buffer.concat([literal, Buffer.from('\r\n')]));
        this.sock.write(`${tag} ${text} {${literal.length}}\r\n`);
      } else {
        this.sock.write(`${tag} ${text}\r\n`);
      }
    });
  }

  close() { this.sock.destroy(); }
}

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
