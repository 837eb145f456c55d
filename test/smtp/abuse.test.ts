// Attacks on the SMTP listeners that smtp-server and our hooks must both resist.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import tls from 'node:tls';
import { lineReader, startLab } from '../helpers/lab.js';

const PLAIN = (user: string, pw: string) => Buffer.from(`\0${user}\0${pw}`).toString('base64');

test('STARTTLS injection (CVE-2011-0411 class): plaintext pipelined after STARTTLS is discarded', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  for (const name of ['smtp', 'submission'] as const) {
    const sock = await lab.connect(name);
    const r = lineReader(sock);
    const reply = async () => { for (;;) { const l = await r.next(); if (l[3] !== '-') return l; } };
    await reply();
    sock.write('EHLO attacker.test\r\n'); await reply();
    // the injected command rides in the same packet as STARTTLS
    sock.write('STARTTLS\r\nMAIL FROM:<injected@attacker.test>\r\n');
    assert.match(await reply(), /^220 /);
    sock.removeAllListeners('data');
    const secure = tls.connect({ socket: sock, rejectUnauthorized: false });
    await new Promise((res) => secure.once('secureConnect', res));
    const sr = lineReader(secure);
    secure.write('NOOP\r\n');
    // had the injected MAIL been executed inside TLS, its 250/530 would come first
    assert.match(await sr.next(), /^250 2\.0\.0 OK/, `${name}: only the NOOP is answered`);
    secure.write('MAIL FROM:<bob@example.test>\r\n');
    const l = await sr.next();
    assert.ok(!/Sender already specified/.test(l), `${name}: no transaction was opened by the injection`);
    secure.destroy();
  }
});

test('three failed AUTH attempts close the connection (421), with a growing delay', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  const sock = await lab.connect('smtps');
  const r = lineReader(sock);
  const reply = async () => { for (;;) { const l = await r.next(); if (l[3] !== '-') return l; } };
  await reply();
  sock.write('EHLO guesser.test\r\n'); await reply();
  const answers: string[] = [];
  for (let i = 0; i < 3; i++) {
    sock.write(`AUTH PLAIN ${PLAIN('bob@example.test', `guess${i}`)}\r\n`);
    answers.push(await reply());
  }
  assert.match(answers[0], /^535 5\.7\.8 /);
  assert.match(answers[1], /^535 5\.7\.8 /);
  assert.match(answers[2], /^421 4\.7\.8 too many failed authentication attempts/);
  await assert.rejects(r.next(), /connection closed/);
});

test('recipients per message are bounded (maxRecipients)', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' }, env: { POSTOFFICE_MAX_RECIPIENTS: '3' } });
  const sock = await lab.connect('smtp');
  const r = lineReader(sock);
  const reply = async () => { for (;;) { const l = await r.next(); if (l[3] !== '-') return l; } };
  await reply();
  sock.write('EHLO c\r\nMAIL FROM:<a@example.net>\r\n'); await reply(); await reply();
  const got: string[] = [];
  for (let i = 0; i < 5; i++) { sock.write(`RCPT TO:<bob+${i}@example.test>\r\n`); got.push(await reply()); }
  assert.deepEqual(got.map((l) => l.slice(0, 9)), ['250 2.1.5', '250 2.1.5', '250 2.1.5', '452 4.5.3', '452 4.5.3'], got.join(' | '));
  sock.destroy();
});

test('MIME bombs over SMTP: 1,000-deep multiparts and 20,000 parts are stored, parsed within the limits, served', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' }, env: { POSTOFFICE_MIME_MAX_DEPTH: '32', POSTOFFICE_MIME_MAX_PARTS: '5000' } });
  let deep = 'Subject: deep\r\nContent-Type: multipart/mixed; boundary="b0"\r\n\r\n';
  for (let i = 1; i < 1000; i++) deep += `--b${i - 1}\r\nContent-Type: multipart/mixed; boundary="b${i}"\r\n\r\n`;
  deep += '--b999\r\nContent-Type: text/plain\r\n\r\ncore\r\n';
  let wide = 'Subject: wide\r\nContent-Type: multipart/mixed; boundary="w"\r\n\r\n';
  for (let i = 0; i < 20000; i++) wide += `--w\r\nContent-Type: text/plain\r\n\r\npart ${i}\r\n`;
  wide += '--w--\r\n';
  for (const raw of [deep, wide]) {
    const sock = await lab.connect('smtp');
    const r = lineReader(sock);
    const reply = async () => { for (;;) { const l = await r.next(); if (l[3] !== '-') return l; } };
    await reply();
    sock.write('EHLO bomber.test\r\nMAIL FROM:<a@bomber.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n');
    await reply(); await reply(); await reply(); assert.match(await reply(), /^354/);
    sock.write(raw + '.\r\n');
    assert.match(await reply(), /^250 2\.6\.0 /);
    sock.destroy();
  }
  const u = (await lab.po.store.users.get('bob@example.test'))!;
  const mb = (await lab.po.store.mailboxes.get(u.id, 'INBOX'))!;
  const msgs = await lab.po.store.messages.list(mb.id);
  assert.equal(msgs.length, 2);
  for (const m of msgs) {
    const tree = (await lab.po.store.messages.meta(m.blobId)).mime as { truncated: boolean; partCount: number };
    assert.equal(tree.truncated, true, 'parsing stopped at the configured limit');
    assert.ok(tree.partCount <= 5000);
  }
});
