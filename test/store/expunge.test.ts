// RFC 3501 §6.4.3 / RFC 4315 §2.1 as the store's rule: messages.expunge removes only messages
// flagged \Deleted, also when it is given UIDs; messages.remove (POP3's UPDATE state, RFC 1939
// §6) removes exactly the UIDs it is given. Both leave tombstones (RFC 7162 VANISHED) and raise
// HIGHESTMODSEQ once; UIDs are never reused.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { openStore, type MailboxChange, type Store } from '../../src/store/index.js';

async function inboxWith(t: TestContext, n: number): Promise<{ store: Store; mb: number }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-expunge-'));
  const store = await openStore(dir);
  t.after(async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); });
  await store.domains.add('example.test');
  const bob = await store.users.add('bob@example.test', 'x');
  const mb = (await store.mailboxes.get(bob.id, 'INBOX'))!.id;
  for (let i = 1; i <= n; i++) await store.messages.append(mb, Buffer.from(`Subject: ${i}\r\nMessage-ID: <e${i}@example.test>\r\n\r\nbody ${i}\r\n`));
  return { store, mb };
}

const uids = async (store: Store, mb: number) => (await store.messages.list(mb)).map((m) => m.uid);

test('expunge with UIDs removes only those flagged \\Deleted (RFC 4315 UID EXPUNGE)', async (t) => {
  const { store, mb } = await inboxWith(t, 4);
  await store.messages.setFlags(mb, [1, 3], 'add', ['\\Deleted']);
  const before = (await store.mailboxes.getById(mb))!.highestModseq;
  const heard: MailboxChange[] = [];
  store.events.on('change', (c) => { if (c.kind === 'expunge') heard.push(c); });
  // 2 and 4 are given but not \Deleted: they stay; 3 is \Deleted but not given: it stays too
  assert.deepEqual(await store.messages.expunge(mb, [1, 2, 4]), [1]);
  assert.deepEqual(await uids(store, mb), [2, 3, 4]);
  const after = (await store.mailboxes.getById(mb))!.highestModseq;
  assert.equal(after, before + 1, 'one MODSEQ for the expunge');
  assert.deepEqual(await store.messages.expungedSince(mb, before), [1]);
  // nothing flagged among the given: nothing happens, no MODSEQ
  assert.deepEqual(await store.messages.expunge(mb, [2, 4]), []);
  assert.equal((await store.mailboxes.getById(mb))!.highestModseq, after);
  assert.equal(heard.length, 1);
  assert.deepEqual(heard[0].kind === 'expunge' && heard[0].uids, [1]);
});

test('expunge without UIDs removes every \\Deleted message (RFC 3501 EXPUNGE, CLOSE)', async (t) => {
  const { store, mb } = await inboxWith(t, 3);
  await store.messages.setFlags(mb, [2, 3], 'add', ['\\Deleted']);
  assert.deepEqual(await store.messages.expunge(mb), [2, 3]);
  assert.deepEqual(await uids(store, mb), [1]);
  assert.deepEqual(await store.messages.expunge(mb), []);
});

test('remove takes exactly the given UIDs whatever their flags (POP3 DELE + QUIT); UIDs are not reused', async (t) => {
  const { store, mb } = await inboxWith(t, 3);
  const before = (await store.mailboxes.getById(mb))!.highestModseq;
  assert.deepEqual(await store.messages.remove(mb, [3, 1, 1, 9]), [1, 3], 'sorted, once each, missing UIDs ignored');
  assert.deepEqual(await uids(store, mb), [2]);
  assert.deepEqual(await store.messages.expungedSince(mb, before), [1, 3]);
  const { uid } = await store.messages.append(mb, Buffer.from('Subject: new\r\n\r\nnew\r\n'));
  assert.equal(uid, 4);
  // the bytes of removed copies are gone (no other reference)
  assert.equal((await store.users.usage((await store.users.get('bob@example.test'))!.id)).messages, 2);
});

test('move removes the originals whatever their flags, in the same transaction as the copies', async (t) => {
  const { store, mb } = await inboxWith(t, 2);
  const bob = (await store.users.get('bob@example.test'))!;
  const archive = (await store.mailboxes.get(bob.id, 'Archive'))!.id;
  const r = await store.messages.move(mb, [1, 2], archive);
  assert.deepEqual(r.map, [[1, 1], [2, 2]]);
  assert.deepEqual(await uids(store, mb), []);
  assert.deepEqual(await uids(store, archive), [1, 2]);
});
