// RFC 4315 §2.1 UID EXPUNGE: of the UIDs given, only messages flagged \Deleted are removed; a
// given message without \Deleted stays, and a \Deleted one outside the set stays too. RENAME
// INBOX (RFC 3501 §6.3.5) still moves every message, flagged or not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture, startLab } from '../helpers/lab.js';
import { client } from './helpers.js';

test('UID EXPUNGE removes only the \\Deleted messages of its set; RENAME INBOX moves them all', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  for (let i = 0; i < 4; i++) await lab.deliver('bob@example.test', fixture('plain.eml'));
  const c = await client(lab, { user: 'bob@example.test' });
  await c.cmd('SELECT INBOX');
  await c.cmd('UID STORE 2,4 +FLAGS.SILENT (\\Deleted)');
  // 1 and 3 are in the set but not \Deleted; 4 is \Deleted but not in the set
  assert.deepEqual(await c.cmd('UID EXPUNGE 1:3'), ['* 2 EXPUNGE', 'TAG OK EXPUNGE completed']);
  assert.deepEqual(await c.cmd('UID SEARCH ALL'), ['* SEARCH 1 3 4', 'TAG OK SEARCH completed']);
  assert.deepEqual(await c.cmd('UID EXPUNGE 1,3'), ['TAG OK EXPUNGE completed']);
  assert.deepEqual(await c.cmd('UID SEARCH ALL'), ['* SEARCH 1 3 4', 'TAG OK SEARCH completed']);
  await c.cmd('CLOSE');

  assert.deepEqual(await c.cmd('RENAME INBOX Old'), ['TAG OK RENAME completed']);
  const bob = (await lab.po.store.users.get('bob@example.test'))!;
  const old = (await lab.po.store.mailboxes.get(bob.id, 'Old'))!;
  const inbox = (await lab.po.store.mailboxes.get(bob.id, 'INBOX'))!;
  // CLOSE expunged 4; 1 and 3 (never \Deleted) moved
  assert.deepEqual((await lab.po.store.messages.list(old.id)).map((m) => m.uid), [1, 2]);
  assert.deepEqual(await lab.po.store.messages.list(inbox.id), []);
});
