import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture, startLab } from '../helpers/lab.js';
import { Pop3Client } from './client.js';

const BOB = { 'bob@example.test': 'pw' };
const PLAIN = fixture('pop3-text.eml');

test('RETR sends the stored bytes, byte-stuffed, sets \\Seen and records the journey step', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: BOB });
  const { msgId, uid } = await lab.deliver('bob@example.test', PLAIN);
  const c = await Pop3Client.connect(lab.port('pop3s'), { tls: true });
  await c.line();
  assert.match(await c.login('bob@example.test', 'pw'), /^\+OK/);
  assert.equal(await c.cmd('RETR 1'), `+OK ${PLAIN.length} octets`);
  const body = await c.multi();
  // lines starting with "." come with one more "."
  const want = Buffer.concat([Buffer.from(PLAIN.toString('latin1').replace(/\r\n\./g, '\r\n..'), 'latin1'), Buffer.from('.\r\n')]);
  assert.equal(body.toString('latin1'), want.toString('latin1'));
  assert.match(await c.cmd('QUIT'), /^\+OK/);
  await c.closedByServer();
  const mb = await lab.po.store.mailboxes.get((await lab.po.store.users.get('bob@example.test'))!.id, 'INBOX');
  const m = await lab.po.store.messages.get(mb!.id, uid);
  assert.ok(m!.flags.includes('\\Seen'));
  const trace = await lab.po.store.journey.trace(msgId);
  const step = trace.find((r) => r.step === 'retrieved');
  assert.ok(step, 'retrieved step recorded');
  assert.equal(step.agent, 'MUA access');
  assert.deepEqual({ ...step.details, client: 'x', session: 'x' }, { user: 'bob@example.test', proto: 'pop3', session: 'x', client: 'x', uid });
});

test('a message stored with bare LF: LIST counts the CRLF RETR sends', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: BOB });
  const raw = fixture('pop3-barelf.eml');
  await lab.deliver('bob@example.test', raw);
  const crlf = Buffer.from(raw.toString('latin1').replace(/\n/g, '\r\n'), 'latin1');
  const c = await Pop3Client.connect(lab.port('pop3s'), { tls: true });
  await c.line();
  await c.login('bob@example.test', 'pw');
  assert.equal(await c.cmd('LIST 1'), `+OK 1 ${crlf.length}`);
  assert.equal(await c.cmd('RETR 1'), `+OK ${crlf.length} octets`);
  const body = await c.multi();
  assert.equal(body.toString('latin1'), crlf.toString('latin1').replace(/\r\n\./g, '\r\n..') + '.\r\n');
  c.close();
});
