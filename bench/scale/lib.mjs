// Shared parts of `npm run bench:scale`: knobs, the machine's load, the two targets (postoffice from a
// checkout, the anchor Postfix + Dovecot in a private directory), a small IMAP and SMTP client, RSS.
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const env = (name, dflt) => process.env[name] ?? dflt;
export const num = (name, dflt) => Number(env(name, String(dflt)));
export const list = (name, dflt) => env(name, dflt).split(/[ ,]+/).filter(Boolean).map(Number);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
export const now = () => process.hrtime.bigint();
export const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)] : null; };
export const r1 = (x) => (x == null ? null : Math.round(x * 10) / 10);
export const r3 = (x) => (x == null ? null : Math.round(x * 1000) / 1000);
const log = (...a) => process.stderr.write(`[scale] ${a.join(' ')}\n`);
export { log };

export const TARGETS = env('TARGETS', 'postoffice anchor').split(/[ ,]+/).filter(Boolean);
export const POSTOFFICE_DIR = path.resolve(env('POSTOFFICE_DIR', ROOT));
export const SHARED = path.resolve(env('SHARED', path.join(ROOT, '..', 'shared')));
export const OUT = path.resolve(env('BENCH_SCALE_OUT', path.join(ROOT, 'bench', 'results', 'scale')));
export const HOST = '127.0.0.1';
export const DOMAIN = 'example.test';
export const PASSWORD = 'scalepw';

// ---------------------------------------------------------------------------------------------------
// the machine's load: /proc/loadavg, host busy fraction (/proc/stat), our own CPU share (cores)

function cpuTimes() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + (f[4] ?? 0);
  const total = f.reduce((a, b) => a + b, 0);
  return { idle, total };
}
const TICK = 100; // USER_HZ on Linux
/** utime+stime of a process in seconds (0 when gone). */
export function procCpu(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICK;
  } catch { return 0; }
}

/**
 * Samples taken around one measured span: the load average at its start, the whole host's busy fraction
 * over it, and the load generator's CPU in cores (this process + the client processes given to stop()).
 */
export function loadMeter() {
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
  const c0 = cpuTimes();
  const u0 = process.cpuUsage();
  const t0 = now();
  return {
    stop(childCpuSeconds = 0, serverPids = []) {
      const secs = ms(t0) / 1000;
      const c1 = cpuTimes();
      const u1 = process.cpuUsage(u0);
      const dt = c1.total - c0.total;
      return {
        loadavg_1m: load[0], loadavg_5m: load[1],
        host_busy_frac: dt > 0 ? r3(1 - (c1.idle - c0.idle) / dt) : null,
        loadgen_core_share: secs > 0 ? r3(((u1.user + u1.system) / 1e6 + childCpuSeconds) / secs) : null,
        span_s: r3(secs),
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// results: one JSON line per measured point, in OUT/scale-STAMP.jsonl (and on stdout)

const STAMP = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, 'Z');
export const RESULTS = env('BENCH_SCALE_RESULTS', path.join(OUT, `scale-${STAMP}.jsonl`));
export function record(rec) {
  mkdirSync(path.dirname(RESULTS), { recursive: true });
  const line = JSON.stringify({ at: new Date().toISOString(), ...rec });
  appendFileSync(RESULTS, line + '\n');
  process.stdout.write(line + '\n');
}

// ---------------------------------------------------------------------------------------------------
// RSS: postoffice is one process (its worker threads share it); the anchor's Dovecot is a process tree

export function rssMb(pid) {
  try { return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024; } catch { return 0; }
}
function pssMb(pid) {
  try { return Number(/Pss:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))[1]) / 1024; } catch { return rssMb(pid); }
}
/** pid and every descendant (by /proc/N/stat ppid). */
export function processTree(root) {
  const kids = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(Number(d));
    } catch { /* gone */ }
  }
  const out = [];
  const walk = (p) => { out.push(p); for (const k of kids.get(p) ?? []) walk(k); };
  walk(root);
  return out;
}
function statusMb(pid, field) {
  try { return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024; } catch { return 0; }
}
/**
 * Memory of a server: { rss_mb, pss_mb, anon_mb, processes }. PSS splits shared pages, so a tree's sum is
 * fair; anon_mb (RssAnon) leaves out file pages (postoffice maps its SQLite file, Dovecot its indexes:
 * the kernel can drop those), so it is the memory the server itself holds.
 */
