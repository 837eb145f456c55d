// Delivery msgs/s against concurrent SMTP sessions and against message size, on port 25 of each target,
// counted end to end (until IMAP STATUS shows every message in the recipient's INBOX).
import { DOMAIN, PASSWORD, env, imapConnect, list, loadMeter, log, message, ms, now, num, r1, record, sleep, smtpConnect } from './lib.mjs';

const SESSIONS = list('BENCH_SCALE_SESSIONS', '1,4,16');
const SIZES = list('BENCH_SCALE_SIZES', '1000,100000');
const SIZE_SESSIONS = num('BENCH_SCALE_SIZE_SESSIONS', 4);
const MSGS = num('BENCH_SCALE_MSGS', 200);
const BYTES_BUDGET = num('BENCH_SCALE_BYTES_BUDGET', 40e6);
const SESSION_MSG_BYTES = num('BENCH_SCALE_MSG_BYTES', 10000);
const STARTTLS = env('BENCH_SCALE_STARTTLS', '0') === '1';
const RCPT = `scale-in@${DOMAIN}`;
const SENDER = `scale-sender@${DOMAIN}`;

async function inboxCount(port) {
  const c = await imapConnect(port);
  try {
    await c.cmd(`LOGIN ${RCPT} ${PASSWORD}`);
    const out = await c.cmd('STATUS INBOX (MESSAGES)');
    return Number(/MESSAGES (\d+)/.exec(out)[1]);
  } finally { c.close(); }
}

/** n messages of `bytes` over `sessions` connections; accepted = until the last 250, e2e = until STATUS counts them. */
async function point(t, sessions, bytes, n) {
  const before = await inboxCount(t.ports.imap);
  const data = message(1, bytes, RCPT);
  const meter = loadMeter();
  const t0 = now();
  let next = 0;
  let retries = 0;
  let firstError = null;
  // a session that cannot connect or breaks is opened again (a busy server may refuse or drop some:
  // Postfix takes 100 sessions at once, the rest wait in its listen queue); its message is sent again
  const again = (e) => { retries++; firstError ??= String(e.message ?? e); if (retries > n) throw e; };
  await Promise.all(Array.from({ length: Math.min(sessions, n) }, async () => {
    let s = null;
    while (next < n) {
      if (!s) { try { s = await smtpConnect(t.ports.smtp, { starttls: STARTTLS }); } catch (e) { again(e); await sleep(200); continue; } }
      if (next >= n) break; // the others sent them all while this session connected: no extra message
      next++;
      try { await s.send(SENDER, RCPT, data); } catch (e) { next--; s = null; again(e); }
    }
    if (s) await s.quit();
  }));
  const accepted = ms(t0);
  let count = before;
  const deadline = Date.now() + num('BENCH_SCALE_E2E_TIMEOUT', 600) * 1000;
  while (count < before + n && Date.now() < deadline) { count = await inboxCount(t.ports.imap); if (count < before + n) await sleep(50); }
  const e2e = ms(t0);
  const load = meter.stop();
  return {
    sessions, msg_bytes: data.length, messages: n, delivered: count - before,
    accepted_msgs_per_s: r1((n * 1000) / accepted), e2e_msgs_per_s: count - before >= n ? r1((n * 1000) / e2e) : null,
    e2e_mb_per_s: r1((n * data.length) / 1e3 / e2e), starttls: STARTTLS, retries, first_error: firstError, ...load,
  };
}

export async function deliverySweep(t) {
  await t.adduser(RCPT);
  await t.adduser(SENDER);
  // warm up: a few messages so the first point does not pay for JIT and first opens
  await point(t, 1, 1000, 5);
  for (const sessions of SESSIONS) {
    const r = await point(t, sessions, SESSION_MSG_BYTES, Math.max(MSGS, sessions * 4)); // at least 4 per session
    record({ target: t.name, workload: 'delivery_sessions', ...r });
  }
  for (const bytes of SIZES) {
    const n = Math.max(4, Math.min(MSGS, Math.floor(BYTES_BUDGET / bytes)));
    const r = await point(t, SIZE_SESSIONS, bytes, n);
    record({ target: t.name, workload: 'delivery_size', ...r });
  }
  log(`${t.name}: delivery sweep done`);
}
