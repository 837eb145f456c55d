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

test('RETR without lines to stuff: the stored bytes as they are, a final CRLF added where missing, pipelined in order', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: BOB });
  const noDots = Buffer.from('Subject: a\r\n\r\nno line here starts with a dot.\r\nnor here .\r\n');
  const noFinalCrlf = Buffer.from('Subject: b\r\n\r\nthe last line has no end');
  const big = Buffer.from('Subject: c\r\n\r\n' + 'x'.repeat(76).concat('\r\n').repeat(3000));
  const firstDot = Buffer.from('Subject: d\r\n\r\n.starts with a dot\r\n');
  for (const m of [noDots, noFinalCrlf, big, firstDot]) await lab.deliver('bob@example.test', m);
  const c = await Pop3Client.connect(lab.port('pop3s'), { tls: true });
  await c.line();
  await c.login('bob@example.test', 'pw');
  // all four RETRs in one packet: the answers come back whole and in order
  c.write('RETR 1\r\nRETR 2\r\nRETR 3\r\nRETR 4\r\n');
  const want = [
    noDots.toString('latin1') + '.\r\n',
    noFinalCrlf.toString('latin1') + '\r\n.\r\n',
    big.toString('latin1') + '.\r\n',
    'Subject: d\r\n\r\n..starts with a dot\r\n.\r\n',
  ];
  for (const [i, m] of [noDots, noFinalCrlf, big, firstDot].entries()) {
    assert.match(await c.line(), new RegExp(`^\\+OK ${m.length} octets$`));
    assert.equal((await c.multi()).toString('latin1'), want[i], `message ${i + 1}`);
  }
  c.close();
});
