// SMTP transcripts: submission over STARTTLS (587) with AUTH PLAIN and over implicit TLS (465)
// with AUTH LOGIN, recorded with the TLS line, the DATA excerpt and our msgId, never the password.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import nodemailer from 'nodemailer';
import { startLab } from '../helpers/lab.js';
import { assertInOrder, assertNoSecret, ended, render } from './util.js';

const USER = 'alice@example.test';
const PASS = 'S3cret-pass-ÄÖ!';

test('SMTP AUTH PLAIN on 587 and AUTH LOGIN on 465: transcripts with TLS, DATA excerpt, msgId; no password', async (t) => {
  const lab = await startLab(t, { users: { [USER]: PASS, 'bob@example.test': 'pw' }, env: { POSTOFFICE_TRANSCRIPTS: 'on' } });
  const { store } = lab.po;
  const body = Array.from({ length: 200 }, (_, i) => `line ${i} of a long body`).join('\n');

  const plain = nodemailer.createTransport({
    host: '127.0.0.1', port: lab.port('submission'), secure: false, requireTLS: true, tls: { rejectUnauthorized: false },
    auth: { user: USER, pass: PASS }, authMethod: 'PLAIN',
  });
  const a = await plain.sendMail({ from: USER, to: 'bob@example.test', subject: 'over 587', text: body });
  plain.close();
  const login = nodemailer.createTransport({
    host: '127.0.0.1', port: lab.port('smtps'), secure: true, tls: { rejectUnauthorized: false },
    auth: { user: USER, pass: PASS }, authMethod: 'LOGIN',
  });
  const b = await login.sendMail({ from: USER, to: 'bob@example.test', subject: 'over 465', text: 'short' });
  login.close();
  const idA = /queued as (\S+)/.exec(a.response)![1];
  const idB = /queued as (\S+)/.exec(b.response)![1];

  const s587 = await ended(store, (s) => s.protocol === 'submission');
  assert.equal(s587.user, USER);
  assert.match(s587.tls ?? '', /^TLSv1\.[23] \S+/);
  assert.deepEqual(s587.msgIds, [idA]);
  assert.equal(idA.split('.')[0], s587.sid, 'our msgId is sid.n');
  assert.match(s587.remote ?? '', /^127\.0\.0\.1:\d+$/);
  assert.equal(s587.local, `127.0.0.1:${lab.port('submission')}`);
  const l587 = render(s587);
  assertInOrder(l587, [
    'S: 220 mail.example.test ESMTP postoffice',
    'C: EHLO ...',
    'S: 250-STARTTLS',
    'C: STARTTLS',
    'S: 220 ...',
    'TLS: TLSv1...',
    'C: EHLO ...',
    'S: 250-AUTH PLAIN LOGIN',
    'C: AUTH PLAIN ***',
    'S: 235 2.7.0 Authentication successful',
    `C: MAIL FROM:<${USER}>...`,
    'C: RCPT TO:<bob@example.test>...',
    'C: DATA',
    'S: 354 ...',
    'C: Subject: over 587',
    'C: ',
    'C: line 0 of a long body',
    'note: <...',
    'C: .',
    `S: 250 2.6.0 Ok: queued as ${idA}`,
  ]);
  assert.ok(!l587.includes('C: line 100 of a long body'), 'the body is elided');
  assert.match(l587.find((l) => l.startsWith('note: <'))!, /^note: <\d+ bytes of the message elided>$/);
  assertNoSecret(JSON.stringify(s587), USER, PASS, 'the 587 transcript');

  const s465 = await ended(store, (s) => s.protocol === 'smtps');
  assert.deepEqual(s465.msgIds, [idB]);
  const l465 = render(s465);
  assert.match(l465[0], /^TLS: TLSv1\.[23] /, 'implicit TLS: the handshake comes first');
  assertInOrder(l465, [
    'S: 220 ...',
    'C: EHLO ...',
    'C: AUTH LOGIN',
    'S: 334 VXNlcm5hbWU6',
    'C: ***',
    'S: 334 UGFzc3dvcmQ6',
    'C: ***',
    'S: 235 2.7.0 Authentication successful',
    'C: Subject: over 465',
    'C: short',
    'C: .',
    `S: 250 2.6.0 Ok: queued as ${idB}`,
  ]);
  assertNoSecret(JSON.stringify(s465), USER, PASS, 'the 465 transcript');
  assert.deepEqual((await store.transcripts.list({ limit: 10, msgId: idB })).map((s) => s.sid), [s465.sid]);
});

test('transcripts off (the default): nothing is recorded', async (t) => {
  const lab = await startLab(t, { users: { [USER]: PASS, 'bob@example.test': 'pw' } });
  const tr = nodemailer.createTransport({ host: '127.0.0.1', port: lab.port('smtps'), secure: true, tls: { rejectUnauthorized: false }, auth: { user: USER, pass: PASS } });
  await tr.sendMail({ from: USER, to: 'bob@example.test', subject: 'x', text: 'y' });
  tr.close();
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(await lab.po.store.transcripts.list({ limit: 10 }), []);
});
