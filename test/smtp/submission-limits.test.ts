// Issue 13 part 5: a stolen password must not burn the server's reputation. Per-user submission
// limits (messages and recipients per hour and per day) answer 451 4.7.1 past them, with a log
// line and a journey step; the counts are rows written with each delivery, so they survive a
// restart; `postoffice user limits ADDRESS` shows them and --reset lifts them.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type net from 'node:net';
import { test } from 'node:test';
import nodemailer from 'nodemailer';
import { CLI } from '../helpers/process.js';
import { lineReader, startLab, type Lab } from '../helpers/lab.js';

const USERS = { 'alice@example.test': 'alice-pw', 'bob@example.test': 'bob-pw', 'carol@example.test': 'carol-pw' };
const PLAIN = (user: string, pw: string) => Buffer.from(`\0${user}\0${pw}`).toString('base64');

function cli(dataDir: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, POSTOFFICE_DATA_DIR: dataDir, POSTOFFICE_LOG_LEVEL: 'silent', ...env }, timeout: 20_000 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, out: stdout, err: stderr }));
  });
}

type Sent = { ok: true; response: string } | { ok: false; code: number; response: string; command?: string };

async function submit(lab: Lab, user: string, pw: string, to: string[], subject: string): Promise<Sent> {
  const tr = nodemailer.createTransport({ host: '127.0.0.1', port: lab.port('smtps'), secure: true, tls: { rejectUnauthorized: false }, auth: { user, pass: pw } });
  try {
    const info = await tr.sendMail({ from: user, to, subject, text: 'hello' });
    return { ok: true, response: info.response };
  } catch (err) {
    const e = err as { responseCode?: number; response?: string; message: string; command?: string };
    return { ok: false, code: e.responseCode ?? 0, response: e.response ?? e.message, command: e.command };
  } finally {
    tr.close();
  }
}

test('message 4 in an hour gets 451 4.7.1 at MAIL (submissionMessagesPerHour 3); the journey and log say why; other users are not affected; the count survives a restart; user limits shows it, --reset lifts it', { timeout: 60_000 }, async (t) => {
  const env = { POSTOFFICE_SUBMISSION_MESSAGES_PER_HOUR: '3' };
  const lab = await startLab(t, { users: USERS, env });
  for (let i = 1; i <= 3; i++) {
    const r = await submit(lab, 'alice@example.test', 'alice-pw', ['bob@example.test'], `message ${i}`);
    assert.ok(r.ok, JSON.stringify(r));
  }
  const r4 = await submit(lab, 'alice@example.test', 'alice-pw', ['bob@example.test'], 'message 4');
  assert.ok(!r4.ok && r4.code === 451 && /^451 4\.7\.1 submission limit reached for alice@example\.test: 3 of 3 messages per hour; try again later/.test(r4.response), JSON.stringify(r4));
  assert.equal(r4.ok ? '' : r4.command, 'MAIL FROM');
  // the journey: one "refused" step naming the limit
  const [newest] = await lab.po.store.journey.recent({ limit: 1 });
  assert.equal(newest.lastStep, 'refused');
  const refused = (await lab.po.store.journey.trace(newest.msgId)).find((e) => e.step === 'refused')!;
  assert.deepEqual([refused.details.why, refused.details.user, refused.details.limit, refused.details.used, refused.details.max], ['submission limit', 'alice@example.test', 'messages per hour', 3, 3]);
  // carol has her own count
  assert.ok((await submit(lab, 'carol@example.test', 'carol-pw', ['bob@example.test'], 'carol 1')).ok);

  // the operator's view, from another process while the server runs
  const shown = await cli(lab.dataDir, ['user', 'limits', 'alice@example.test'], env);
  assert.equal(shown.code, 0, shown.err);
  assert.match(shown.out, /^  messages per hour\s+3\s+3$/m);
  assert.match(shown.out, /^  recipients per hour\s+3\s+1000$/m);
  assert.match(shown.out, /^status: LIMITED \(messages per hour: 3 of 3\); new mail gets 451 4\.7\.1 until about \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/m);
  const unknown = await cli(lab.dataDir, ['user', 'limits', 'nobody@example.test'], env);
  assert.equal(unknown.code, 1);
  assert.match(unknown.err, /^postoffice: no such user: nobody@example\.test\n$/);
  assert.equal((await cli(lab.dataDir, ['user', 'limits'], env)).code, 2);

  // a restart does not forget
  const dataDir = lab.dataDir;
  await lab.po.close();
  const again = await startLab(t, { users: USERS, env, dataDir });
  const r5 = await submit(again, 'alice@example.test', 'alice-pw', ['bob@example.test'], 'after restart');
  assert.ok(!r5.ok && /^451 4\.7\.1 /.test(r5.response), JSON.stringify(r5));
  // --reset (the account was secured): the server sees it at once
  const reset = await cli(dataDir, ['user', 'limits', 'alice@example.test', '--reset'], env);
  assert.equal(reset.code, 0, reset.err);
  assert.match(reset.out, /^forgot 3 submission\(s\) of alice@example\.test/);
  assert.ok((await submit(again, 'alice@example.test', 'alice-pw', ['bob@example.test'], 'after reset')).ok);
});

