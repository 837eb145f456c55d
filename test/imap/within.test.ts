// RFC 5032 WITHIN: SEARCH OLDER / YOUNGER by INTERNALDATE, over a real listener with a real client.
import assert from 'node:assert/strict';
import test from 'node:test';
import { startLab } from '../helpers/lab.js';
import { client } from './helpers.js';

test('WITHIN: OLDER and YOUNGER compare INTERNALDATE with now; the interval is at least 1 second', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  const c = await client(lab, { user: 'bob@example.test' });
  assert.ok((await c.cmd('CAPABILITY'))[0].split(' ').includes('WITHIN'));
  const msg = 'Subject: hi\r\n\r\nhello\r\n';
  await c.cmd(`APPEND INBOX "01-Jan-2020 10:00:00 +0000" {${msg.length}+}\r\n${msg}`);
  await c.cmd(`APPEND INBOX {${msg.length}+}\r\n${msg}`);
  await c.cmd('SELECT INBOX');
  assert.deepEqual(await c.cmd('SEARCH YOUNGER 3600'), ['* SEARCH 2', 'TAG OK SEARCH completed']);
  assert.deepEqual(await c.cmd('SEARCH OLDER 3600'), ['* SEARCH 1', 'TAG OK SEARCH completed']);
  assert.deepEqual(await c.cmd('UID SEARCH NOT YOUNGER 3600'), ['* SEARCH 1', 'TAG OK SEARCH completed']);
  assert.deepEqual(await c.cmd('SEARCH OLDER 1000000000'), ['* SEARCH', 'TAG OK SEARCH completed']);
  assert.match((await c.cmd('SEARCH YOUNGER 0'))[0], /^TAG BAD /);
  c.close();
});
