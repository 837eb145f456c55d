import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture, startLab, transcript } from '../helpers/lab.js';
import { Pop3Client } from './client.js';

const BOB = { 'bob@example.test': 'pw' };
const PLAIN = fixture('pop3-text.eml');
const HTML = fixture('pop3-html.eml');

test('RFC 1939 transaction: STAT LIST UIDL TOP RETR NOOP RSET, wrong state and unknown commands', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: BOB });
  await lab.deliver('bob@example.test', PLAIN);
  await lab.deliver('bob@example.test', HTML);
  const mb = await lab.po.store.mailboxes.get((await lab.po.store.users.get('bob@example.test'))!.id, 'INBOX');
  const v = mb!.uidValidity;
  const total = PLAIN.length + HTML.length;
  await transcript(await lab.connect('pop3s'), `
    S: +OK ...
    C: STAT
    S: -ERR STAT not valid in the AUTHORIZATION state
    C: XYZZY
    S: -ERR unknown command
    C: APOP bob@example.test c4c9334bac560ecc979e58001b3e22fb
    S: -ERR unknown command
    C: PASS pw
    S: -ERR send USER first
    C: USER bob@example.test
    S: +OK send PASS
    C: PASS pw
    S: +OK bob@example.test has 2 messages (${total} octets)
    C: USER bob@example.test
    S: -ERR USER not valid in the TRANSACTION state
    C: STAT
    S: +OK 2 ${total}
    C: LIST
    S: +OK 2 messages (${total} octets)
    S: 1 ${PLAIN.length}
    S: 2 ${HTML.length}
    S: .
    C: LIST 2
    S: +OK 2 ${HTML.length}
    C: LIST 3
    S: -ERR no such message
    C: LIST 0
    S: -ERR no such message
    C: UIDL
    S: +OK unique-id listing follows
    S: 1 ${v}.1
    S: 2 ${v}.2
    S: .
    C: UIDL 1
    S: +OK 1 ${v}.1
    C: TOP 1 1
    S: +OK top of message follows
    S: From: Alice Example <alice@example.test>
    S: To: Bob Example <bob@example.test>
    S: Subject: Lunch on Friday?
    S: Date: Mon, 23 Nov 2026 10:00:00 +0000
    S: Message-ID: <pop3-text-1@example.test>
    S: MIME-Version: 1.0
    S: Content-Type: text/plain; charset=utf-8
    S: Content-Transfer-Encoding: 8bit
    S:
    S: Hi Bob,
    S: .
    C: NOOP
    S: +OK
    C: DELE 1
    S: +OK message 1 deleted
    C: STAT
    S: +OK 1 ${HTML.length}
    C: LIST 1
    S: -ERR no such message
    C: RETR 1
    S: -ERR no such message
    C: UIDL
    S: +OK unique-id listing follows
    S: 2 ${v}.2
    S: .
    C: RSET
    S: +OK maildrop has 2 messages (${total} octets)
    C: RETR 9
    S: -ERR no such message
    C: RETR 1 2
    S: -ERR RETR needs a message number
    C: STLS
    S: -ERR STLS not valid in the TRANSACTION state
    C: QUIT
    S: +OK postoffice POP3 server signing off (2 messages left)
  `);
});

test('pipelined commands get every answer, in order', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: BOB });
  await lab.deliver('bob@example.test', PLAIN);
  await lab.deliver('bob@example.test', HTML);
  const c = await Pop3Client.connect(lab.port('pop3s'), { tls: true });
  await c.line();
  const cmds = ['USER bob@example.test', 'PASS pw', 'STAT'];
  for (let i = 0; i < 200; i++) cmds.push(i % 2 ? 'RETR 2' : `LIST ${1 + (i % 3)}`, 'NOOP', 'BOGUS');
  cmds.push('QUIT');
  c.write(cmds.map((x) => x + '\r\n').join(''));
  assert.match(await c.line(), /^\+OK send PASS/);
  assert.match(await c.line(), /^\+OK bob@example.test has 2 messages/);
  assert.equal(await c.line(), `+OK 2 ${PLAIN.length + HTML.length}`);
  for (let i = 0; i < 200; i++) {
    if (i % 2) {
      assert.equal(await c.line(), `+OK ${HTML.length} octets`);
      await c.multi();
    } else {
      const n = 1 + (i % 3);
      assert.equal(await c.line(), n === 1 ? `+OK 1 ${PLAIN.length}` : n === 2 ? `+OK 2 ${HTML.length}` : '-ERR no such message');
    }
    assert.equal(await c.line(), '+OK');
    assert.equal(await c.line(), '-ERR unknown command');
  }
  assert.match(await c.line(), /^\+OK .*signing off/);
  await c.closedByServer();
});

test('bad input: overlong line, too many commands before login', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: BOB });
  const c = await Pop3Client.connect(lab.port('pop3s'), { tls: true });
  await c.line();
  c.write('USER ' + 'x'.repeat(100_000) + '\r\n');
  assert.equal(await c.line(), '-ERR line too long');
  c.write('\0\xff\r\n');
  assert.equal(await c.line(), '-ERR unknown command');
  for (let i = 0; i < 17; i++) assert.match(await c.cmd('CAPA'), /^\+OK/), await c.multi();
  assert.equal(await c.cmd('NOOP'), '-ERR NOOP not valid in the AUTHORIZATION state');
  assert.equal(await c.cmd('NOOP'), '-ERR too many commands without logging in');
  await c.closedByServer();
});

test('a flood of pipelined commands before login: 20 answers, then -ERR and close, nothing more', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: BOB });
  const c = await Pop3Client.connect(lab.port('pop3s'), { tls: true });
  await c.line();
  c.write('NOOP\r\n'.repeat(40) + 'USER bob@example.test\r\nPASS pw\r\n');
  for (let i = 0; i < 20; i++) assert.equal(await c.line(), '-ERR NOOP not valid in the AUTHORIZATION state');
  assert.equal(await c.line(), '-ERR too many commands without logging in');
  await c.closedByServer();
  await assert.rejects(c.line(), /connection closed/);
});
