// `postoffice lab` as a learner runs it: a separate process with two post offices on 127.0.0.2 and
// 127.0.0.3, its DNS and its dashboard. The story's mail must arrive DKIM-signed with the whole
// journey recorded in order; `lab send --fault` from another process must give the journey each
// fault should. The lab binds fixed ports on 127.0.0.2/.3, so every scenario lives in this one
// file (one lab process at a time); the ports are moved by a free --port-offset.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { ImapFlow } from 'imapflow';
import { SqliteStore } from '../../src/store/index.js';
import { CLI, freePort } from '../helpers/process.js';

const DEV = [2525, 2465, 2587, 2143, 2993, 2110, 2995];
const IMAPS = 2993;

interface Row { office: string; msgId: string; agent: string; step: string; time: number; details: Record<string, unknown>; role: string; sentence: string }
interface Journey { rows: Row[]; done: boolean; outcome: string; attempts: number }
interface LabFile { password: string; token: string; url: string }

const canListen = (host: string, port: number) => new Promise<boolean>((resolve) => {
  const s = net.createServer();
  s.once('error', () => resolve(false));
  s.listen(port, host, () => s.close(() => resolve(true)));
});

/** An offset that frees every dev port on both lab addresses. */
async function freeOffset(): Promise<number> {
  for (let i = 0; i < 30; i++) {
    // below the kernel's ephemeral range (32768-), where the lab's own port-0 listeners land
    const off = 10_000 + Math.floor(Math.random() * 19) * 1000 + Math.floor(Math.random() * 50);
    let ok = true;
    for (const host of ['127.0.0.2', '127.0.0.3']) for (const p of DEV) if (ok && !(await canListen(host, p + off))) ok = false;
    if (ok) return off;
  }
  throw new Error('no free port offset for the lab');
}

interface LabProcess { child: ChildProcess; output: () => string; stop(): Promise<number | null> }

