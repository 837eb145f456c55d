// IMAP at scale, the two figures issue 3 asks for besides the shared bench:
//  1. resident memory of the server holding N idle IMAP connections (LOGIN, SELECT, IDLE)
//  2. SELECT time of a 100,000-message mailbox (metadata only; no body is read)
// usage: npm run build && node bench/imap-scale.mjs [connections=1000] [messages=100000]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CONNS = Number(process.argv[2] ?? 1000);
const MSGS = Number(process.argv[3] ?? 100000);
const { SqliteStore } = await import(path.join(ROOT, 'dist/src/store/index.js'));
const { hashPassword } = await import(path.join(ROOT, 'dist/src/auth/password.js'));

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-scale-'));
const port = 21000 + Math.floor(Math.random() * 20000);
const rss = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

// users: idle@ (one message) and big@ (MSGS messages), written straight through the store
const store = new SqliteStore({ dataDir });
await store.domains.add('example.test');
const idle = await store.users.add('idle@example.test', await hashPassword('pw'));
const big = await store.users.add('big@example.test', await hashPassword('pw'));
const body = `Subject: scale\r\nFrom: a@example.test\r\n\r\n${'x'.repeat(70)}\r\n`;
let t0 = Date.now();
for (let i = 0; i < MSGS; i += 500) {
  await Promise.all(Array.from({ length: Math.min(500, MSGS - i) }, (_, j) => store.deliver({
    msgId: `scale.${i + j}`, mailFrom: '', raw: Buffer.from(`Message-ID: <${i + j}@scale>\r\n${body}`), remote: [], journey: [],
    local: [{ userId: big.id, address: big.address, rcptTo: big.address }],
  })));
}
await store.deliver({ msgId: 'idle.1', mailFrom: '', raw: Buffer.from(body), remote: [], journey: [], local: [{ userId: idle.id, address: idle.address, rcptTo: idle.address }] });
await store.close();
console.error(`filled ${MSGS} messages in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

const env = {
  ...process.env, POSTOFFICE_DATA_DIR: dataDir, POSTOFFICE_LOG_LEVEL: 'warn', POSTOFFICE_ALLOW_PLAINTEXT_LOOPBACK: 'true',
  POSTOFFICE_SMTP_PORT: '0', POSTOFFICE_SMTPS_PORT: '0', POSTOFFICE_SUBMISSION_PORT: '0', POSTOFFICE_POP3_PORT: '0', POSTOFFICE_POP3S_PORT: '0',
  POSTOFFICE_IMAPS_PORT: '0', POSTOFFICE_HTTP_PORT: '0', POSTOFFICE_IMAP_PORT: String(port),
  POSTOFFICE_MAX_CONNECTIONS: String(CONNS + 100), POSTOFFICE_MAX_CONNECTIONS_PER_IP: String(CONNS + 100),
};
const srv = spawn(process.execPath, [path.join(ROOT, 'dist/src/cli/main.js'), 'serve'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
for (let i = 0; i < 100; i++) {
  if (await new Promise((r) => { const s = net.connect(port, '127.0.0.1', () => { s.destroy(); r(true); }); s.on('error', () => r(false)); })) break;
  await new Promise((r) => setTimeout(r, 100));
}

/** A minimal IMAP client: send a tagged command, resolve with the lines up to its tagged reply. */
function client() {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = '';
    let waiting = null;
    sock.setEncoding('latin1');
    sock.on('error', reject);
    sock.on('data', (d) => {
      buf += d;
      if (waiting && waiting.test(buf)) { const w = waiting; waiting = null; w.done(buf); buf = ''; }
    });
    const until = (re) => new Promise((done) => { waiting = { test: (b) => re.test(b), done }; if (re.test(buf)) { waiting = null; done(buf); buf = ''; } });
    until(/^\* OK.*\r\n/).then(() => resolve({
      sock,
      cmd: (tag, text) => { sock.write(`${tag} ${text}\r\n`); return until(new RegExp(`(^|\\n)${tag} (OK|NO|BAD)[^\\n]*\\n`)); },
      until,
    }));
  });
}

const base = rss(srv.pid);
const conns = [];
t0 = Date.now();
for (let i = 0; i < CONNS; i++) {
  const c = await client();
  await c.cmd('a', 'LOGIN idle@example.test pw');
  await c.cmd('b', 'SELECT INBOX');
  c.sock.write('c IDLE\r\n');
  await c.until(/\+ /);
  conns.push(c);
}
await new Promise((r) => setTimeout(r, 2000));
const withIdle = rss(srv.pid);
console.log(JSON.stringify({ workload: 'imap_idle_memory', connections: CONNS, rss_mb_before: +base.toFixed(1), rss_mb_with_idle: +withIdle.toFixed(1), kb_per_connection: +(((withIdle - base) * 1024) / CONNS).toFixed(1), setup_s: (Date.now() - t0) / 1000 }));
for (const c of conns) c.sock.destroy();

const c = await client();
await c.cmd('a', 'LOGIN big@example.test pw');
const times = [];
for (let i = 0; i < 3; i++) {
  const s0 = process.hrtime.bigint();
  const out = await c.cmd(`s${i}`, 'SELECT INBOX');
  times.push(Number(process.hrtime.bigint() - s0) / 1e6);
  if (i === 0 && !new RegExp(`\\* ${MSGS} EXISTS`).test(out)) throw new Error(`SELECT did not report ${MSGS} messages: ${out.slice(0, 300)}`);
}
console.log(JSON.stringify({ workload: 'imap_select_large', messages: MSGS, select_ms: times.map((t) => +t.toFixed(1)), rss_mb: +rss(srv.pid).toFixed(1) }));
c.sock.destroy();
srv.kill('SIGTERM');
await new Promise((r) => srv.once('exit', r));
rmSync(dataDir, { recursive: true, force: true });
