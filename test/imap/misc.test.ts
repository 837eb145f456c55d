import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture, startLab } from '../helpers/lab.js';
import { client } from './helpers.js';

test('CHECK, UNSELECT, IDLE without a mailbox, RENAME INBOX, implied parents after DELETE', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  await lab.deliver('bob@example.test', fixture('plain.eml'));
  const c = await client(lab, { user: 'bob@example.test' });
  assert.deepEqual(await c.cmd('CHECK'), ['TAG BAD CHECK needs a selected mailbox']);
  await c.cmd('SELECT INBOX');
  assert.deepEqual(await c.cmd('CHECK'), ['TAG OK CHECK completed']);
  await c.cmd('STORE 1 +FLAGS.SILENT (\\Deleted)');
  assert.deepEqual(await c.cmd('UNSELECT'), ['TAG OK UNSELECT completed']);
  assert.deepEqual(await c.cmd('STATUS INBOX (MESSAGES DELETED)'), ['* STATUS "INBOX" (MESSAGES 1 DELETED 1)', 'TAG OK STATUS completed'], 'UNSELECT does not expunge');
  c.send('i IDLE\r\n');
  assert.equal(await c.next(), '+ idling');
  c.send('DONE\r\n');
  assert.equal(await c.next(), 'i OK IDLE terminated');
  c.send('j IDLE\r\n');
  assert.equal(await c.next(), '+ idling');
  c.send('NOTDONE\r\n');
  assert.equal(await c.next(), 'j BAD expected DONE');
  assert.deepEqual(await c.cmd('RENAME INBOX Old'), ['TAG OK RENAME completed']);
  assert.deepEqual(await c.cmd('STATUS Old (MESSAGES)'), ['* STATUS "Old" (MESSAGES 1)', 'TAG OK STATUS completed']);
  assert.deepEqual(await c.cmd('STATUS INBOX (MESSAGES)'), ['* STATUS "INBOX" (MESSAGES 0)', 'TAG OK STATUS completed']);
  await c.cmd('CREATE a/b/c');
  assert.deepEqual(await c.cmd('DELETE a'), ['TAG OK DELETE completed']);
  assert.deepEqual(await c.cmd('LIST "" "%"').then((l) => l.filter((x) => x.endsWith('"a"'))), ['* LIST (\\NonExistent \\Noselect \\HasChildren) "/" "a"']);
  assert.deepEqual(await c.cmd('LIST "" "a*"'), ['* LIST (\\HasChildren) "/" "a/b"', '* LIST (\\HasNoChildren) "/" "a/b/c"', 'TAG OK LIST completed']);
});

test('a session whose selected mailbox is deleted by another session is told BYE', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  const a = await client(lab, { user: 'bob@example.test' });
  const b = await client(lab, { user: 'bob@example.test' });
  await a.cmd('CREATE Doomed');
  await b.cmd('SELECT Doomed');
  assert.deepEqual(await a.cmd('DELETE Doomed'), ['TAG OK DELETE completed']);
  b.send('n NOOP\r\n');
  assert.equal(await b.next(), '* BYE the selected mailbox was deleted');
});
