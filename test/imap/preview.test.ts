// RFC 8970 PREVIEW over a real listener: text/plain (quoted text and signature left out), HTML
// without markup, quoted-printable UTF-8 as a literal, an attachment-only message's empty preview,
// PREVIEW (LAZY), and no \Seen.
import assert from 'node:assert/strict';
import test from 'node:test';
import { startLab } from '../helpers/lab.js';
import { client } from './helpers.js';

const crlf = (s: string) => Buffer.from(s.replace(/\n/g, '\r\n'));

test('PREVIEW: plain, HTML, quoted-printable UTF-8, attachment only; LAZY; \\Seen untouched', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  const to = 'bob@example.test';
  await lab.deliver(to, crlf('Subject: a\n\nHello Bob,\n\n> what you wrote\nsee   you\n-- \nAlice\n'));
  await lab.deliver(to, crlf('Subject: b\nContent-Type: multipart/alternative; boundary=x\n\n--x\nContent-Type: text/html\n\n<html><head><style>p{}</style></head><body><p>Tom &amp; Jerry</p><script>x()</script></body></html>\n--x--\n'));
  await lab.deliver(to, crlf('Subject: c\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\nGr=C3=BC=C3=9Fe aus K=C3=B6ln\n'));
  await lab.deliver(to, crlf('Subject: d\nContent-Type: multipart/mixed; boundary=y\n\n--y\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=a.pdf\n\nAAAA\n--y--\n'));
  await lab.deliver(to, crlf(`Subject: e\n\n${'word '.repeat(100)}\n`));
  const c = await client(lab, { user: to });
  assert.ok((await c.cmd('CAPABILITY'))[0].split(' ').includes('PREVIEW'));
  await c.cmd('SELECT INBOX');
  assert.deepEqual(await c.cmd('FETCH 1:2 (PREVIEW)'), [
    '* 1 FETCH (PREVIEW "Hello Bob, see you")', '* 2 FETCH (PREVIEW "Tom & Jerry")', 'TAG OK FETCH completed',
  ]);
  const qp = await c.cmd('FETCH 3 PREVIEW (LAZY)');
  assert.equal(qp[0], `* 3 FETCH (PREVIEW {${Buffer.byteLength('Grüße aus Köln')}}`);
  assert.equal(Buffer.from(qp[1], 'latin1').toString('utf8'), 'Grüße aus Köln)'); // the test client reads bytes as latin1
  assert.deepEqual(await c.cmd('FETCH 4 (PREVIEW (LAZY) FLAGS)'), ['* 4 FETCH (PREVIEW "" FLAGS (\\Recent))', 'TAG OK FETCH completed']);
  const long = /PREVIEW "([^"]*)"/.exec((await c.cmd('FETCH 5 PREVIEW'))[0])![1];
  assert.equal(long.length, 200);
  assert.deepEqual(await c.cmd('FETCH 1:5 (FLAGS)').then((r) => r.filter((l) => l.includes('\\Seen'))), []);
  assert.match((await c.cmd('FETCH 1 PREVIEW (EAGER)'))[0], /^TAG BAD/);
  c.close();
});
