// RFC 3501 §6.3.6: subscriptions are names. A new user's default mailboxes are subscribed;
// CREATE subscribes nothing; a name may be subscribed without a mailbox; DELETE and RENAME leave
// the names as they were.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { openStore } from '../../src/store/index.js';

test('subscriptions by name: defaults, CREATE, SUBSCRIBE of a missing name, DELETE, RENAME, user del', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-subs-'));
  const store = await openStore(dir);
  t.after(async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); });
  await store.domains.add('example.test');
  const bob = await store.users.add('bob@example.test', 'x');
  assert.deepEqual(await store.mailboxes.subscriptions(bob.id), ['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);

  const work = await store.mailboxes.create(bob.id, 'Work');
  assert.ok(!(await store.mailboxes.subscriptions(bob.id)).includes('Work'), 'CREATE does not subscribe');
  assert.equal(work.subscribed, false);
  assert.equal((await store.mailboxes.get(bob.id, 'INBOX'))!.subscribed, true);
  await store.mailboxes.setSubscribed(bob.id, 'Work', true);
  await store.mailboxes.setSubscribed(bob.id, 'Later', true);
  await store.mailboxes.setSubscribed(bob.id, 'Later', true);
  assert.deepEqual((await store.mailboxes.subscriptions(bob.id)).filter((n) => n === 'Work' || n === 'Later'), ['Later', 'Work']);

  assert.equal((await store.mailboxes.getById(work.id))!.subscribed, true, 'MailboxRecord.subscribed follows the name');
  await store.mailboxes.rename(bob.id, 'Work', 'Job');
  assert.equal((await store.mailboxes.getById(work.id))!.subscribed, false, 'the subscription stayed with the old name');
  await store.mailboxes.delete(work.id);
  assert.ok((await store.mailboxes.subscriptions(bob.id)).includes('Work'), 'RENAME and DELETE leave the name');
  await store.mailboxes.setSubscribed(bob.id, 'Work', false);
  assert.ok(!(await store.mailboxes.subscriptions(bob.id)).includes('Work'));

  // the older call by mailbox id keeps the name's subscription too
  const junk = (await store.mailboxes.get(bob.id, 'Junk'))!;
  await store.mailboxes.subscribe(junk.id, false);
  assert.ok(!(await store.mailboxes.subscriptions(bob.id)).includes('Junk'));
  assert.equal((await store.mailboxes.get(bob.id, 'Junk'))!.subscribed, false);

  assert.equal(await store.users.del('bob@example.test'), true);
  assert.deepEqual(await store.mailboxes.subscriptions(bob.id), []);
});
