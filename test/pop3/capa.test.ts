import { test } from 'node:test';
import { startLab, transcript } from '../helpers/lab.js';

const BOB = { 'bob@example.test': 'pw' };

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

test('CAPA after login: no USER, SASL or STLS any more', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: BOB });
  await transcript(await lab.connect('pop3'), `
    S: +OK ...
    C: USER bob@example.test
    S: +OK send PASS
    C: PASS pw
    S: +OK ...
    C: CAPA
    S: +OK Capability list follows
    S: TOP
    S: UIDL
    S: RESP-CODES
    S: AUTH-RESP-CODE
    S: PIPELINING
    S: EXPIRE NEVER
    S: IMPLEMENTATION postoffice
    S: .
    C: QUIT
    S: +OK ...
  `);
});
