// RFC 1939 §7 UIDL: a unique-id per message, the same in every session (derived from UIDVALIDITY
// and UID), kept for the messages that stay when others are deleted. Every step is checked, so a
// failed login or a refused UIDL (which would read as an empty list) fails the test.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture, startLab } from '../helpers/lab.js';
import { Pop3Client } from './client.js';

const BOB = { 'bob@example.test': 'pw' };
const PLAIN = fixture('pop3-text.eml');

test('UIDL is the same in every session and after other messages go', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: BOB });
  for (let i = 0; i < 3; i++) await lab.deliver('bob@example.test', PLAIN);
  const uidls = async (count: number) => {
    const c = await Pop3Client.connect(lab.port('pop3s'), { tls: true });
    assert.match(await c.line(), /^\+OK /, 'greeting');
    assert.match(await c.login('bob@example.test', 'pw'), /^\+OK /, 'login');
    const r = await c.lines('UIDL');
    assert.match(r.status, /^\+OK/, 'UIDL');
    assert.equal(r.lines.length, count, `one line per message: ${JSON.stringify(r.lines)}`);
    // §7: "msg unique-id", the unique-id 1 to 70 characters in 0x21 to 0x7E
    r.lines.forEach((l, i) => assert.match(l, new RegExp(`^${i + 1} [\\x21-\\x7e]{1,70}$`), `UIDL line ${l}`));
    const ids = r.lines.map((l) => l.split(' ')[1]);
    assert.equal(new Set(ids).size, count, 'unique within the maildrop');
    // the one-message form agrees with the list
    const one = await c.cmd(`UIDL ${count}`);
    assert.equal(one, `+OK ${count} ${ids[count - 1]}`);
    return { c, ids };
  };
  const a = await uidls(3);
  assert.equal(await a.c.cmd('DELE 1'), '+OK message 1 deleted');
  assert.match(await a.c.cmd('QUIT'), /^\+OK /);
  await a.c.closedByServer();
  const b = await uidls(2);
  assert.deepEqual(b.ids, a.ids.slice(1));
  // and again in a third session, nothing having changed
  assert.match(await b.c.cmd('QUIT'), /^\+OK /);
  await b.c.closedByServer();
  const c = await uidls(2);
  assert.deepEqual(c.ids, b.ids);
  c.c.close();
});
