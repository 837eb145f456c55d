import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture, startLab } from '../helpers/lab.js';
import { Pop3Client } from './client.js';

test('one POP3 session per maildrop: the second gets -ERR [IN-USE] until the first ends', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw', 'carol@example.test': 'pw2' } });
  await lab.deliver('bob@example.test', fixture('pop3-text.eml'));
  const a = await Pop3Client.connect(lab.port('pop3s'), { tls: true });
  const b = await Pop3Client.connect(lab.port('pop3'));
  await a.line();
  await b.line();
  // both at once: exactly one wins
  const [ra, rb] = await Promise.all([a.login('bob@example.test', 'pw'), b.login('bob@example.test', 'pw')]);
  const wins = [ra, rb].filter((r) => r.startsWith('+OK'));
  const loses = [ra, rb].filter((r) => r.startsWith('-ERR'));
  assert.equal(wins.length, 1, `${ra} / ${rb}`);
  assert.equal(loses[0], '-ERR [IN-USE] maildrop already locked by another POP3 session');
  const [winner, loser] = ra.startsWith('+OK') ? [a, b] : [b, a];
  // another user's maildrop is not affected
  const c = await Pop3Client.connect(lab.port('pop3s'), { tls: true });
  await c.line();
  assert.match(await c.login('carol@example.test', 'pw2'), /^\+OK/);
  // the loser stays in AUTHORIZATION and may try again once the winner quits
  assert.match(await winner.cmd('QUIT'), /^\+OK/);
  await winner.closedByServer();
  assert.match(await loser.login('bob@example.test', 'pw'), /^\+OK bob@example.test has 1 message/);
  // a dropped connection releases the lock too
  loser.close();
  await new Promise((r) => setTimeout(r, 100));
  const d = await Pop3Client.connect(lab.port('pop3s'), { tls: true });
  await d.line();
  assert.match(await d.login('bob@example.test', 'pw'), /^\+OK/);
  d.close();
  c.close();
});