/** Start `postoffice lab` and wait until it says it keeps running. */
async function startLabProcess(t: TestContext, dir: string, offset: number, httpPort: number, extra: string[] = []): Promise<LabProcess> {
  let out = '';
  const child = spawn(process.execPath, [CLI, 'lab', '--dir', dir, '--port-offset', String(offset), '--http-port', String(httpPort), ...extra], {
    env: { ...process.env, POSTOFFICE_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return exited;
  };
  t.after(() => stop());
  const t0 = Date.now();
  while (!out.includes('The lab keeps running')) {
    if (child.exitCode !== null) throw new Error(`lab exited (${child.exitCode}):\n${out}`);
    if (Date.now() - t0 > 90_000) throw new Error(`lab did not come up:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, output: () => out, stop };
}

/** `postoffice lab send ...` to its end: exit code and what it printed. */
function labSend(dir: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    let out = '';
    const c = spawn(process.execPath, [CLI, 'lab', 'send', '--dir', dir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout!.on('data', (d) => { out += d; });
    c.stderr!.on('data', (d) => { out += d; });
    c.once('exit', (code) => resolve({ code, out }));
  });
}

async function journey(lab: LabFile, id: string): Promise<Journey> {
  const res = await fetch(`${lab.url}/api/lab/journey/${encodeURIComponent(id)}`, { headers: { authorization: `Bearer ${lab.token}` } });
  assert.equal(res.status, 200, `journey of ${id}`);
  return (await res.json()) as Journey;
}

const idOf = (out: string) => {
  const m = /\/messages\/([^\s/]+)\s*$/m.exec(out);
  assert.ok(m, `a journey link in:\n${out}`);
  return decodeURIComponent(m[1]);
};

/** Every message of a mailbox as raw text (imapflow, a real IMAP client, over IMAPS). */
async function mailbox(host: string, port: number, user: string, pass: string): Promise<string[]> {
  const c = new ImapFlow({ host, port, secure: true, tls: { rejectUnauthorized: false }, auth: { user, pass }, logger: false });
  await c.connect();
  try {
    const lock = await c.getMailboxLock('INBOX');
    try {
      const out: string[] = [];
      for await (const m of c.fetch('1:*', { source: true })) out.push(m.source!.toString('utf8'));
      return out;
    } finally {
      lock.release();
    }
  } finally {
    await c.logout().catch(() => undefined);
  }
}

/** The index of the first row matching, after `from`; fails with the steps seen. */
function after(rows: Row[], from: number, what: string, ok: (r: Row) => boolean): number {
  const i = rows.findIndex((r, k) => k > from && ok(r));
  assert.ok(i > from, `${what} after row ${from}; steps: ${rows.map((r) => `${r.office}:${r.step}`).join(', ')}`);
  return i;
}

test('postoffice lab: the story, then greylist, reject, null-mx and down faults', { timeout: 300_000 }, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-lab-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const offset = await freeOffset();
  const httpPort = await freePort();
  let p = await startLabProcess(t, dir, offset, httpPort);
  const file = JSON.parse(readFileSync(path.join(dir, 'lab.json'), 'utf8')) as LabFile;
  assert.equal(statSync(path.join(dir, 'lab.json')).mode & 0o777, 0o600, 'lab.json is private');
  assert.equal(file.url, `http://127.0.0.1:${httpPort}`);
  const out = p.output();
  t.diagnostic(out);

  // ---- the story, printed: one line per hop, naming the role
  assert.match(out, /MUA {2}163\.test .*handed the message to 163\.test over submission/);
  assert.match(out, /MTA {2}163\.test .*asked DNS for the MX of sina\.test: mx\.sina\.test, preference 10/);
  assert.match(out, /MTA {2}sina\.test .*SPF pass, DKIM pass, DMARC pass/);
  assert.match(out, /MDA {2}sina\.test .*stored the message in friend@sina\.test's INBOX/);
  assert.match(out, /MUA {2}sina\.test .*over POP3/);
  assert.match(out, /MUA {2}sina\.test .*over IMAP/);
  assert.match(out, new RegExp(`password ${file.password}`));
  assert.match(out, new RegExp(`Dashboard: http://127\\.0\\.0\\.1:${httpPort}`));

  // ---- the mail in friend@sina.test's INBOX: two hops, DKIM-signed by 163.test, verified by sina.test
  const inbox = await mailbox('127.0.0.3', IMAPS + offset, 'friend@sina.test', file.password);
  const story = inbox.find((m) => m.includes('filename=notes.txt'));
  assert.ok(story, 'the story mail is in the INBOX');
  const head = story.slice(0, story.indexOf('\r\n\r\n'));
  assert.equal((head.match(/^Received: /gm) ?? []).length, 2, 'one Received: per post office');
  assert.match(head, /^Received: from mx\.163\.test \(\[127\.0\.0\.2\]\)\r\n\tby mx\.sina\.test/m);
  assert.match(head, /^DKIM-Signature: .*d=163\.test/m);
  assert.match(head, /^Authentication-Results: mx\.sina\.test;[\s\S]*dkim=pass[\s\S]*header\.d=163\.test/m);
  assert.match(head, /spf=pass/);
  assert.match(head, /dmarc=pass/);
  assert.match(story, /multipart\/alternative/);
  assert.match(story, /filename=notes\.txt/);

  // ---- the joined journey: every hop, in order
  const j = await journey(file, idOf(out));
  const rows = j.rows;
  let i = after(rows, -1, 'submitted', (r) => r.office === '163.test' && r.step === 'submitted' && r.role === 'MUA');
  i = after(rows, i - 1, 'received at 163', (r) => r.office === '163.test' && r.step === 'received' && r.details.listener === 'submission');
  i = after(rows, i, 'queued', (r) => r.step === 'queued');
  const signed = after(rows, i, 'dkim signed', (r) => r.step === 'dkim signed' && r.details.domain === '163.test');
  i = after(rows, i, 'relay attempt', (r) => r.step === 'attempt');
  i = after(rows, Math.max(i, signed), 'MX look-up', (r) => r.step === 'dns' && r.details.result === 'hosts');
  i = after(rows, i, 'connected', (r) => r.step === 'connected' && r.details.ip === '127.0.0.3');
  i = after(rows, i, 'received at sina', (r) => r.office === 'sina.test' && r.step === 'received' && r.details.listener === 'smtp' && r.details.client === '127.0.0.2');
  i = after(rows, i, 'stored', (r) => r.office === 'sina.test' && r.step === 'stored' && r.details.user === 'friend@sina.test');
  i = after(rows, i, 'fetched over POP3', (r) => r.office === 'sina.test' && r.step === 'retrieved');
  after(rows, i, 'fetched over IMAP', (r) => r.office === 'sina.test' && r.step === 'fetched');
  assert.ok(rows.some((r) => r.office === '163.test' && r.step === 'delivered'));
  assert.ok(rows.every((r) => r.sentence.length > 20 && ['MUA', 'MTA', 'MDA'].includes(r.role)));
  assert.equal(j.outcome, 'delivered');

  // ---- greylist: refused once with 451 4.7.1, delivered at the second attempt
  const grey = await labSend(dir, ['--from', 'me@163.test', '--to', 'friend@sina.test', '--subject', 'greylisted', '--fault', 'greylist', '--timeout', '120']);
  t.diagnostic(grey.out);
  assert.equal(grey.code, 0, grey.out);
  assert.match(grey.out, /delivered after 2 attempt\(s\)/);
  const g = await journey(file, idOf(grey.out));
  assert.equal(g.rows.filter((r) => r.step === 'attempt').length, 2);
  const deferred = g.rows.find((r) => r.step === 'deferred');
  assert.match(String(deferred?.details.reply), /^451 4\.7\.1 /);
  assert.ok(Date.parse(String(deferred?.details.nextAttempt)) > deferred!.time, 'the next attempt time is recorded');
  assert.ok(g.rows.some((r) => r.office === 'sina.test' && r.step === 'stored'));

  // ---- reject and null MX: permanent failures, a bounce (RFC 3464) in me@163.test's INBOX
  for (const [fault, status] of [['reject', '5.1.1'], ['null-mx', '5.1.10']]) {
    const r = await labSend(dir, ['--from', 'me@163.test', '--to', 'friend@sina.test', '--subject', `fault ${fault}`, '--fault', fault, '--timeout', '60']);
    t.diagnostic(r.out);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /bounced after 1 attempt\(s\)/);
    const b = await journey(file, idOf(r.out));
    assert.ok(b.rows.some((x) => x.step === 'bounced' && x.office === '163.test'));
    assert.ok(b.rows.some((x) => x.step === 'stored' && x.office === '163.test' && x.details.user === 'me@163.test'), 'the bounce is stored');
    assert.ok(!b.rows.some((x) => x.office === 'sina.test' && x.step === 'stored'));
    const mine = await mailbox('127.0.0.2', IMAPS + offset, 'me@163.test', file.password);
    const dsn = mine.find((m) => m.includes(`Subject: fault ${fault}`) && /report-type="?delivery-status/i.test(m));
    assert.ok(dsn, `a delivery status notification about "fault ${fault}"`);
    assert.match(dsn, new RegExp(`Status: ${status.replace(/\./g, '\\.')}`));
    assert.match(dsn, /Final-Recipient: rfc822; ?friend@sina\.test/i);
  }

  // ---- down: nothing listens; deferred with the next retry time, delivered once it is back
  const down = await labSend(dir, ['--from', 'me@163.test', '--to', 'friend@sina.test', '--subject', 'down', '--fault', 'down:8', '--timeout', '120']);
  t.diagnostic(down.out);
  assert.equal(down.code, 0, down.out);
  assert.match(down.out, /nothing listens there \(connection refused\)/);
  assert.match(down.out, /tries again at \d\d:\d\d:\d\d UTC \(in 5 s\)/);
  const d = await journey(file, idOf(down.out));
  const failed = d.rows.find((r) => r.step === 'connect failed');
  assert.match(String(failed?.details.error), /ECONNREFUSED/);
  const first = d.rows.find((r) => r.step === 'deferred');
  assert.equal(first?.details.attempt, 1);
  assert.ok(Date.parse(String(first?.details.nextAttempt)) >= first!.time + 4000, 'the retry waits for the schedule');
  assert.equal(d.outcome, 'delivered');

  // ---- the lab's status: both offices, their wires, the faults used
  const st = await (await fetch(`${file.url}/api/lab/status`, { headers: { authorization: `Bearer ${file.token}` } })).json() as
    { offices: { domain: string; wire: { down: boolean; connections: number } }[]; faults: { pending: number; applied: { name: string }[] } };
  assert.deepEqual(st.offices.map((o) => o.domain), ['163.test', 'sina.test']);
  assert.ok(st.offices[1].wire.connections >= 2 && !st.offices[1].wire.down);
  assert.equal(st.faults.pending, 0);
  assert.deepEqual(st.faults.applied.map((f) => f.name), ['greylist', 'reject', 'null-mx']);
  assert.equal((await fetch(`${file.url}/api/lab/status`)).status, 401, 'not without the token');

  // ---- a second lab on the same ports says so and stops
  const dir2 = mkdtempSync(path.join(os.tmpdir(), 'postoffice-lab2-'));
  t.after(() => rmSync(dir2, { recursive: true, force: true }));
  const twice = await new Promise<{ code: number | null; out: string }>((resolve) => {
    let o = '';
    const c = spawn(process.execPath, [CLI, 'lab', '--dir', dir2, '--port-offset', String(offset), '--http-port', '0'], { env: { ...process.env, POSTOFFICE_LOG_LEVEL: 'silent' }, stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout!.on('data', (x) => { o += x; });
    c.stderr!.on('data', (x) => { o += x; });
    c.once('exit', (code) => resolve({ code, out: o }));
  });
  assert.equal(twice.code, 1, twice.out);
  assert.match(twice.out, /postoffice: .* is in use \(another lab or postoffice running\?\): .*--port-offset N/);

  // ---- a second start reuses the data dir: same password, the mail still there
  assert.equal(await p.stop(), 0);
  p = await startLabProcess(t, dir, offset, httpPort, ['--no-story']);
  const again = JSON.parse(readFileSync(path.join(dir, 'lab.json'), 'utf8')) as LabFile;
  assert.equal(again.password, file.password);
  assert.equal(again.token, file.token);
  const still = await mailbox('127.0.0.3', IMAPS + offset, 'friend@sina.test', file.password);
  assert.ok(still.length >= 3, 'the mails of the first run are still in the INBOX');
  assert.equal(await p.stop(), 0);

  // transcripts are on in the lab: every protocol of the path, and never the password
  const secret = [file.password, Buffer.from(`\0me@163.test\0${file.password}`).toString('base64'), Buffer.from(file.password).toString('base64')];
  const protocols = new Set<string>();
  for (const office of ['163.test', 'sina.test']) {
    const store = new SqliteStore({ dataDir: path.join(dir, office) });
    try {
      for (const s of await store.transcripts.list({ limit: 200 })) {
        protocols.add(`${office} ${s.protocol}`);
        const full = await store.transcripts.get(s.sid);
        const text = JSON.stringify(full);
        for (const x of secret) assert.ok(!text.includes(x), `no password in the ${s.protocol} transcript ${s.sid}`);
      }
    } finally {
      await store.close();
    }
  }
  t.diagnostic(`transcripts: ${[...protocols].join(', ')}`);
  for (const want of ['163.test submission', 'sina.test smtp', 'sina.test pop3s', 'sina.test imaps']) assert.ok(protocols.has(want), `a ${want} transcript (have ${[...protocols].join(', ')})`);
});

test('postoffice lab send: clear errors without a lab, and for bad faults', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-lab-none-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const none = await labSend(dir, ['--from', 'me@163.test', '--to', 'friend@sina.test']);
  assert.equal(none.code, 1);
  assert.match(none.out, /^postoffice: no lab in .*: start one first with `npx postoffice lab/);
  const bad = await new Promise<{ code: number | null; out: string }>((resolve) => {
    let out = '';
    const c = spawn(process.execPath, [CLI, 'lab', '--bogus'], { stdio: ['ignore', 'pipe', 'pipe'] });
    c.stderr!.on('data', (x) => { out += x; });
    c.once('exit', (code) => resolve({ code, out }));
  });
  assert.equal(bad.code, 2);
  assert.match(bad.out, /lab: unknown argument --bogus/);
});
