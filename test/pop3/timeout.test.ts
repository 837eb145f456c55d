import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_POP3_OPTIONS, Pop3Server } from '../../src/pop3/index.js';
import { silentLogger } from '../../src/log/log.js';
import { fixture, startLab } from '../helpers/lab.js';
import { Pop3Client } from './client.js';

test('RFC 1939 §3 autologout: 10 minutes by default; an idle session is closed without UPDATE', { timeout: 30_000 }, async (t) => {
  assert.equal(DEFAULT_POP3_OPTIONS.idleTimeoutMs, 10 * 60_000);
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  await lab.deliver('bob@example.test', fixture('pop3-text.eml'));
  const { config, store, auth, tls } = lab.po;
  const pop3 = new Pop3Server({ config, store, auth, tls, log: silentLogger }, { idleTimeoutMs: 1500 });
  const h = await pop3.listen('pop3s', 0, '127.0.0.1');
  t.after(() => h.close());
  const c = await Pop3Client.connect(h.port, { tls: true });
  await c.line();
  assert.match(await c.login('bob@example.test', 'pw'), /^\+OK/);
  assert.equal(await c.cmd('DELE 1'), '+OK message 1 deleted');
  const t0 = Date.now();
  assert.equal(await c.line(), '-ERR autologout: idle for too long');
  await c.closedByServer();
  assert.ok(Date.now() - t0 >= 1200);
  const mb = await store.mailboxes.get((await store.users.get('bob@example.test'))!.id, 'INBOX');
  assert.equal((await store.messages.list(mb!.id)).length, 1, 'nothing deleted');
  // and the lock is free again
  const d = await Pop3Client.connect(h.port, { tls: true });
  await d.line();
  assert.match(await d.login('bob@example.test', 'pw'), /^\+OK/);
  d.close();
});

test('the listeners close with the server, sessions and all', { timeout: 30_000 }, async () => {
  const lab = await startLab(null, { users: { 'bob@example.test': 'pw' } });
  const c = await Pop3Client.connect(lab.port('pop3'));
  await c.line();
  assert.match(await c.login('bob@example.test', 'pw'), /^\+OK/);
  const closing = lab.close();
  await c.closedByServer();
  await closing;
});