export function serverMemory(pids) {
  let rss = 0; let pss = 0; let anon = 0; let file = 0;
  for (const p of pids) { rss += rssMb(p); pss += pssMb(p); anon += statusMb(p, 'RssAnon'); file += statusMb(p, 'RssFile'); }
  return { rss_mb: r1(rss), pss_mb: r1(pss), anon_mb: r1(anon), file_mb: r1(file), processes: pids.length };
}

// ---------------------------------------------------------------------------------------------------
// IMAP and SMTP clients, just enough for the bench (latin1 strings, one command at a time)

export async function portOpen(port) {
  return new Promise((r) => { const s = net.connect(port, HOST, () => { s.destroy(); r(true); }); s.on('error', () => r(false)); });
}
export async function waitPort(port, secs = 60) {
  for (let i = 0; i < secs * 10; i++) { if (await portOpen(port)) return; await sleep(100); }
  throw new Error(`nothing listens on ${HOST}:${port} after ${secs} s`);
}

export function imapConnect(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, HOST);
    let buf = '';
    let waiting = null;
    let n = 0;
    sock.setEncoding('latin1');
    sock.setNoDelay(true);
    sock.once('error', reject);
    const check = () => {
      if (!waiting) return;
      const i = waiting.find(buf);
      if (i >= 0) { const w = waiting; waiting = null; const out = buf.slice(0, i); buf = buf.slice(i); w.done(out); }
    };
    sock.on('data', (d) => { buf += d; check(); });
    sock.on('close', () => { if (waiting) { const w = waiting; waiting = null; w.fail(new Error(`IMAP connection closed: ${buf.slice(-200)}`)); } });
    const until = (find) => new Promise((done, fail) => { waiting = { find, done, fail }; check(); });
    const line = (re) => (b) => { const m = re.exec(b); return m ? m.index + m[0].length : -1; };
    until(line(/^\* (OK|PREAUTH)[^\n]*\n/)).then(() => {
      sock.removeListener('error', reject);
      sock.on('error', () => {});
      resolve({
        sock,
        /** Sends a tagged command; resolves with every line up to its tagged reply; rejects on NO/BAD. */
        async cmd(text) {
          const tag = `t${++n}`;
          sock.write(`${tag} ${text}\r\n`);
          const out = await until(line(new RegExp(`(?:^|\\n)${tag} (OK|NO|BAD)[^\\n]*\\n`)));
          if (!new RegExp(`(?:^|\\n)${tag} OK`).test(out)) throw new Error(`IMAP ${text.split(' ')[0]}: ${out.slice(-300)}`);
          return out;
        },
        async idle() { sock.write(`i${++n} IDLE\r\n`); await until(line(/^\+[^\n]*\n/m)); },
        close() { sock.destroy(); },
      });
    }, reject);
  });
}

