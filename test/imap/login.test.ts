import assert from 'node:assert/strict';
import tls from 'node:tls';
import { test } from 'node:test';
import { lineReader, startLab, transcript } from '../helpers/lab.js';

const PRE_TLS = 'IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE STARTTLS LOGINDISABLED';

test('imap port: LOGINDISABLED until STARTTLS; plaintext pipelined after STARTTLS is discarded', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' }, env: { POSTOFFICE_ALLOW_PLAINTEXT_LOOPBACK: 'false' } });
  const sock = await lab.connect('imap');
  await transcript(sock, `
    S: * OK [CAPABILITY ${PRE_TLS}] postoffice IMAP4rev1 ready
    C: a CAPABILITY
    S: * CAPABILITY ${PRE_TLS}
    S: a OK CAPABILITY completed
    C: b LOGIN bob@example.test pw
    S: b NO [PRIVACYREQUIRED] LOGIN is disabled until STARTTLS
    C: c AUTHENTICATE PLAIN AGJvYkBleGFtcGxlLnRlc3QAcHc=
    S: c NO [PRIVACYREQUIRED] authentication is disabled until STARTTLS
  `);
  sock.removeAllListeners('data');
  // STARTTLS with an injected command behind it in the same packet
  sock.write('d STARTTLS\r\nevil NOOP\r\n');
  const line = await new Promise<string>((resolve) => sock.once('data', (d) => resolve(String(d))));
  assert.equal(line, 'd OK Begin TLS negotiation now\r\n');
  const secure = tls.connect({ socket: sock, rejectUnauthorized: false });
  await new Promise<void>((resolve, reject) => { secure.once('secureConnect', () => resolve()); secure.once('error', reject); });
  await transcript(secure, `
    C: e CAPABILITY
    S: * CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE AUTH=PLAIN
    S: e OK CAPABILITY completed
    C: f LOGIN bob@example.test pw
    S: f OK [CAPABILITY IMAP4rev1 IMAP4rev2 ...
    C: g LOGOUT
    S: * BYE postoffice logging out
    S: g OK LOGOUT completed
  `);
});

test('imaps: AUTHENTICATE PLAIN with SASL-IR and with a continuation; failures are delayed', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  const plain = Buffer.from('\0bob@example.test\0pw').toString('base64');
  const wrong = Buffer.from('\0bob@example.test\0nope').toString('base64');
  await transcript(await lab.connect('imaps'), `
    S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE AUTH=PLAIN] postoffice IMAP4rev1 ready
    C: a AUTHENTICATE PLAIN ${plain}
    S: a OK [CAPABILITY IMAP4rev1 IMAP4rev2 ...
  `);
  const sock = await lab.connect('imaps');
  const started = Date.now();
  await transcript(sock, `
    S: * OK ...
    C: a AUTHENTICATE PLAIN
    S: + ...
    C: ${wrong}
    S: a NO [AUTHENTICATIONFAILED] invalid credentials
    C: b AUTHENTICATE PLAIN
    S: + ...
    C: *
    S: b BAD authentication cancelled
    C: c LOGIN bob@example.test pw
    S: c OK ...
  `);
  assert.ok(Date.now() - started >= 200, 'a failed login is answered only after the penalty delay');
});

test('plaintext LOGIN on loopback when the config allows it', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' }, env: { POSTOFFICE_ALLOW_PLAINTEXT_LOOPBACK: 'true' } });
  await transcript(await lab.connect('imap'), `
    S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE STARTTLS AUTH=PLAIN] postoffice IMAP4rev1 ready
    C: a LOGIN bob@example.test pw
    S: a OK ...
    C: b SELECT INBOX
    S: * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)
    S: * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] flags permitted
    S: * 0 EXISTS
    S: * 0 RECENT
    S: * OK [UIDVALIDITY ...
    S: * OK [UIDNEXT 1] predicted next UID
    S: * OK [HIGHESTMODSEQ ...
    S: b OK [READ-WRITE] SELECT completed
  `);
});

test('three failed logins end the session with BYE', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  const sock = await lab.connect('imaps');
  const r = lineReader(sock, 20_000);
  await r.next();
  for (const tag of ['a', 'b', 'c']) {
    sock.write(`${tag} LOGIN bob@example.test wrong\r\n`);
    assert.equal(await r.next(), `${tag} NO [AUTHENTICATIONFAILED] invalid credentials`);
  }
  assert.equal(await r.next(), '* BYE too many failed logins');
});
