import assert from 'node:assert/strict';
import { test } from 'node:test';
import tls from 'node:tls';
import { fixture, startLab } from '../helpers/lab.js';
import { Pop3Client } from './client.js';

const BOB = { 'bob@example.test': 'pw' };
const NO_PLAINTEXT = { POSTOFFICE_ALLOW_PLAINTEXT_LOOPBACK: 'false' };

test('STLS: a Node client upgrades, logs in and retrieves', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: BOB, env: NO_PLAINTEXT });
  await lab.deliver('bob@example.test', fixture('pop3-html.eml'));
  const c = await Pop3Client.connect(lab.port('pop3'));
  assert.match(await c.line(), /^\+OK/);
  // before TLS: no USER, no SASL, and both refused (RFC 2595 §2.2)
  const before = await c.lines('CAPA');
  assert.ok(before.lines.includes('STLS'));
  assert.ok(!before.lines.includes('USER') && !before.lines.some((l) => l.startsWith('SASL')), before.lines.join(','));
  assert.equal(await c.cmd('USER bob@example.test'), '-ERR [AUTH] plaintext authentication disallowed on non-secure connections; use STLS');
  assert.equal(await c.cmd('PASS pw'), '-ERR [AUTH] plaintext authentication disallowed on non-secure connections; use STLS');
  assert.equal(await c.cmd(`AUTH PLAIN ${Buffer.from('\0bob@example.test\0pw').toString('base64')}`), '-ERR [AUTH] plaintext authentication disallowed on non-secure connections; use STLS');
  assert.equal(await c.stls(), '+OK Begin TLS negotiation');
  assert.ok(c.sock instanceof tls.TLSSocket && c.sock.encrypted);
  const after = await c.lines('CAPA');
  assert.ok(!after.lines.includes('STLS'), 'STLS is not offered twice');
  assert.ok(after.lines.includes('USER') && after.lines.includes('SASL PLAIN'));
  assert.equal(await c.cmd('STLS'), '-ERR already using TLS');
  assert.match(await c.login('bob@example.test', 'pw'), /^\+OK bob@example.test has 1 message/);
  const r = await c.lines('RETR 1');
  assert.equal(r.lines.join('\r\n') + '\r\n', fixture('pop3-html.eml').toString('latin1'));
  assert.match(await c.cmd('QUIT'), /^\+OK/);
});

test('STLS discards plaintext pipelined after it (CVE-2011-0411)', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: BOB });
  const c = await Pop3Client.connect(lab.port('pop3'));
  await c.line();
  // an attacker appends commands after STLS; they must not run inside the TLS session
  c.write('STLS\r\nUSER bob@example.test\r\nCAPA\r\n');
  assert.equal(await c.line(), '+OK Begin TLS negotiation');
  const plain = c.sock;
  const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const s = tls.connect({ socket: plain, rejectUnauthorized: false }, () => resolve(s));
    s.once('error', reject);
  });
  const d = new Pop3Client(secure);
  // had "USER" been kept, this PASS would log in; had "CAPA" been kept, its list would come first
  assert.equal(await d.cmd('PASS pw'), '-ERR send USER first');
  assert.equal(await d.cmd('NOOP'), '-ERR NOOP not valid in the AUTHORIZATION state');
  d.close();
});

test('STLS is not offered on POP3S; plaintext USER refused from loopback when the config says so', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: BOB, env: NO_PLAINTEXT });
  const s = await Pop3Client.connect(lab.port('pop3s'), { tls: true });
  await s.line();
  assert.equal(await s.cmd('STLS'), '-ERR already using TLS');
  assert.match(await s.login('bob@example.test', 'pw'), /^\+OK/);
  s.close();
  const p = await Pop3Client.connect(lab.port('pop3'));
  await p.line();
  assert.match(await p.cmd('USER bob@example.test'), /^-ERR \[AUTH\]/);
  p.close();
});

test('a TLS handshake that never comes is dropped, the server keeps serving', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: BOB });
  const c = await Pop3Client.connect(lab.port('pop3'));
  await c.line();
  assert.equal(await c.cmd('STLS'), '+OK Begin TLS negotiation');
  c.write('this is not a TLS ClientHello\r\n');
  await c.closedByServer();
  const d = await Pop3Client.connect(lab.port('pop3'));
  assert.match(await d.line(), /^\+OK/);
  d.close();
});
