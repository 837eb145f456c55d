// Server memory against idle IMAP sessions (LOGIN, SELECT, IDLE), the clients in other processes
// (at most BENCH_SCALE_CONNS_PER_PROC sessions each: a process may open 20,000 files here), and the time
// to serve a new client (LOGIN + SELECT + FETCH 1) while they are held.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOMAIN, PASSWORD, imapConnect, list, loadMeter, log, median, message, ms, now, num, procCpu, r1, record, serverMemory, sleep, smtpConnect } from './lib.mjs';

const CONNS = list('BENCH_SCALE_IDLE_CONNS', '100,500');
const PER_PROC = num('BENCH_SCALE_CONNS_PER_PROC', 4000);
const PARALLEL = num('BENCH_SCALE_IDLE_PARALLEL', 8);
const PROBES = num('BENCH_SCALE_PROBES', 7);
const NOFILE = num('BENCH_SCALE_NOFILE', 20000);
const USER = `scale-idle@${DOMAIN}`;
const HERE = path.dirname(fileURLToPath(import.meta.url));

async function probe(port) {
  const t0 = now();
  const c = await imapConnect(port);
  try {
    await c.cmd(`LOGIN ${USER} ${PASSWORD}`);
    await c.cmd('SELECT INBOX');
    await c.cmd('FETCH 1 (FLAGS BODY.PEEK[])');
    return ms(t0);
  } finally { c.close(); }
}

export async function idleSweep(t) {
  await t.adduser(USER);
  // one message to SELECT and FETCH
  const s = await smtpConnect(t.ports.smtp);
  await s.send(`scale-sender@${DOMAIN}`, USER, message(1, 2000, USER));
  await s.quit();
  for (let i = 0; i < 100; i++) {
    const c = await imapConnect(t.ports.imap);
    await c.cmd(`LOGIN ${USER} ${PASSWORD}`);
    const n = Number(/MESSAGES (\d+)/.exec(await c.cmd('STATUS INBOX (MESSAGES)'))[1]);
    c.close();
    if (n > 0) break;
    await sleep(100);
  }
  for (const conns of CONNS) {
    if (t.name === 'anchor') await t.restartImap(conns); else { await t.stop(); await t.start(); }
    await sleep(500);
    const base = serverMemory(t.pids());
    const meter = loadMeter();
    const t0 = now();
    const kids = [];
    for (let left = conns; left > 0; left -= PER_PROC) {
      // through bash for its `ulimit -n` (a shell's default 1024 cannot hold 4,000 sessions); the IPC
      // channel's fd survives the exec
      const k = spawn('bash', ['-c', `ulimit -n ${NOFILE} 2>/dev/null || ulimit -n $(ulimit -Hn); exec "$0" "$@"`, process.execPath,
        path.join(HERE, 'idle-client.mjs'), t.ports.imap, USER, PASSWORD, Math.min(PER_PROC, left), PARALLEL], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      kids.push({ k, done: new Promise((r) => k.once('message', r)) });
    }
    const outs = await Promise.all(kids.map((x) => x.done));
    const setupS = ms(t0) / 1000;
    const held = outs.reduce((a, o) => a + o.held, 0);
    const failed = outs.reduce((a, o) => a + o.failed, 0);
    await sleep(1000);
    const mem = serverMemory(t.pids());
    const probes = [];
    for (let i = 0; i < PROBES; i++) probes.push(await probe(t.ports.imap));
    const childCpu = kids.reduce((a, x) => a + procCpu(x.k.pid), 0);
    const load = meter.stop(childCpu);
    for (const { k } of kids) { k.send('go'); }
    await Promise.all(kids.map(({ k }) => new Promise((r) => (k.exitCode !== null ? r() : k.once('exit', r)))));
    record({
      target: t.name, workload: 'idle_connections', connections: conns, held, failed, first_error: outs.find((o) => o.firstError)?.firstError ?? null,
      client_processes: kids.length, setup_s: r1(setupS),
      server_rss_mb: mem.rss_mb, server_pss_mb: mem.pss_mb, server_anon_mb: mem.anon_mb, server_file_mb: mem.file_mb, server_processes: mem.processes,
      base_rss_mb: base.rss_mb, base_pss_mb: base.pss_mb, base_anon_mb: base.anon_mb,
      kb_per_connection: held ? r1(((mem.pss_mb - base.pss_mb) * 1024) / held) : null,
      new_client_ms: r1(median(probes)), new_client_max_ms: r1(Math.max(...probes)), ...load,
    });
  }
  log(`${t.name}: idle sweep done`);
}
