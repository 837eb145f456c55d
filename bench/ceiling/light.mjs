// The shared bench's imap_fetch and pop3_retr workloads, command for command, driven by a lighter
// client (Node, one process): the same sessions, commands and counting as ../shared/bench/
// pobench.py, and the same figure (messages / wall time from the first connect to the last
// session's end). With a client that costs a few µs per message instead of ~15–60, the servers
// rather than the client set the pace; bench/ceiling/replay.mjs runs it beside the Python one.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { Client } from '../imap-client.mjs';

function hostBusy() {
  const v = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1).map(Number);
  return { total: v.reduce((a, b) => a + b, 0), idle: v[3] + v[4] };
}

/** Wall time, this process's CPU and the host's busy share over fn(). */
async function measured(fn) {
  const c0 = process.cpuUsage(), h0 = hostBusy(), t0 = performance.now();
  const out = await fn();
  const wall = (performance.now() - t0) / 1000, c = process.cpuUsage(c0), h1 = hostBusy();
  const cpu = (c.user + c.system) / 1e6;
  return { ...out, wall_s: +wall.toFixed(3), loadgen_cpu_s: +cpu.toFixed(3), loadgen_core_share: +(cpu / wall).toFixed(3), host_busy_frac: +(1 - (h1.idle - h0.idle) / (h1.total - h0.total)).toFixed(3) };
}

/** pobench imap_fetch: C clients each LOGIN, SELECT, UID FETCH 1:* (meta), UID FETCH 1:* BODY.PEEK[], LOGOUT. */
export async function imapFetch(host, port, user, password, clients) {
  const r = await measured(async () => {
    const counts = await Promise.all(Array.from({ length: clients }, async () => {
      const c = await Client.connect(host, port);
      await c.cmd(`LOGIN "${user}" "${password}"`);
      await c.cmd('SELECT INBOX');
      const meta = await c.cmd('UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE)');
      const bodies = await c.cmd('UID FETCH 1:* BODY.PEEK[]');
      await c.cmd('LOGOUT').catch(() => 0);
      c.close();
      return [meta, bodies];
    }));
    return { meta_fetched: counts.reduce((a, x) => a + x[0], 0), bodies_fetched: counts.reduce((a, x) => a + x[1], 0) };
  });
  return { workload: 'imap_fetch', client: 'node', clients, ...r, msgs_per_s: +(r.bodies_fetched / r.wall_s).toFixed(1) };
}

/** One POP3 session that answers line by line and multi-line responses up to CRLF.CRLF. */
function pop3(host, port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    let buf = Buffer.alloc(0);
    let want = null; // { multi, resolve, reject, seenLine, from }
    sock.once('error', reject);
    sock.on('error', (e) => want?.reject(e));
    const check = () => {
      if (!want) return;
      if (!want.seenLine) {
        const i = buf.indexOf('\r\n');
        if (i < 0) return;
        const line = buf.toString('latin1', 0, i);
        if (!line.startsWith('+OK')) { const w = want; want = null; w.reject(new Error(`POP3: ${line}`)); return; }
        if (!want.multi) { buf = buf.subarray(i + 2); const w = want; want = null; w.resolve(line); return; }
        want.seenLine = true;
        want.from = i; // the terminator's CRLF may be the status line's own when the body is empty
      }
      const j = buf.indexOf('\r\n.\r\n', Math.max(want.from, 0));
      if (j < 0) { want.from = Math.max(0, buf.length - 4); return; }
      const n = j + 5;
      buf = buf.subarray(n);
      const w = want; want = null; w.resolve(n);
    };
    sock.on('data', (d) => { buf = buf.length ? Buffer.concat([buf, d]) : d; check(); });
    const ask = (text, multi = false) => new Promise((res, rej) => { want = { multi, resolve: res, reject: rej, seenLine: false, from: 0 }; if (text) sock.write(`${text}\r\n`); check(); });
    sock.once('connect', () => resolve({ ask, close: () => sock.destroy() }));
  });
}

/** pobench pop3_retr: a session per user, USER/PASS, STAT, RETR 1..n one at a time, QUIT. */
export async function pop3Retr(host, port, users, password) {
  const r = await measured(async () => {
    const per = await Promise.all(users.map(async (u) => {
      const p = await pop3(host, port);
      await p.ask(null);
      await p.ask(`USER ${u}`);
      await p.ask(`PASS ${password}`);
      const n = Number((await p.ask('STAT')).split(' ')[1]);
      let bytes = 0;
      for (let i = 1; i <= n; i++) bytes += await p.ask(`RETR ${i}`, true);
      await p.ask('QUIT');
      p.close();
      return [n, bytes];
    }));
    return { msgs: per.reduce((a, x) => a + x[0], 0), bytes: per.reduce((a, x) => a + x[1], 0) };
  });
  return { workload: 'pop3_retr', client: 'node', sessions: users.length, ...r, msgs_per_s: +(r.msgs / r.wall_s).toFixed(1) };
}
