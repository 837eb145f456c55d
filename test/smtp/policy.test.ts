// MTA in policy over real sockets: never an open relay, AUTH only over TLS, senders owned,
// SIZE enforced, unknown users refused, one stored body for many recipients.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import nodemailer from 'nodemailer';
import { startLab, transcript, type Lab } from '../helpers/lab.js';

const USERS = { 'alice@example.test': 'alice-pw', 'bob@example.test': 'bob-pw', 'carol@example.test': 'carol-pw' };

async function count(lab: Lab, address: string, mailbox = 'INBOX'): Promise<number> {
  const u = (await lab.po.store.users.get(address))!;
  const mb = (await lab.po.store.mailboxes.get(u.id, mailbox))!;
  return (await lab.po.store.messages.list(mb.id)).length;
}

function submitter(lab: Lab, user: string, pass: string) {
  return nodemailer.createTransport({ host: '127.0.0.1', port: lab.port('smtps'), secure: true, auth: { user, pass }, tls: { rejectUnauthorized: false } });
}

test('port 25: local mail accepted without AUTH, relaying denied even from 127.0.0.1, unknown user 550 5.1.1', async (t) => {
  const lab = await startLab(t, { users: USERS });
  await transcript(await lab.connect('smtp'), `
    S: 220 mail.example.test ESMTP postoffice
    C: EHLO client.example.net
    S: 250-mail.example.test Nice to meet you, [127.0.0.1]
    S: 250-PIPELINING
    S: 250-8BITMIME
    S: 250-SMTPUTF8
    S: 250-ENHANCEDSTATUSCODES
    S: 250-DSN
    S: 250-STARTTLS
    S: 250 SIZE 26214400
    C: MAIL FROM:<someone@example.net>
    S: 250 2.1.0 Accepted
    C: RCPT TO:<friend@elsewhere.example>
    S: 550 5.7.1 <friend@elsewhere.example>: relaying denied
    C: RCPT TO:<nobody@example.test>
    S: 550 5.1.1 <nobody@example.test>: no such user here
    C: RCPT TO:<Alice@Example.TEST>
    S: 250 2.1.5 Accepted
    C: DATA
    S: 354 End data with <CR><LF>.<CR><LF>
    C: Subject: hello
    C:
    C: hi alice
    C: .
    S: 250 2.6.0 Ok: queued as ...
    C: AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABhbGljZS1wdw==
    S: 500 5.5.2 Error: command not recognized
    C: QUIT
    S: 221 2.0.0 Bye
  `);
  assert.equal(await count(lab, 'alice@example.test'), 1);
  assert.equal((await lab.po.store.queue.list()).length, 0, 'nothing was queued for relay');
});

test('submission (587): AUTH neither offered nor accepted before STARTTLS; MAIL refused without AUTH', async (t) => {
  const lab = await startLab(t, { users: USERS });
  await transcript(await lab.connect('submission'), `
    S: 220 ...
    C: EHLO client.example.net
    S: 250-mail.example.test ...
    S: 250-PIPELINING
    S: 250-8BITMIME
    S: 250-SMTPUTF8
    S: 250-ENHANCEDSTATUSCODES
    S: 250-DSN
    S: 250-STARTTLS
    S: 250 SIZE 26214400
    C: AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABhbGljZS1wdw==
    S: 500 5.5.2 Error: command not recognized
    C: MAIL FROM:<alice@example.test>
    S: 530 5.7.0 authentication required
    C: QUIT
    S: 221 ...
  `);
});

test('wrong password is refused with 535 5.7.8 after a delay', async (t) => {
  const lab = await startLab(t, { users: USERS });
  const tr = submitter(lab, 'alice@example.test', 'wrong');
  t.after(() => tr.close());
  const t0 = Date.now();
  await assert.rejects(tr.verify(), (err: Error & { responseCode?: number; response?: string }) => {
    assert.equal(err.responseCode, 535);
    assert.match(err.response ?? '', /^535 5\.7\.8 /);
    return true;
  });
  assert.ok(Date.now() - t0 >= 200, 'a failed login is delayed');
  const ok = submitter(lab, 'alice@example.test', 'alice-pw');
  t.after(() => ok.close());
  assert.equal(await ok.verify(), true, 'the real user is not locked out');
});

