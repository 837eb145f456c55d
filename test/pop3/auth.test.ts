import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startLab, transcript } from '../helpers/lab.js';
import { Pop3Client } from './client.js';

const BOB = { 'bob@example.test': 'pw' };

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
