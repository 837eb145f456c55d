// RFC 5321 §4.5.3.1.8 / §4.5.3.1.10: maxRecipients counts RCPT commands, not unique addresses.
// Before issue 13, 2,000 pipelined "RCPT TO:<bob@...>" of one address all got 250.
import assert from 'node:assert/strict';
import type net from 'node:net';
import { test } from 'node:test';
import tls from 'node:tls';
import { inbox } from '../relay/util.js';
import { lineReader, startLab, type Lab } from '../helpers/lab.js';

const PLAIN = (user: string, pw: string) => Buffer.from(`\0${user}\0${pw}`).toString('base64');

/** Open a session ready for MAIL: port 25 plain, 465 TLS + AUTH, 587 STARTTLS + AUTH. */
async function session(lab: Lab, name: 'smtp' | 'smtps' | 'submission'): Promise<{ sock: net.Socket; reply(): Promise<string> }> {
  let sock = await lab.connect(name);
  let r = lineReader(sock);
  const reply = async () => { for (;;) { const l = await r.next(); if (l[3] !== '-') return l; } };
  assert.match(await reply(), /^220 /);
  sock.write('EHLO client.test\r\n');
  assert.match(await reply(), /^250 /);
  if (name === 'submission') {
    sock.write('STARTTLS\r\n');
    assert.match(await reply(), /^220 /);
    sock.removeAllListeners('data');
    const secure = tls.connect({ socket: sock, rejectUnauthorized: false });
    await new Promise((res) => secure.once('secureConnect', res));
    sock = secure;
    r = lineReader(secure);
    sock.write('EHLO client.test\r\n');
    assert.match(await reply(), /^250 /);
  }
  if (name !== 'smtp') {
    sock.write(`AUTH PLAIN ${PLAIN('alice@example.test', 'alice-pw')}\r\n`);
    assert.match(await reply(), /^235 /);
  }
  return { sock, reply };
}

test('RCPT 101 gets 452 4.5.3: 2,000 pipelined RCPTs of one address on port 25 are 100 x 250 then 1,900 x 452 4.5.3; the message is stored once', { timeout: 60_000 }, async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw', 'alice@example.test': 'alice-pw' } });
  const { sock, reply } = await session(lab, 'smtp');
  // RFC 2920 PIPELINING: the whole batch in one write
  sock.write('MAIL FROM:<someone@remote.test>\r\n' + 'RCPT TO:<bob@example.test>\r\n'.repeat(2000));
  assert.match(await reply(), /^250 /);
  const answers: string[] = [];
  for (let i = 0; i < 2000; i++) answers.push(await reply());
  const ok = answers.filter((l) => l.startsWith('250 '));
  const full = answers.filter((l) => /^452 4\.5\.3 too many recipients/.test(l));
  assert.equal(ok.length, 100, 'RFC 5321 §4.5.3.1.8: the first 100 are accepted');
  assert.equal(full.length, 1900, answers.find((l) => !l.startsWith('250 ') && !l.startsWith('452 ')) ?? '');
  assert.ok(answers.slice(0, 100).every((l) => l.startsWith('250 ')) && answers.slice(100).every((l) => l.startsWith('452 ')), 'the one past the limit, and every later one');
  sock.write('DATA\r\n');
  assert.match(await reply(), /^354 /);
  sock.write('Subject: many times\r\n\r\nhello\r\n.\r\n');
  assert.match(await reply(), /^250 2\.6\.0 /);
  // the next transaction counts from zero again
  sock.write('MAIL FROM:<someone@remote.test>\r\nRCPT TO:<bob@example.test>\r\n');
  assert.match(await reply(), /^250 /);
  assert.match(await reply(), /^250 /);
  sock.write('QUIT\r\n');
  sock.destroy();
  assert.equal((await inbox(lab.po.store, 'bob@example.test')).length, 1, 'one copy for one mailbox');
});

test('RCPT 101 gets 452 4.5.3 on 465 and 587 too (authenticated submission), RSET starts a fresh count', { timeout: 60_000 }, async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw', 'alice@example.test': 'alice-pw' } });
  for (const name of ['smtps', 'submission'] as const) {
    const { sock, reply } = await session(lab, name);
    sock.write('MAIL FROM:<alice@example.test>\r\n' + 'RCPT TO:<bob@example.test>\r\n'.repeat(2000));
    assert.match(await reply(), /^250 /, name);
    const answers: string[] = [];
    for (let i = 0; i < 2000; i++) answers.push(await reply());
    assert.equal(answers.filter((l) => l.startsWith('250 ')).length, 100, name);
    assert.ok(answers.slice(100).every((l) => /^452 4\.5\.3 /.test(l)), `${name}: ${answers[100]}`);
    sock.write('RSET\r\nMAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n');
    assert.match(await reply(), /^250 /);
    assert.match(await reply(), /^250 /);
    assert.match(await reply(), /^250 /, `${name}: a new transaction counts from zero`);
    sock.destroy();
  }
});