test('authenticated user may relay, but only from their own addresses and aliases', async (t) => {
  const lab = await startLab(t, { users: USERS });
  await lab.po.store.aliases.add('sales@example.test', 'alice@example.test');
  const tr = submitter(lab, 'alice@example.test', 'alice-pw');
  t.after(() => tr.close());
  await assert.rejects(tr.sendMail({ from: 'bob@example.test', to: 'carol@example.test', subject: 'x', text: 'y' }), (err: Error & { response?: string }) => {
    assert.match(err.response ?? '', /^553 5\.7\.1 sender address <bob@example\.test> not owned by user alice@example\.test/);
    return true;
  });
  // the header From is checked too, not only the envelope
  await assert.rejects(tr.sendMail({ envelope: { from: 'alice@example.test', to: ['carol@example.test'] }, from: 'Bob <bob@example.test>', to: 'carol@example.test', subject: 'x', text: 'y' }),
    (err: Error & { response?: string }) => /^553 5\.7\.1 header From <bob@example\.test> not owned by user alice@example\.test/.test(err.response ?? ''));
  await tr.sendMail({ from: 'sales@example.test', to: 'carol@example.test', subject: 'from an alias', text: 'y' });
  await tr.sendMail({ from: 'alice+news@example.test', to: 'carol@example.test', subject: 'from +detail', text: 'y' });
  assert.equal(await count(lab, 'carol@example.test'), 2);
  // a remote recipient is accepted into the outbound queue, not delivered locally
  await tr.sendMail({ from: 'alice@example.test', to: ['friend@remote.example', 'other@remote.example', 'bob@example.test'], subject: 'out', text: 'z' });
  const q = await lab.po.store.queue.list();
  assert.equal(q.length, 1);
  assert.equal(q[0].domain, 'remote.example');
  assert.deepEqual(q[0].rcpts.map((r) => r.address).sort(), ['friend@remote.example', 'other@remote.example']);
  assert.equal(await count(lab, 'bob@example.test'), 1);
  const relayed = (await lab.po.store.messages.raw(q[0].blobId)).toString('latin1');
  assert.ok(!relayed.startsWith('Return-Path:'), 'Return-Path is added only on final delivery');
});

test('SIZE is enforced: announced and actual oversize refused, nothing stored', async (t) => {
  const lab = await startLab(t, { users: USERS, env: { POSTOFFICE_MAX_MESSAGE_BYTES: '2000' } });
  await transcript(await lab.connect('smtp'), `
    S: 220 ...
    C: EHLO c
    S: 250-...
    S: 250-...
    S: 250-...
    S: 250-...
    S: 250-...
    S: 250-...
    S: 250-...
    S: 250 SIZE 2000
    C: MAIL FROM:<a@example.net> SIZE=5000
    S: 552 5.3.4 Error: message exceeds fixed maximum message size 2000
    C: MAIL FROM:<a@example.net>
    S: 250 2.1.0 Accepted
    C: RCPT TO:<bob@example.test>
    S: 250 2.1.5 Accepted
    C: DATA
    S: 354 ...
    ${Array.from({ length: 40 }, () => 'C: ' + 'x'.repeat(76)).join('\n')}
    C: .
    S: 552 5.3.4 ...
    C: QUIT
    S: 221 ...
  `);
  assert.equal(await count(lab, 'bob@example.test'), 0);
});

test('one stored body for several recipients; aliases and catch-all expand; duplicates collapse', async (t) => {
  const lab = await startLab(t, { users: USERS });
  const { store } = lab.po;
  await store.aliases.add('team@example.test', 'alice@example.test');
  await store.aliases.add('team@example.test', 'bob@example.test');
  await store.aliases.add('@example.test', 'carol@example.test');
  const tr = nodemailer.createTransport({ host: '127.0.0.1', port: lab.port('smtp'), secure: false, ignoreTLS: true });
  t.after(() => tr.close());
  await tr.sendMail({ envelope: { from: 'x@example.net', to: ['team@example.test', 'alice@example.test', 'whoever@example.test'] }, raw: 'Subject: team\r\n\r\nhello team\r\n' });
  const counts = await Promise.all(['alice@example.test', 'bob@example.test', 'carol@example.test'].map((a) => count(lab, a)));
  assert.deepEqual(counts, [1, 1, 1], 'alice gets one copy although named twice; the catch-all reaches carol');
  const blobIds = new Set<number>();
  for (const a of Object.keys(USERS)) {
    const u = (await store.users.get(a))!;
    const mb = (await store.mailboxes.get(u.id, 'INBOX'))!;
    for (const m of await store.messages.list(mb.id)) blobIds.add(m.blobId);
  }
  assert.equal(blobIds.size, 1, 'the raw bytes are stored once');
});