async function session(lab: Lab): Promise<{ sock: net.Socket; reply(): Promise<string> }> {
  const sock = await lab.connect('smtps');
  const r = lineReader(sock);
  const reply = async () => { for (;;) { const l = await r.next(); if (l[3] !== '-') return l; } };
  await reply();
  sock.write('EHLO client.test\r\n'); await reply();
  sock.write(`AUTH PLAIN ${PLAIN('alice@example.test', 'alice-pw')}\r\n`);
  assert.match(await reply(), /^235 /);
  return { sock, reply };
}

test('RCPT 6 in an hour gets 451 4.7.1 (submissionRecipientsPerHour 5), across messages; the message with 5 is delivered', { timeout: 60_000 }, async (t) => {
  const lab = await startLab(t, { users: USERS, env: { POSTOFFICE_SUBMISSION_RECIPIENTS_PER_HOUR: '5' } });
  const { sock, reply } = await session(lab);
  t.after(() => sock.destroy());
  sock.write('MAIL FROM:<alice@example.test>\r\n');
  assert.match(await reply(), /^250 /);
  const got: string[] = [];
  for (let i = 0; i < 7; i++) { sock.write(`RCPT TO:<bob+${i}@example.test>\r\n`); got.push(await reply()); }
  assert.deepEqual(got.map((l) => l.slice(0, 9)), ['250 2.1.5', '250 2.1.5', '250 2.1.5', '250 2.1.5', '250 2.1.5', '451 4.7.1', '451 4.7.1'], got.join(' | '));
  assert.match(got[5], /^451 4\.7\.1 submission limit reached for alice@example\.test: 0 of 5 recipients per hour; try again later$/);
  sock.write('DATA\r\n');
  assert.match(await reply(), /^354 /);
  sock.write('Subject: five\r\n\r\nhello\r\n.\r\n');
  assert.match(await reply(), /^250 2\.6\.0 /);
  // the next message: its first RCPT is the 6th of the hour
  sock.write('MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n');
  assert.match(await reply(), /^451 4\.7\.1 submission limit reached for alice@example\.test: 5 of 5 recipients per hour/);
});

test('10 sessions of one user at the same moment (submissionMessagesPerHour 3): exactly 3 messages are accepted, the others get 451 4.7.1', { timeout: 60_000 }, async (t) => {
  const lab = await startLab(t, { users: USERS, env: { POSTOFFICE_SUBMISSION_MESSAGES_PER_HOUR: '3' } });
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => submit(lab, 'alice@example.test', 'alice-pw', ['bob@example.test'], `burst ${i}`)));
  assert.equal(results.filter((r) => r.ok).length, 3, JSON.stringify(results));
  for (const r of results) if (!r.ok) assert.match(r.response, /^451 4\.7\.1 submission limit reached for alice@example\.test: 3 of 3 messages per hour/);
  const alice = (await lab.po.store.users.get('alice@example.test'))!;
  assert.deepEqual(await lab.po.store.submissions.count(alice.id, 0), { messages: 3, recipients: 3 });
});

test('port 25 is not counted: mail to our users from outside never touches the submission limits', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: USERS, env: { POSTOFFICE_SUBMISSION_MESSAGES_PER_HOUR: '1' } });
  const tr = nodemailer.createTransport({ host: '127.0.0.1', port: lab.port('smtp'), secure: false, ignoreTLS: true });
  t.after(() => tr.close());
  for (let i = 0; i < 3; i++) await tr.sendMail({ envelope: { from: 'x@remote.test', to: ['alice@example.test'] }, raw: `Subject: in ${i}\r\n\r\nhi\r\n` });
  assert.ok((await submit(lab, 'alice@example.test', 'alice-pw', ['bob@example.test'], 'mine')).ok);
});
