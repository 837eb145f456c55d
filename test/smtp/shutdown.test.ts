// SIGTERM: stop accepting, let the SMTP transaction in flight finish, say BYE to IMAP clients,
// exit within 10 s, and keep what was acknowledged.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { SqliteStore } from '../../src/store/index.js';
import { lineReader } from '../helpers/lab.js';
import { freePort, seedDataDir, startServe } from '../helpers/process.js';

test('SIGTERM: the transaction in flight completes, IMAP gets BYE, exit within 10 s', async (t) => {
  const dataDir = await seedDataDir(t, 'term', { 'bob@example.test': 'pw' });
  const ports = { smtp: await freePort(), imap: await freePort() };
  const srv = await startServe(dataDir, { POSTOFFICE_ALLOW_PLAINTEXT_LOOPBACK: 'true' }, ports);
  t.after(() => srv.stop('SIGKILL'));

  const imap = net.connect({ port: ports.imap, host: '127.0.0.1' });
  const ir = lineReader(imap);
  assert.match(await ir.next(), /^\* OK/);
  imap.write('a1 LOGIN bob@example.test pw\r\n');
  for (let l = await ir.next(); !l.startsWith('a1 '); l = await ir.next());
  imap.write('a2 SELECT INBOX\r\n');
  for (let l = await ir.next(); !l.startsWith('a2 '); l = await ir.next());

  const smtp = net.connect({ port: ports.smtp, host: '127.0.0.1' });
  const sr = lineReader(smtp);
  const reply = async () => { for (;;) { const l = await sr.next(); if (l[3] !== '-') return l; } };
  await reply();
  smtp.write('EHLO c\r\n'); await reply();
  smtp.write('MAIL FROM:<a@example.net>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n');
  await reply(); await reply(); assert.match(await reply(), /^354/);
  smtp.write('Subject: in flight\r\n\r\nfirst half\r\n');

  const t0 = Date.now();
  srv.child.kill('SIGTERM');
  assert.match(await ir.next(), /^\* BYE /, 'IMAP clients are told');
  smtp.write('second half\r\n.\r\n');
  assert.match(await reply(), /^250 2\.6\.0 /, 'the transaction in flight is acknowledged');
  smtp.write('QUIT\r\n');
  const code = await srv.stop('SIGTERM');
  assert.equal(code, 0);
  assert.ok(Date.now() - t0 < 10_000, `exited in ${Date.now() - t0} ms`);
  // a new client is refused meanwhile
  await assert.rejects(new Promise((resolve, reject) => { const s = net.connect({ port: ports.smtp, host: '127.0.0.1' }, () => resolve(s)); s.once('error', reject); }));

  const store = new SqliteStore({ dataDir });
  t.after(() => store.close());
  const bob = (await store.users.get('bob@example.test'))!;
  const inbox = (await store.mailboxes.get(bob.id, 'INBOX'))!;
  const [m] = await store.messages.list(inbox.id);
  assert.match((await store.messages.raw(m.blobId)).toString(), /first half\r\nsecond half\r\n$/);
});
