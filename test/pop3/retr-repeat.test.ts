// RETR of the same messages again and again (the body cache keeps a message's bytes from its
// second read on): every answer carries the octet count LIST gives and the same byte-stuffed bytes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dotStuff, toCrlf } from '../../src/mail/dot-stuffing.js';
import { startLab } from '../helpers/lab.js';
import { Pop3Client } from './client.js';

/** Lines starting with "." just before, on and after the 64 KiB chunk boundaries the stuffer works in. */
function dottedAcrossChunks(): Buffer {
  let s = 'Subject: dots at the chunk boundaries\r\n\r\n';
  while (s.length < 200 * 1024) {
    const toBoundary = 64 * 1024 - (s.length % (64 * 1024));
    if (toBoundary > 3) s += 'x'.repeat(toBoundary - 3) + '\r\n';
    s += '.dot\r\n..two\r\n';
  }
  return Buffer.from(s + '.\r\nlast\r\n', 'latin1');
}

test('RETR in three sessions, twice each: the same octet count and byte-stuffed bytes every time', { timeout: 60_000 }, async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  const msgs = [
    dottedAcrossChunks(),
    Buffer.from('Subject: plain\r\n\r\nno dot starts a line here\r\n'),
    Buffer.from('Subject: unended\r\n\r\n.first\r\nthe last line has no end'),
  ];
  for (const m of msgs) await lab.deliver('bob@example.test', m);
  const want = msgs.map((m) => {
    const crlf = toCrlf(m);
    const body = dotStuff(crlf);
    const ended = crlf.length >= 2 && crlf[crlf.length - 2] === 0x0d && crlf[crlf.length - 1] === 0x0a;
    return { octets: crlf.length, wire: Buffer.concat([body, Buffer.from(ended ? '.\r\n' : '\r\n.\r\n')]) };
  });
  for (let session = 0; session < 3; session++) {
    const c = await Pop3Client.connect(lab.port('pop3'));
    await c.line();
    assert.match(await c.login('bob@example.test', 'pw'), /^\+OK/);
    const total = want.reduce((n, w) => n + w.octets, 0);
    assert.equal(await c.cmd('STAT'), `+OK 3 ${total}`);
    // pipelined: six RETRs in one write, answered in order
    c.write('RETR 1\r\nRETR 2\r\nRETR 3\r\nRETR 1\r\nRETR 2\r\nRETR 3\r\n');
    for (let k = 0; k < 6; k++) {
      const w = want[k % 3];
      assert.equal(await c.line(), `+OK ${w.octets} octets`, `session ${session + 1}, answer ${k + 1}`);
      const got = await c.multi();
      assert.equal(got.length, w.wire.length, `session ${session + 1}, answer ${k + 1}: length`);
      assert.ok(got.equals(w.wire), `session ${session + 1}, answer ${k + 1}: bytes`);
    }
    assert.match(await c.cmd('QUIT'), /^\+OK/);
    await c.closedByServer();
  }
});
