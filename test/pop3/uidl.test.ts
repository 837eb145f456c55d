import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture, startLab } from '../helpers/lab.js';
import { Pop3Client } from './client.js';

const BOB = { 'bob@example.test': 'pw' };
const PLAIN = fixture('pop3-text.eml');

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
