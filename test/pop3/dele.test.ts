import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MailboxChange } from '../../src/store/index.js';
import { fixture, startLab, transcript } from '../helpers/lab.js';
import { Pop3Client } from './client.js';

async function inbox(lab: Awaited<ReturnType<typeof startLab>>, address: string) {
  const user = await lab.po.store.users.get(address);
  return (await lab.po.store.mailboxes.get(user!.id, 'INBOX'))!;
}

test('DELE marks, QUIT removes (in one transaction, seen by IMAP as EXPUNGE)', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  const first = await lab.deliver('bob@example.test', fixture('pop3-text.eml'));
  const second = await lab.deliver('bob@example.test', fixture('pop3-html.eml'));
  const mb = await inbox(lab, 'bob@example.test');
  const changes: MailboxChange[] = [];
  lab.po.store.events.on('change', (c) => { if (c.mailboxId === mb.id && c.kind === 'expunge') changes.push(c); });
  await transcript(await lab.connect('pop3s'), `
    S: +OK ...
    C: USER bob@example.test
    S: +OK ...
    C: PASS pw
    S: +OK ...
    C: DELE 1
    S: +OK message 1 deleted
    C: DELE 1
    S: -ERR message 1 already deleted
    C: DELE 3
    S: -ERR no such message
    C: DELE 2
    S: +OK message 2 deleted
    C: QUIT
    S: +OK postoffice POP3 server signing off (0 messages left)
  `);
  assert.equal((await lab.po.store.messages.list(mb.id)).length, 0);
  assert.deepEqual(changes.map((c) => c.kind === 'expunge' && c.uids), [[first.uid, second.uid]], 'one expunge, both UIDs');
  const steps = (await lab.po.store.journey.trace(first.msgId)).map((r) => `${r.agent}: ${r.step}`);
  assert.ok(steps.includes('MUA access: deleted'), steps.join(', '));
});

test('a dropped connection deletes nothing', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  await lab.deliver('bob@example.test', fixture('pop3-text.eml'));
  await lab.deliver('bob@example.test', fixture('pop3-html.eml'));
  const mb = await inbox(lab, 'bob@example.test');
  const c = await Pop3Client.connect(lab.port('pop3s'), { tls: true });
  await c.line();
  await c.login('bob@example.test', 'pw');
  assert.equal(await c.cmd('DELE 1'), '+OK message 1 deleted');
  assert.equal(await c.cmd('DELE 2'), '+OK message 2 deleted');
  c.close();
  // the lock is released on close; a new session sees both messages
  await new Promise((r) => setTimeout(r, 100));
  assert.equal((await lab.po.store.messages.list(mb.id)).length, 2);
  const d = await Pop3Client.connect(lab.port('pop3s'), { tls: true });
  await d.line();
  assert.match(await d.login('bob@example.test', 'pw'), /has 2 messages/);
  assert.match(await d.cmd('QUIT'), /\(2 messages left\)/);
});

test('RSET unmarks, so QUIT deletes nothing', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  await lab.deliver('bob@example.test', fixture('pop3-text.eml'));
  const mb = await inbox(lab, 'bob@example.test');
  await transcript(await lab.connect('pop3s'), `
    S: +OK ...
    C: USER bob@example.test
    S: +OK ...
    C: PASS pw
    S: +OK ...
    C: DELE 1
    S: +OK message 1 deleted
    C: RSET
    S: +OK maildrop has 1 message (...
    C: QUIT
    S: +OK postoffice POP3 server signing off (1 message left)
  `);
  assert.equal((await lab.po.store.messages.list(mb.id)).length, 1);
});

test('a message expunged over IMAP meanwhile: RETR says -ERR, QUIT still works', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  const { uid } = await lab.deliver('bob@example.test', fixture('pop3-text.eml'));
  const mb = await inbox(lab, 'bob@example.test');
  const c = await Pop3Client.connect(lab.port('pop3s'), { tls: true });
  await c.line();
  await c.login('bob@example.test', 'pw');
  await lab.po.store.messages.remove(mb.id, [uid]);
  assert.equal(await c.cmd('RETR 1'), '-ERR message is no longer available');
  assert.equal(await c.cmd('DELE 1'), '+OK message 1 deleted');
  assert.match(await c.cmd('QUIT'), /^\+OK/);
});
