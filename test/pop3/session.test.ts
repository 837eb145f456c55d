import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture, startLab, transcript } from '../helpers/lab.js';
import { Pop3Client } from './client.js';

const BOB = { 'bob@example.test': 'pw' };
const PLAIN = fixture('pop3-text.eml');
const HTML = fixture('pop3-html.eml');

test('greeting, CAPA on POP3S and on the STLS port (loopback allowed)', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: BOB });
  await transcript(await lab.connect('pop3s'), `
    S: +OK postoffice POP3 server ready
    C: CAPA
    S: +OK Capability list follows
    S: TOP
    S: UIDL
    S: USER
    S: SASL PLAIN
    S: RESP-CODES
    S: AUTH-RESP-CODE
    S: PIPELINING
    S: EXPIRE NEVER
    S: IMPLEMENTATION postoffice
    S: .
    C: QUIT
    S: +OK ...
  `);
  await transcript(await lab.connect('pop3'), `
    S: +OK ...
    C: CAPA
    S: +OK Capability list follows
    S: TOP
    S: UIDL
    S: USER
    S: SASL PLAIN
    S: RESP-CODES
    S: AUTH-RESP-CODE
    S: PIPELINING
    S: EXPIRE NEVER
    S: STLS
    S: IMPLEMENTATION postoffice
    S: .
  `);
});

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

test('RETR sends the stored bytes, byte-stuffed, sets \\Seen and records the journey step', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: BOB });
  const { msgId, uid } = await lab.deliver('bob@example.test', PLAIN);
  const c = await Pop3Client.connect(lab.port('pop3s'), { tls: true });
  await c.line();
  assert.match(await c.login('bob@example.test', 'pw'), /^\+OK/);
  assert.equal(await c.cmd('RETR 1'), `+OK ${PLAIN.length} octets`);
  const body = await c.multi();
  // lines starting with "." come with one more "."
  const want = Buffer.concat([Buffer.from(PLAIN.toString('latin1').replace(/\r\n\./g, '\r\n..'), 'latin1'), Buffer.from('.\r\n')]);
  assert.equal(body.toString('latin1'), want.toString('latin1'));
  assert.match(await c.cmd('QUIT'), /^\+OK/);
  await c.closedByServer();
  const mb = await lab.po.store.mailboxes.get((await lab.po.store.users.get('bob@example.test'))!.id, 'INBOX');
  const m = await lab.po.store.messages.get(mb!.id, uid);
  assert.ok(m!.flags.includes('\\Seen'));
  const trace = await lab.po.store.journey.trace(msgId);
  const step = trace.find((r) => r.step === 'retrieved');
  assert.ok(step, 'retrieved step recorded');
  assert.equal(step.agent, 'MUA access');
  assert.deepEqual({ ...step.details, client: 'x' }, { user: 'bob@example.test', proto: 'pop3', client: 'x', uid });
});

test('a message stored with bare LF: LIST counts the CRLF RETR sends', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: BOB });
  const raw = fixture('pop3-barelf.eml');
  await lab.deliver('bob@example.test', raw);
  const crlf = Buffer.from(raw.toString('latin1').replace(/\n/g, '\r\n'), 'latin1');
  const c = await Pop3Client.connect(lab.port('pop3s'), { tls: true });
  await c.line();
  await c.login('bob@example.test', 'pw');
  assert.equal(await c.cmd('LIST 1'), `+OK 1 ${crlf.length}`);
  assert.equal(await c.cmd('RETR 1'), `+OK ${crlf.length} octets`);
  const body = await c.multi();
  assert.equal(body.toString('latin1'), crlf.toString('latin1').replace(/\r\n\./g, '\r\n..') + '.\r\n');
  c.close();
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

test('failed logins: delayed -ERR [AUTH], the third closes the connection', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: BOB });
  const c = await Pop3Client.connect(lab.port('pop3s'), { tls: true });
  await c.line();
  const t0 = Date.now();
  assert.equal(await c.login('bob@example.test', 'wrong'), '-ERR [AUTH] invalid login');
  assert.ok(Date.now() - t0 >= 200, 'the failure is delayed');
  assert.equal(await c.login('nobody@example.test', 'pw'), '-ERR [AUTH] invalid login');
  assert.equal(await c.login('bob@example.test', 'wrong again'), '-ERR [AUTH] invalid login');
  await c.closedByServer();
});

test('AUTH PLAIN (RFC 5034): initial response, continuation, cancel, bad base64', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: BOB });
  const good = Buffer.from('\0bob@example.test\0pw').toString('base64');
  await transcript(await lab.connect('pop3s'), `
    S: +OK ...
    C: AUTH
    S: +OK methods supported
    S: PLAIN
    S: .
    C: AUTH CRAM-MD5
    S: -ERR unsupported authentication mechanism
    C: AUTH PLAIN
    S: +...
    C: *
    S: -ERR authentication cancelled
    C: AUTH PLAIN
    S: +...
    C: !!notbase64
    S: -ERR invalid base64 in SASL response
    C: AUTH PLAIN ${Buffer.from('admin@example.test\0bob@example.test\0pw').toString('base64')}
    S: -ERR [AUTH] authorization identity must be the login
    C: AUTH PLAIN
    S: +...
    C: ${good}
    S: +OK bob@example.test has 0 messages (0 octets)
    C: QUIT
    S: +OK ...
  `);
  await transcript(await lab.connect('pop3s'), `
    S: +OK ...
    C: AUTH PLAIN ${good}
    S: +OK bob@example.test has 0 messages (0 octets)
    C: AUTH PLAIN ${good}
    S: -ERR AUTH not valid in the TRANSACTION state
  `);
});

test('UIDL is the same in every session and after other messages go', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: BOB });
  for (let i = 0; i < 3; i++) await lab.deliver('bob@example.test', PLAIN);
  const uidls = async () => {
    const c = await Pop3Client.connect(lab.port('pop3s'), { tls: true });
    await c.line();
    await c.login('bob@example.test', 'pw');
    const r = await c.lines('UIDL');
    return { c, ids: r.lines.map((l) => l.split(' ')[1]) };
  };
  const a = await uidls();
  await a.c.cmd('DELE 1');
  await a.c.cmd('QUIT');
  await a.c.closedByServer();
  const b = await uidls();
  assert.deepEqual(b.ids, a.ids.slice(1));
  b.c.close();
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

test('SASL response line too long: -ERR, and the exchange is over', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: BOB });
  const c = await Pop3Client.connect(lab.port('pop3s'), { tls: true });
  await c.line();
  assert.match(await c.cmd('AUTH PLAIN'), /^\+ /);
  c.write('A'.repeat(20_000) + '\r\n');
  assert.equal(await c.line(), '-ERR line too long');
  assert.equal(await c.cmd('CAPA'), '+OK Capability list follows');
  c.close();
});
