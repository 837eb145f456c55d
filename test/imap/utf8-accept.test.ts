// RFC 6855 UTF8=ACCEPT over a real listener: after ENABLE, mailbox names are UTF-8 both ways and
// APPEND takes the UTF8 (literal8) data extension; before it, names are modified UTF-7 and UTF8 is BAD.
import assert from 'node:assert/strict';
import test from 'node:test';
import { startLab } from '../helpers/lab.js';
import { client } from './helpers.js';

const utf8 = (line: string) => Buffer.from(line, 'latin1').toString('utf8'); // the test client reads latin1

test('UTF8=ACCEPT: ENABLE, UTF-8 mailbox names, APPEND UTF8 (~{n})', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  const old = await client(lab, { user: 'bob@example.test' });
  assert.ok((await old.cmd('CAPABILITY'))[0].split(' ').includes('UTF8=ACCEPT'));
  const msg = 'Subject: Grüße\r\n\r\nhallo\r\n';
  const len = Buffer.byteLength(msg);
  assert.match((await old.cmd(`APPEND INBOX UTF8 (~{${len}+}\r\n${msg})`))[0], /^TAG BAD .*ENABLE UTF8=ACCEPT/);

  const c = await client(lab, { user: 'bob@example.test' });
  assert.deepEqual(await c.cmd('ENABLE UTF8=ACCEPT'), ['* ENABLED UTF8=ACCEPT', 'TAG OK ENABLE completed']);
  assert.deepEqual(await c.cmd('CREATE "Entwürfe"'), ['TAG OK CREATE completed']);
  // the name in UTF-8 (here as a literal; RFC 6855 §3 would also allow a quoted string)
  assert.deepEqual((await c.cmd('LIST "" "Entw*"')).map(utf8), ['* LIST (\\HasNoChildren) "/" {9}', 'Entwürfe', 'TAG OK LIST completed']);
  // a session without UTF8=ACCEPT sees the same mailbox in modified UTF-7 (RFC 3501 §5.1.3)
  assert.deepEqual(await old.cmd('LIST "" "Entw*"'), ['* LIST (\\HasNoChildren) "/" "Entw&APw-rfe"', 'TAG OK LIST completed']);
  const ok = await c.cmd(`APPEND "Entwürfe" UTF8 (~{${len}+}\r\n${msg})`);
  assert.match(ok[ok.length - 1], /^TAG OK \[APPENDUID \d+ 1\]/);
  assert.match((await c.cmd(`APPEND INBOX UTF8 ({${len}+}\r\n${msg})`))[0], /^TAG BAD .*literal8/);
  await c.cmd('SELECT "Entwürfe"');
  const f = (await c.cmd('FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]')).map(utf8);
  assert.equal(f[1], 'Subject: Grüße');
  old.close();
  c.close();
});
