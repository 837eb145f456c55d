// Delivery profile: postoffice started under `node --cpu-prof` (every thread writes its own profile),
// N messages over S SMTP sessions on port 25, then the self-time of every sample inside the load window
// grouped into stages by the first frame (leaf first) that belongs to one, per thread, per message.
//   node bench/scale/profile.mjs                 # run the load and report
//   node bench/scale/profile.mjs DIR             # report again from the .cpuprofile files in DIR
// Knobs: BENCH_PROFILE_MSGS=2000, BENCH_PROFILE_SESSIONS=16, BENCH_PROFILE_MSG_BYTES=10000,
// BENCH_SCALE_STARTTLS=1 (TLS on every session), POSTOFFICE_DIR (the checkout, built).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOMAIN, OUT, env, imapConnect, loadMeter, log, message, ms, now, num, postoffice, procCpu, r1, r3, sleep, smtpConnect, PASSWORD } from './lib.mjs';

/** Stage of one frame, or null (a frame of Node's own plumbing: look at its caller). Order matters. */
const RULES = [
  ['journey', (u, f) => /\/src\/store\/sqlite\/journey|\/src\/trace\/|packed-steps/.test(u) || /[jJ]ourney/.test(f) && /\/src\//.test(u)],
  ['MIME analysis (mailparser, analyze)', (u) => /mailparser|libmime|libqp|libbase64|mailsplit|iconv-lite|encoding-japanese|\/src\/store\/analyze|\/src\/mail\/mime|\/src\/mail\/binary-parts|he\/he\.js|html-to-text|linkify|punycode/.test(u)],
  // the writer's db.exec calls are its transaction control: BEGIN IMMEDIATE, SAVEPOINT/RELEASE per write, COMMIT (its fsync)
  ['SQLite commit (BEGIN/SAVEPOINT/COMMIT + fsync: db.exec)', (u, f) => f === 'exec' && /better-sqlite3/.test(u)],
  ['SQLite statements + store code (better-sqlite3, src/store)', (u) => /better-sqlite3|\/src\/store\//.test(u)],
  // handshakes and TLS's JS; the record encryption runs inside the native socket write (writeUtf8String,
  // writev), which is charged to the stage that wrote (SMTP): compare a run with BENCH_SCALE_STARTTLS=1
  ['TLS', (u, f) => /node:_tls|node:tls|node:internal\/tls/.test(u) || /^(TLSWrap|SecureContext|onhandshake|onConnectSecure)/.test(f)],
  ['SMTP (smtp-server, src/smtp, received/dot-stuffing)', (u) => /smtp-server|\/src\/smtp\/|\/src\/mail\/(received|dot-stuffing|headers|address)/.test(u)],
  ['inbound checks (mailauth)', (u) => /mailauth|dns2|\/src\/smtp\/inbound-auth/.test(u)],
  ['IMAP (the bench\'s STATUS polls)', (u) => /\/src\/imap\//.test(u)],
  ['logging (pino)', (u) => /pino|sonic-boom|thread-stream/.test(u)],
  ['worker messaging (src/store worker)', (u) => /worker-store|\/src\/store\/worker/.test(u)],
  ['other postoffice code', (u) => /\/dist\/src\//.test(u)],
  ['other packages', (u) => /node_modules/.test(u)],
];
const SPECIAL = { '(garbage collector)': 'GC', '(idle)': 'idle', '(program)': 'V8/native, unattributed', '(root)': 'idle' };

function stageOf(nodes, parent, id, cache) {
  if (cache.has(id)) return cache.get(id);
  let stage = null;
  for (let n = id; n != null && stage === null; n = parent.get(n)) {
    const { functionName: f, url: u } = nodes.get(n).callFrame;
    if (Object.hasOwn(SPECIAL, f)) { stage = SPECIAL[f]; break; }
    for (const [name, test] of RULES) if (test(u, f)) { stage = name; break; }
  }
  stage ??= 'Node internals (net, streams, timers)';
  cache.set(id, stage);
  return stage;
}

/** { stage: ms } of one profile's samples between from and to (µs, the same monotonic clock as hrtime). */
export function stages(profile, fromUs, toUs) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const cache = new Map();
  const out = {};
  let t = profile.startTime;
  let inWindow = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    if (t < fromUs || t > toUs) continue;
    const s = stageOf(nodes, parent, profile.samples[i], cache);
    out[s] = (out[s] ?? 0) + dt / 1000;
    inWindow += dt / 1000;
  }
  return { stages: out, window_ms: inWindow };
}

/** The profile's top self-time functions in the window (for the report: what inside a stage costs). */
function topFunctions(profile, fromUs, toUs, n = 15) {
  const self = new Map();
  const byId = new Map(profile.nodes.map((x) => [x.id, x]));
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (t < fromUs || t > toUs) continue;
    const cf = byId.get(profile.samples[i]).callFrame;
    const key = `${cf.functionName || '(anonymous)'} ${cf.url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${cf.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  }
  return [...self.entries()].filter(([k]) => !/^\((idle|root)\)/.test(k)).sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => [k, r1(v)]);
}

export function report(dir) {
  const meta = JSON.parse(readFileSync(path.join(dir, 'load.json'), 'utf8'));
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  const threads = files.map((f) => {
    const p = JSON.parse(readFileSync(path.join(dir, f), 'utf8'));
    const { stages: st, window_ms } = stages(p, meta.from_us, meta.to_us);
    const busy = Object.entries(st).filter(([k]) => k !== 'idle').reduce((a, [, v]) => a + v, 0);
    const perMsg = Object.fromEntries(Object.entries(st).filter(([k]) => k !== 'idle').sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, r3(v / meta.messages)]));
    // profile file names: CPU.DATE.TIME.PID.TID.SEQ.cpuprofile; the main thread is TID 0
    const tid = Number(f.split('.')[4]);
    return { file: f, thread: tid === 0 ? 'main' : `worker ${tid}`, window_ms: r1(window_ms), busy_ms: r1(busy), busy_frac: r3(busy / (meta.wall_ms || 1)), busy_ms_per_msg: r3(busy / meta.messages), ms_per_msg_by_stage: perMsg, top_self: topFunctions(p, meta.from_us, meta.to_us) };
  }).filter((t) => t.window_ms > 0);
  const total = {};
  for (const t of threads) for (const [k, v] of Object.entries(t.ms_per_msg_by_stage)) total[k] = r3((total[k] ?? 0) + v);
  const summary = { ...meta, threads, all_threads_ms_per_msg_by_stage: Object.fromEntries(Object.entries(total).sort((a, b) => b[1] - a[1])) };
  writeFileSync(path.join(dir, 'summary.json'), JSON.stringify(summary, null, 2));
  return summary;
}

/** CPU seconds of every thread of pid: { tid: { comm, cpu } } (main thread: tid = pid). */
function threadCpu(pid) {
  const out = {};
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const st = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      out[tid] = { comm: st.slice(st.indexOf('(') + 1, st.lastIndexOf(')')), cpu: (Number(f[11]) + Number(f[12])) / 100 };
    } catch { /* gone */ }
  }
  return out;
}

async function inboxCount(port, user) {
  const c = await imapConnect(port);
  try { await c.cmd(`LOGIN ${user} ${PASSWORD}`); return Number(/MESSAGES (\d+)/.exec(await c.cmd('STATUS INBOX (MESSAGES)'))[1]); } finally { c.close(); }
}

async function run() {
  const N = num('BENCH_PROFILE_MSGS', 2000);
  const S = num('BENCH_PROFILE_SESSIONS', 16);
  const BYTES = num('BENCH_PROFILE_MSG_BYTES', 10000);
  const starttls = env('BENCH_SCALE_STARTTLS', '0') === '1';
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, 'Z');
  const dir = path.join(OUT, `profile-${stamp}`);
  mkdirSync(dir, { recursive: true });
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'scale-profile-'));
  const po = postoffice(path.join(tmp, 'data'), { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=500'] });
  const rcpt = `scale-in@${DOMAIN}`;
  await po.adduser(rcpt);
  await po.start();
  const data = message(1, BYTES, rcpt);
  // warm-up (JIT, first opens), outside the window
  const w = await smtpConnect(po.ports.smtp, { starttls });
  for (let i = 0; i < 50; i++) await w.send(`scale-sender@${DOMAIN}`, rcpt, data);
  await w.quit();
  await sleep(1500); // the writer thread reports its commit times to /metrics once a second
  const before = await inboxCount(po.ports.imap, rcpt);
  // BENCH_PROFILE_STRACE=1: every fsync/fdatasync of the server in the window, with its duration
  const straceFile = path.join(dir, 'fsync.strace');
  const tracer = env('BENCH_PROFILE_STRACE', '0') === '1'
    ? spawn('strace', ['-f', '-qq', '-T', '-e', 'trace=fsync,fdatasync', '-o', straceFile, '-p', String(po.pids()[0])], { stdio: 'ignore' }) : null;
  if (tracer) await sleep(1000);
  const m0 = await po.metrics();
  const serverCpu0 = procCpu(po.pids()[0]);
  const tasks0 = threadCpu(po.pids()[0]);
  const meter = loadMeter();
  const t0 = now();
  let next = 0;
  await Promise.all(Array.from({ length: S }, async () => {
    const s = await smtpConnect(po.ports.smtp, { starttls });
    while (next < N) { next++; await s.send(`scale-sender@${DOMAIN}`, rcpt, data); }
    await s.quit();
  }));
  const wall = ms(t0);
  const t1 = now();
  const serverCpu = procCpu(po.pids()[0]) - serverCpu0;
  const tasks1 = threadCpu(po.pids()[0]);
  // on-CPU time of each OS thread in the window (the profiler's samples also count time blocked in a
  // syscall such as fsync: busy in the profile minus CPU here is time spent waiting)
  const threadsCpu = Object.entries(tasks1).map(([tid, t]) => ({ tid: Number(tid), comm: t.comm, main: Number(tid) === po.pids()[0], cpu_ms: r1((t.cpu - (tasks0[tid]?.cpu ?? 0)) * 1000) }))
    .filter((t) => t.cpu_ms > 0).sort((a, b) => b.cpu_ms - a.cpu_ms);
  const load = meter.stop();
  if (tracer) { tracer.kill('SIGINT'); await new Promise((r) => tracer.once('exit', r)); }
  const syncs = tracer ? readFileSync(straceFile, 'utf8').split('\n').map((l) => /<([\d.]+)>\s*$/.exec(l)).filter(Boolean).map((m) => Number(m[1]) * 1000) : [];
  const delivered = (await inboxCount(po.ports.imap, rcpt)) - before;
  await sleep(1500);
  const m1 = await po.metrics();
  const commits = (m1.postoffice_store_commit_seconds_count ?? 0) - (m0.postoffice_store_commit_seconds_count ?? 0);
  const commitS = (m1.postoffice_store_commit_seconds_sum ?? 0) - (m0.postoffice_store_commit_seconds_sum ?? 0);
  await po.stop();
  const meta = {
    messages: N, sessions: S, msg_bytes: data.length, starttls, delivered, wall_ms: r1(wall), msgs_per_s: r1((N * 1000) / wall),
    server_cores: r3(serverCpu / (wall / 1000)),
    // group commit, from /metrics (postoffice_store_commit_seconds): how many writes share one COMMIT, and how much of the wall the writer is inside one
    commits, writes_per_commit: commits ? r1(N / commits) : null, commit_ms_mean: commits ? r3((commitS * 1000) / commits) : null, writer_in_commit_frac: r3((commitS * 1000) / wall), server_cpu_ms_per_msg: r3((serverCpu * 1000) / N),
    thread_cpu_ms: threadsCpu,
    ...(tracer ? { fsyncs: syncs.length, fsync_ms_mean: r3(syncs.reduce((a, b) => a + b, 0) / (syncs.length || 1)), fsync_ms_total: r1(syncs.reduce((a, b) => a + b, 0)), fsync_ms_max: r1(Math.max(0, ...syncs)) } : {}),
    from_us: Number(t0 / 1000n), to_us: Number(t1 / 1000n), ...load,
  };
  writeFileSync(path.join(dir, 'load.json'), JSON.stringify(meta, null, 2));
  log(`profiles in ${dir}`);
  return dir;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2] ? path.resolve(process.argv[2]) : await run();
  const s = report(dir);
  const { threads, ...head } = s;
  console.log(JSON.stringify(head, null, 1));
  for (const t of threads) {
    console.log(`\n${t.thread}: busy ${t.busy_ms} ms of ${head.wall_ms} ms wall (${(t.busy_frac * 100).toFixed(0)}%), ${t.busy_ms_per_msg} ms/msg`);
    for (const [k, v] of Object.entries(t.ms_per_msg_by_stage)) console.log(`  ${v.toFixed(3).padStart(8)} ms/msg  ${k}`);
    console.log('  top self time (ms in the window):');
    for (const [k, v] of t.top_self) console.log(`  ${String(v).padStart(8)}  ${k}`);
  }
  console.log(`\nsummary: ${path.join(dir, 'summary.json')}`);
}