/** An SMTP session on one connection; send() is MAIL, RCPT, DATA of one message, resolving at the 250. */
export function smtpConnect(port, { starttls = false } = {}) {
  return new Promise((resolve, reject) => {
    let sock = net.connect(port, HOST);
    let buf = '';
    let waiting = null;
    const onData = (d) => { buf += d; check(); };
    const check = () => {
      if (!waiting) return;
      const m = /(?:^|\n)(\d{3}) [^\n]*\n/.exec(buf);
      if (m) { const w = waiting; waiting = null; const out = buf.slice(0, m.index + m[0].length); buf = buf.slice(m.index + m[0].length); w(out); }
    };
    let failed = null;
    const reply = () => new Promise((r, j) => { if (failed) { j(failed); return; } waiting = r; waitingFail = j; check(); });
    let waitingFail = null;
    const fail = (e) => { failed ??= e; if (waiting) { waiting = null; waitingFail(failed); } };
    const expect = async (code, what) => { const out = await reply(); if (!out.match(new RegExp(`(?:^|\\n)${code} `))) throw new Error(`SMTP ${what}: ${out.trim()}`); return out; };
    // no Nagle: a command written after the server's reply must not wait for its delayed ACK
    const attach = (s) => { s.setEncoding('latin1'); s.setNoDelay(true); s.on('data', onData); s.on('error', fail); s.on('close', () => fail(new Error('SMTP connection closed'))); };
    attach(sock);
    sock.once('error', reject);
    // a session the server never greets (a listen queue that overflowed drops the handshake's last ACK
    // on the server side only) or never answers: an error after BENCH_SCALE_SMTP_TIMEOUT seconds, not a hang
    const idle = num('BENCH_SCALE_SMTP_TIMEOUT', 30) * 1000;
    sock.setTimeout(idle, () => { const e = new Error(`SMTP: no reply in ${idle / 1000} s`); fail(e); reject(e); sock.destroy(); });
    (async () => {
      await expect(220, 'greeting');
      sock.write('EHLO scale.example.test\r\n'); await expect(250, 'EHLO');
      if (starttls) {
        sock.write('STARTTLS\r\n'); await expect(220, 'STARTTLS');
        sock.removeListener('data', onData);
        sock = tls.connect({ socket: sock, rejectUnauthorized: false, servername: 'localhost' });
        await new Promise((r, j) => { sock.once('secureConnect', r); sock.once('error', j); });
        attach(sock);
        sock.write('EHLO scale.example.test\r\n'); await expect(250, 'EHLO after STARTTLS');
      }
      resolve({
        async send(from, to, data) {
          sock.write(`MAIL FROM:<${from}>\r\n`); await expect(250, 'MAIL');
          sock.write(`RCPT TO:<${to}>\r\n`); await expect(250, 'RCPT');
          sock.write('DATA\r\n'); await expect(354, 'DATA');
          sock.write(data.endsWith('\r\n') ? `${data}.\r\n` : `${data}\r\n.\r\n`); await expect(250, 'end of data');
        },
        async quit() { sock.write('QUIT\r\n'); await reply().catch(() => {}); sock.destroy(); },
      });
    })().catch(reject);
  });
}

/** A generated message: Message-ID i, a Subject (every 1000th has the word "zebra"), about `bytes` long. */
export function message(i, bytes, to) {
  const head = `Message-ID: <${i}.${process.pid}.${Date.now()}@scale.example.test>\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n`
    + `From: Seed <seed@example.test>\r\nTo: <${to}>\r\nSubject: message ${i}${i % 1000 === 0 ? ' zebra' : ''} of the scale bench\r\n`
    + 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n';
  const line = 'the quick brown fox jumps over the lazy dog 0123456789 abcdefghijklmnopqrstuvwxy\r\n'; // 82 bytes
  const n = Math.max(1, Math.ceil((bytes - head.length) / line.length));
  return head + line.repeat(n);
}

/**
 * Empties the kernel's page cache (sync, then /proc/sys/vm/drop_caches = 3) when BENCH_SCALE_DROP_CACHES=1,
 * so a cold SELECT also reads the disk. Machine-wide: it slows everything else running, so only on a
 * machine of one's own. Resolves with whether it dropped.
 */
export function dropCaches() {
  if (env('BENCH_SCALE_DROP_CACHES', '0') !== '1') return false;
  try { execFileSync('sync'); writeFileSync('/proc/sys/vm/drop_caches', '3\n'); return true; } catch (e) { log(`drop_caches: ${e.message}`); return false; }
}

