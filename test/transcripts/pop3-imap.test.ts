// POP3 and IMAP transcripts: PASS, AUTH PLAIN, LOGIN (atoms and literals) and AUTHENTICATE PLAIN
// (with and without an initial response) are recorded with the password as ***; message bodies
// in RETR and FETCH as their first lines and a byte count; the sessions link the messages read.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ImapFlow } from 'imapflow';
import { startLab, type Lab } from '../helpers/lab.js';
import { client } from '../imap/helpers.js';
import { Pop3Client } from '../pop3/client.js';
import { assertInOrder, assertNoSecret, ended, endedAll, render } from './util.js';

const USER = 'bob@example.test';
const PASS = 'Pa55-w0rd_with spaces';
const ATOM_PASS = 'AtomPassw0rd';

function bigMessage(subject: string): Buffer {
  const body = Array.from({ length: 300 }, (_, i) => `body line ${i}`).join('\r\n');
  return Buffer.from(`From: alice@example.test\r\nTo: ${USER}\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.test>\r\n\r\n${body}\r\n`);
}

async function labWithMail(t: Parameters<typeof startLab>[0], pass: string): Promise<{ lab: Lab; msgId: string }> {
  const lab = await startLab(t, { users: { [USER]: pass }, env: { POSTOFFICE_TRANSCRIPTS: 'on' } });
  const { msgId } = await lab.deliver(USER, bigMessage('transcript test'));
  return { lab, msgId };
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

test('POP3 USER/PASS over STLS and RETR: PASS is ***, the message is elided, the session links it', async (t) => {
  const { lab, msgId } = await labWithMail(t, PASS);
  const c = await Pop3Client.connect(lab.port('pop3'));
  await c.line();
  assert.match(await c.stls(), /^\+OK/);
  assert.match(await c.login(USER, PASS), /^\+OK/);
  const retr = await c.lines('RETR 1');
  assert.equal(retr.lines.length > 300, true);
  assert.match(await c.cmd('QUIT'), /^\+OK/);
  await c.closedByServer();
  const s = await ended(lab.po.store, (x) => x.protocol === 'pop3');
  const lines = render(s);
  assertInOrder(lines, [
    'S: +OK postoffice POP3 server ready',
    'C: STLS',
    'S: +OK ...',
    'TLS: TLSv1...',
    `C: USER ${USER}`,
    'S: +OK ...',
    'C: PASS ***',
    'S: +OK ...',
    'C: RETR 1',
    'S: +OK ...',
    'S: From: alice@example.test',
    'S: Subject: transcript test',
    'S: ',
    'S: body line 0',
    'note: <...',
    'S: .',
    'C: QUIT',
    'S: +OK ...',
  ]);
  assert.ok(!lines.includes('S: body line 200'));
  assert.equal(s.user, USER);
  assert.match(s.tls ?? '', /^TLSv1/);
  assert.deepEqual(s.msgIds, [msgId]);
  assert.deepEqual((await lab.po.store.transcripts.list({ limit: 5, msgId })).map((x) => x.sid), [s.sid]);
  assertNoSecret(JSON.stringify(s), USER, PASS, 'the POP3 transcript');
});

test('POP3 AUTH PLAIN with and without an initial response on pop3s: the responses are ***', async (t) => {
  const { lab } = await labWithMail(t, PASS);
  const ir = await Pop3Client.connect(lab.port('pop3s'), { tls: true });
  await ir.line();
  assert.match(await ir.cmd(`AUTH PLAIN ${b64(`\0${USER}\0${PASS}`)}`), /^\+OK/);
  await ir.cmd('QUIT');
  await ir.closedByServer();
  const cont = await Pop3Client.connect(lab.port('pop3s'), { tls: true });
  await cont.line();
  assert.match(await cont.cmd('AUTH PLAIN'), /^\+ /);
  assert.match(await cont.cmd(b64(`${USER}\0${USER}\0${PASS}`)), /^\+OK/);
  await cont.cmd('QUIT');
  await cont.closedByServer();
  const all = await endedAll(lab.po.store, 2);
  assert.equal(all.length, 2);
  for (const s of all) {
    assert.match(render(s)[0], /^TLS: TLSv1/, 'implicit TLS comes first');
    assertNoSecret(JSON.stringify(s), USER, PASS, 'a POP3 AUTH transcript');
    assert.equal(s.user, USER);
  }
  const lines = all.flatMap(render);
  assert.ok(lines.includes('C: AUTH PLAIN ***'));
  assertInOrder(lines, ['C: AUTH PLAIN', 'S: + ', 'C: ***', 'S: +OK ...']);
});

test('IMAP LOGIN (atoms, then literals) and FETCH: the password is ***, bodies are elided, msgIds linked', async (t) => {
  const { lab, msgId } = await labWithMail(t, ATOM_PASS);
  const c = await client(lab, { user: USER, pass: ATOM_PASS });
  await c.cmd('SELECT INBOX');
  const f = await c.cmd('FETCH 1 (UID BODY[])');
  assert.ok(f.length > 300);
  await c.cmd('LOGOUT');
  c.close();
  // LOGIN with both arguments as synchronizing literals (RFC 3501 §4.3)
  const d = await client(lab);
  d.send(`L1 LOGIN {${USER.length}}\r\n`);
  assert.match(await d.next(), /^\+ /);
  d.send(`${USER} {${Buffer.byteLength(ATOM_PASS)}}\r\n`);
  assert.match(await d.next(), /^\+ /);
  d.send(`${ATOM_PASS}\r\n`);
  assert.match(await d.next(), /^L1 OK/);
  assert.match((await d.cmd('LOGOUT')).at(-1)!, /^TAG OK/);
  d.close();

  const sessions = await endedAll(lab.po.store, 2);
  assert.equal(sessions.length, 2);
  const [second, first] = sessions; // newest first
  const l1 = render(first);
  assertInOrder(l1, [
    'TLS: TLSv1...',
    'S: * OK [CAPABILITY ...',
    `C: t... LOGIN ${USER} ***`,
    'S: t... OK ...',
    'C: t... SELECT INBOX',
    'C: t... FETCH 1 (UID BODY[])',
    'S: * 1 FETCH (UID 1 BODY[] {...',
    'S: From: alice@example.test',
    'note: <...',
    'S:  FLAGS (...',
    'S: t... OK ...',
  ]);
  assert.ok(!l1.some((l) => l.includes('body line 200')));
  assert.deepEqual(first.msgIds, [msgId]);
  assert.equal(first.user, USER);
  const l2 = render(second);
  assertInOrder(l2, [
    `C: L1 LOGIN {${USER.length}}`,
    'S: + ...',
    `C: ${USER}`,
    'C:  ***',
    'S: + ...',
    'C: ***',
    'S: L1 OK ...',
  ]);
  for (const s of sessions) assertNoSecret(JSON.stringify(s), USER, ATOM_PASS, 'an IMAP LOGIN transcript');
});

test('IMAP AUTHENTICATE PLAIN with imapflow and by hand: every SASL response is ***', async (t) => {
  const { lab } = await labWithMail(t, PASS);
  const flow = new ImapFlow({
    host: '127.0.0.1', port: lab.port('imaps'), secure: true, tls: { rejectUnauthorized: false }, logger: false,
    auth: { user: USER, pass: PASS, loginMethod: 'AUTH=PLAIN' },
  });
  await flow.connect();
  const lock = await flow.getMailboxLock('INBOX');
  const msg = await flow.fetchOne('1', { source: true });
  assert.ok(msg && msg.source && msg.source.length > 1000);
  lock.release();
  await flow.logout();
  // without SASL-IR: the continuation line carries the credentials
  const c = await client(lab, { port: 'imaps' });
  c.send('A1 AUTHENTICATE PLAIN\r\n');
  assert.match(await c.next(), /^\+/);
  c.send(`${b64(`\0${USER}\0${PASS}`)}\r\n`);
  assert.match(await c.next(), /^A1 OK/);
  await c.cmd('LOGOUT');
  c.close();
  const sessions = await endedAll(lab.po.store, 2);
  assert.equal(sessions.length, 2);
  const lines = sessions.flatMap(render);
  assert.ok(lines.some((l) => /^C: \S+ AUTHENTICATE PLAIN( \*\*\*)?$/.test(l)), lines.join('\n'));
  assertInOrder(render(sessions[0]), ['C: A1 AUTHENTICATE PLAIN', 'S: + ...', 'C: ***', 'S: A1 OK ...']);
  for (const s of sessions) {
    assert.equal(s.user, USER);
    assertNoSecret(JSON.stringify(s), USER, PASS, 'an IMAP AUTHENTICATE transcript');
  }
});
