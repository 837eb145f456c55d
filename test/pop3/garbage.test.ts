import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { fixture, startLab } from '../helpers/lab.js';
import { Pop3Client } from './client.js';

test('random bytes, before and after login, never crash the server', { timeout: 60_000 }, async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  await lab.deliver('bob@example.test', fixture('pop3-text.eml'));
  for (let round = 0; round < 20; round++) {
    const tlsOn = round % 2 === 0;
    const c = await Pop3Client.connect(lab.port(tlsOn ? 'pop3s' : 'pop3'), { tls: tlsOn });
    await c.line();
    if (round % 4 < 2) await c.login('bob@example.test', 'pw');
    const verbs = ['RETR ', 'TOP ', 'LIST ', 'DELE ', 'UIDL ', 'AUTH PLAIN ', 'STLS', 'USER ', ''];
    for (let i = 0; i < 30; i++) {
      const v = verbs[Math.floor(Math.random() * verbs.length)];
      c.write(Buffer.concat([Buffer.from(v), randomBytes(Math.floor(Math.random() * 300))]).toString('latin1') + (i % 3 ? '\r\n' : '\n'));
    }
    c.close();
  }
  // still serving, and the maildrop is intact (no QUIT was ever parsed in UPDATE-able form)
  const d = await Pop3Client.connect(lab.port('pop3s'), { tls: true });
  assert.match(await d.line(), /^\+OK/);
  await new Promise((r) => setTimeout(r, 200));
  assert.match(await d.login('bob@example.test', 'pw'), /^\+OK bob@example.test has 1 message/);
  d.close();
});