/**
 * Runs a command to its end (no time limit: seeding a million messages takes minutes); resolves with
 * { wall_s, peak_rss_mb } (peak RSS by GNU time's %M when /usr/bin/time exists, else null). Rejects with
 * the command's stderr tail when it fails.
 */
export function timedRun(cmd, args, opts = {}) {
  const gnuTime = existsSync('/usr/bin/time');
  const [c, a] = gnuTime ? ['/usr/bin/time', ['-f', 'SCALE-TIME %M %e', cmd, ...args]] : [cmd, args];
  return new Promise((resolve, reject) => {
    const t0 = now();
    const p = spawn(c, a, { ...opts, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.setEncoding('utf8');
    p.stderr.on('data', (d) => { err = (err + d).slice(-20000); });
    p.on('error', reject);
    p.on('exit', (code, sig) => {
      const m = /SCALE-TIME (\d+) ([\d.]+)\s*$/.exec(err);
      if (code !== 0) { reject(new Error(`${path.basename(cmd)} ${args.slice(0, 2).join(' ')}: exit ${code ?? sig}: ${err.replace(/SCALE-TIME.*$/, '').slice(-1500)}`)); return; }
      resolve({ wall_s: r1(ms(t0) / 1000), peak_rss_mb: m ? r1(Number(m[1]) / 1024) : null });
    });
  });
}

/** Disk used by a file tree in MB (du -s --block-size=1M; null when du fails). */
export function diskMb(dir) {
  try { return Number(execFileSync('du', ['-s', '--block-size=1M', dir]).toString().split(/\s/)[0]); } catch { return null; }
}

// ---------------------------------------------------------------------------------------------------
// targets

const PO_BASE = num('BENCH_SCALE_PORT_BASE', 24000 + Math.floor(Math.random() * 100) * 10);
const ANCHOR_OFFSET = num('BENCH_SCALE_ANCHOR_OFFSET', 2000);
const ANCHOR_DIR = env('BENCH_SCALE_ANCHOR_DIR', '/var/tmp/anchor-scale');

/**
 * postoffice from POSTOFFICE_DIR (built dist/), a throw-away data dir, plaintext IMAP LOGIN on loopback,
 * no SPF/DKIM/DMARC on port 25 (as `npm run bench`), the open-file limit raised for the server alone.
 */
export function postoffice(dataDir, extra = {}) {
  const ports = { smtp: PO_BASE, imap: PO_BASE + 1, http: PO_BASE + 2 };
  const main = path.join(POSTOFFICE_DIR, 'dist/src/cli/main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: build that checkout (npm run build) or set POSTOFFICE_DIR`);
  const penv = {
    ...process.env, POSTOFFICE_DATA_DIR: dataDir, POSTOFFICE_LOG_LEVEL: 'warn', POSTOFFICE_ALLOW_PLAINTEXT_LOOPBACK: 'true',
    POSTOFFICE_INBOUND_AUTH: 'false', POSTOFFICE_DNS_SERVERS: '127.0.0.1:9', POSTOFFICE_LOCAL_SENDER_ON_PORT25: 'allow',
    POSTOFFICE_SMTP_PORT: String(ports.smtp), POSTOFFICE_IMAP_PORT: String(ports.imap),
    POSTOFFICE_SMTPS_PORT: '0', POSTOFFICE_SUBMISSION_PORT: '0', POSTOFFICE_POP3_PORT: '0', POSTOFFICE_POP3S_PORT: '0',
    POSTOFFICE_IMAPS_PORT: '0', POSTOFFICE_HTTP_PORT: String(ports.http),
    POSTOFFICE_MAX_CONNECTIONS: '30000', POSTOFFICE_MAX_CONNECTIONS_PER_IP: '30000',
    POSTOFFICE_MAX_MESSAGE_BYTES: String(64 << 20),
    ...extra.env,
  };
  const cli = (...args) => execFileSync(process.execPath, [main, ...args], { env: penv, cwd: POSTOFFICE_DIR, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  let srv = null;
  return {
    name: 'postoffice', ports, dataDir,
    cli,
    async adduser(addr) { try { cli('domain', 'add', DOMAIN); } catch { /* there already */ } try { cli('user', 'add', addr, '--password', PASSWORD); } catch (e) { if (!/exist/i.test(String(e.stderr))) throw e; } },
    async start() {
      const nodeArgs = [...(extra.nodeArgs ?? []), main, 'serve'];
      const limit = num('BENCH_SCALE_NOFILE', 20000);
      srv = spawn('bash', ['-c', `ulimit -n ${limit} 2>/dev/null || ulimit -n $(ulimit -Hn); exec "$0" "$@"`, process.execPath, ...nodeArgs],
        { env: penv, cwd: POSTOFFICE_DIR, stdio: ['ignore', 'ignore', 'inherit'] });
      // a seeded 1M data dir may be migrated on start: minutes, not a failure
      const secs = num('BENCH_SCALE_START_TIMEOUT', 1800);
      const exited = new Promise((_, j) => srv.once('exit', (c, sig) => j(new Error(`postoffice serve exited (${c ?? sig}) before listening`))));
      exited.catch(() => {});
      await Promise.race([(async () => { await waitPort(ports.imap, secs); await waitPort(ports.smtp, secs); })(), exited]);
    },
    async stop() {
      if (!srv) return;
      const s = srv; srv = null;
      if (s.exitCode === null) { s.kill('SIGTERM'); await new Promise((r) => s.once('exit', r)); }
    },
    pids() { return srv && srv.exitCode === null && srv.signalCode === null ? [srv.pid] : []; },
    /** The Prometheus text of /metrics as { name: value } (loopback may read it). */
    async metrics() {
      const text = await (await fetch(`http://${HOST}:${ports.http}/metrics`)).text();
      return Object.fromEntries(text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => { const i = l.lastIndexOf(' '); return [l.slice(0, i), Number(l.slice(i + 1))]; }));
    },
    /**
     * Bulk seeding through the store's batched append: `postoffice import ADDRESS MBOX` (server stopped).
     * Resolves with the importer's wall time and peak RSS (VmHWM, by /usr/bin/time when there is one).
     */
    async seed(addr, mboxFile) { return timedRun(process.execPath, [main, 'import', addr, mboxFile], { env: penv, cwd: POSTOFFICE_DIR }); },
  };
}

/**
 * The anchor (Postfix + Dovecot) in a private ANCHOR_DIR on ports shifted by BENCH_SCALE_ANCHOR_OFFSET, started
 * with ../shared/anchors/anchor.sh; Dovecot is restarted here on an overlay config (!include of anchor.sh's)
 * that raises its process limits for the idle-connection sweep.
 */
export function anchor() {
  const sh = path.join(SHARED, 'anchors', 'anchor.sh');
  const aenv = { ...process.env, ANCHOR_DIR, ANCHOR_PORT_OFFSET: String(ANCHOR_OFFSET) };
  // (the daemons it starts would hold a stdout pipe open: its output goes to a file)
  const run = (...args) => {
    mkdirSync(ANCHOR_DIR, { recursive: true });
    const fd = openSync(path.join(ANCHOR_DIR, 'scale-anchor-sh.log'), 'a');
    try { execFileSync('bash', [sh, ...args], { env: aenv, stdio: ['ignore', fd, fd] }); } finally { closeSync(fd); }
  };
  const ports = { smtp: 3525 + ANCHOR_OFFSET, imap: 3143 + ANCHOR_OFFSET };
  const dcConf = path.join(ANCHOR_DIR, 'dovecot', 'dovecot.conf');
  const overlay = path.join(ANCHOR_DIR, 'dovecot', 'scale.conf');
  const masterPid = () => { try { const p = Number(readFileSync(path.join(ANCHOR_DIR, 'run', 'master.pid'), 'utf8')); process.kill(p, 0); return p; } catch { return null; } };
  let procs = 600;
  // vsz_limit: Dovecot's default 256 MB per imap process is too little for a 1M-message Maildir (its
  // uidlist, index and cache are mapped into the one process); BENCH_SCALE_DOVECOT_VSZ raises it
  const vsz = env('BENCH_SCALE_DOVECOT_VSZ', '4G');
  const writeOverlay = () => writeFileSync(overlay, `# bench/scale: anchor.sh's config with room for many IMAP sessions\n!include ${dcConf}\n`
    + `default_client_limit = ${procs * 2 + 1000}\nservice imap {\n  process_limit = ${procs}\n  vsz_limit = ${vsz}\n}\nservice imap-login {\n  process_limit = ${procs}\n}\n`
    + `service anvil {\n  client_limit = ${procs * 2 + 1000}\n}\nprotocol imap {\n  mail_max_userip_connections = ${procs}\n}\n`);
  const stopDovecot = async () => {
    const p = masterPid(); if (!p) return;
    process.kill(p, 'SIGTERM');
    for (let i = 0; i < 100 && masterPid(); i++) await sleep(100);
  };
  const startDovecot = async () => {
    writeOverlay();
    execFileSync('bash', ['-c', `ulimit -n $(ulimit -Hn); exec dovecot -c "$0"`, overlay], { stdio: 'ignore' });
    await waitPort(ports.imap);
  };
  /** Postfix's process limit (and with it the listen backlog, set when postfix starts) raised; see start(). */
  const raisePostfix = (restart) => {
    const pf = num('BENCH_SCALE_POSTFIX_PROCS', 300);
    const pfConf = path.join(ANCHOR_DIR, 'postfix');
    execFileSync('postconf', ['-c', pfConf, '-e', `default_process_limit = ${pf}`, `smtpd_client_connection_count_limit = ${pf}`], { stdio: 'ignore' });
    if (restart) { execFileSync('postfix', ['-c', pfConf, 'stop'], { stdio: 'ignore' }); execFileSync('postfix', ['-c', pfConf, 'start'], { stdio: 'ignore' }); }
    else { try { execFileSync('postfix', ['-c', pfConf, 'reload'], { stdio: 'ignore' }); } catch { /* not running: start() applies it */ } }
  };
  return {
    name: 'anchor', ports, dir: ANCHOR_DIR,
    // (adduser rewrites main.cf too: the limits go back on after it)
    async adduser(addr) { run('adduser', addr, PASSWORD); raisePostfix(false); },
    async start() {
      run('start');
      // Postfix runs at most default_process_limit (100) smtpd processes and listens with a backlog of as
      // many: 256 sessions at once overflowed the queue (Linux then drops the handshake's last ACK and the
      // client waits for a greeting that never comes). Raised, with its per-client limit, to
      // BENCH_SCALE_POSTFIX_PROCS, as an admin expecting that many senders would (anchor.sh rewrites main.cf
      // at each start, so the shared anchor is untouched)
      raisePostfix(true);
      await stopDovecot(); await startDovecot();
      await waitPort(ports.smtp);
    },
    /** Restart Dovecot alone (cold SELECT: indexes on disk stay, its processes and caches go). */
    async restartImap(wantProcs) { if (wantProcs) procs = Math.max(600, wantProcs + 100); await stopDovecot(); await startDovecot(); },
    async stop() { run('stop'); },
    pids() { const p = masterPid(); return p ? processTree(p) : []; },
    maildir(addr) { const [user, dom] = addr.split('@'); return path.join(ANCHOR_DIR, 'mail', dom, user, 'Maildir'); },
    reset() { run('reset'); },
  };
}

export function target(name, dataDir) {
  if (name === 'postoffice') return postoffice(dataDir);
  if (name === 'anchor') return anchor();
  throw new Error(`unknown target ${name}`);
}
