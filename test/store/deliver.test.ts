import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startLab } from '../helpers/lab.js';

test('deliver stores one blob for several recipients, with UIDs and MODSEQ', async (t) => {
  const lab = await startLab(t, { users: { 'alice@example.test': 'pw', 'bob@example.test': 'pw' } });
  const { store } = lab.po;
  const raw = Buffer.from('From: a@example.test\r\nSubject: hi\r\nMessage-ID: <x1@example.test>\r\n\r\nhello\r\n');
  const alice = (await store.users.get('alice@example.test'))!;
  const bob = (await store.users.get('bob@example.test'))!;
  const res = await store.deliver({
    msgId: 't.1', mailFrom: 'a@example.test', raw, remote: [], journey: [],
    local: [{ userId: alice.id, address: alice.address, rcptTo: alice.address }, { userId: bob.id, address: bob.address, rcptTo: bob.address }],
  });
  assert.equal(res.stored.length, 2);
  assert.equal(res.messageId, '<x1@example.test>');
  const ib = (await store.mailboxes.get(alice.id, 'INBOX'))!;
  const msgs = await store.messages.list(ib.id);
  assert.equal(msgs.length, 1);
  assert.equal(msgs[0].uid, 1);
  const bobInbox = (await store.mailboxes.get(bob.id, 'inbox'))!;
  const bobMsgs = await store.messages.list(bobInbox.id);
  assert.equal(bobMsgs[0].blobId, msgs[0].blobId, 'one stored body shared by both copies');
  assert.deepEqual(await store.messages.raw(msgs[0].blobId), raw);
  const boxes = (await store.mailboxes.list(alice.id)).map((m) => m.name).sort();
  assert.deepEqual(boxes, ['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
});
