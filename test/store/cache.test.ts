// The reader's caches: a mailbox's message list (shared, frozen, fresh after every change) and
// recently read message bytes (bounded); and the compact "MDA <- MUA" journey steps.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { SqliteStore, type AccessStep } from '../../src/store/index.js';
import { packSteps, unpackSteps } from '../../src/store/packed-steps.js';

function open(t: { after(fn: () => unknown): void }, bodyCacheBytes?: number) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-cache-'));
  const store = new SqliteStore({ dataDir: dir, bodyCacheBytes });
  t.after(async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); });
  return store;
}

async function setup(store: SqliteStore) {
  await store.domains.add('example.test');
  const user = await store.users.add('bob@example.test', 'x');
  const inbox = (await store.mailboxes.get(user.id, 'INBOX'))!;
  let n = 0;
  const deliver = (body = 'hello') => store.deliver({
    msgId: `c.${++n}`, mailFrom: 'a@example.test', raw: Buffer.from(`Subject: ${n}\r\n\r\n${body}\r\n`), remote: [], journey: [],
    local: [{ userId: user.id, address: user.address, rcptTo: user.address }],
  });
  return { user, inbox, deliver };
}

test('the message list is shared and frozen, and fresh after a delivery, a flag change and an expunge', async (t) => {
  const store = open(t);
  const { inbox, deliver } = await setup(store);
  for (let i = 0; i < 3; i++) await deliver();
  const a = await store.messages.list(inbox.id);
  assert.equal(a.length, 3);
  assert.equal(await store.messages.list(inbox.id), a, 'unchanged mailbox: the same list');
  assert.ok(Object.isFrozen(a) && Object.isFrozen(a[0]) && Object.isFrozen(a[0].flags));
  assert.throws(() => { (a[0] as { flags: string[] }).flags = ['\\Seen']; }, TypeError);

  await deliver();
  const b = await store.messages.list(inbox.id);
  assert.deepEqual(b.map((m) => m.uid), [1, 2, 3, 4]);

  await store.messages.setFlags(inbox.id, [2], 'add', ['\\Seen']);
  const c = await store.messages.list(inbox.id);
  assert.deepEqual(c[1].flags, ['\\Seen']);
  assert.deepEqual(b[1].flags, [], 'a list handed out earlier is not changed under its holder');

  await store.messages.setFlags(inbox.id, [1, 3], 'add', ['\\Deleted']);
  await store.messages.expunge(inbox.id);
  assert.deepEqual((await store.messages.list(inbox.id)).map((m) => m.uid), [2, 4]);

  // a mailbox deleted and another created (it may get the same id): never the old list
  const user = (await store.users.get('bob@example.test'))!;
  const x = await store.mailboxes.create(user.id, 'X');
  await store.messages.append(x.id, Buffer.from('Subject: x\r\n\r\nx\r\n'));
  assert.equal((await store.messages.list(x.id)).length, 1);
  await store.mailboxes.delete(x.id);
  assert.deepEqual(await store.messages.list(x.id), []);
  const y = await store.mailboxes.create(user.id, 'Y');
  assert.deepEqual(await store.messages.list(y.id), []);
});

test('message bytes are served from a bounded cache; bodyCacheBytes 0 turns it off', async (t) => {
  const store = open(t, 64 * 1024);
  const { inbox, deliver } = await setup(store);
  for (let i = 0; i < 40; i++) await deliver('x'.repeat(3000)); // ~3 KiB each, 120 KiB in all
  const msgs = await store.messages.list(inbox.id);
  const first = await Promise.all(msgs.map((m) => store.messages.raw(m.blobId)));
  const again = await Promise.all(msgs.map((m) => store.messages.raw(m.blobId)));
  msgs.forEach((m, i) => assert.ok(again[i].equals(first[i])));
  assert.equal(store.stats.bodyReads, 80);
  // 64 KiB hold the last ~20 read: the second pass starts with misses that push out what follows
  assert.ok(store.stats.bodyCacheHits < 40, `hits ${store.stats.bodyCacheHits}`);
  const before = store.stats.bodyCacheHits;
  const last = msgs[msgs.length - 1];
  assert.ok((await store.messages.raw(last.blobId)).equals(first[first.length - 1]));
  assert.equal(store.stats.bodyCacheHits, before + 1, 'the most recently read message is a hit');

  const off = open(t, 0);
  const o = await setup(off);
  await o.deliver();
  const [m] = await off.messages.list(o.inbox.id);
  await off.messages.raw(m.blobId);
  await off.messages.raw(m.blobId);
  assert.equal(off.stats.bodyCacheHits, 0);
});

test('fetch and retrieve steps: once per message per session, in the trace with the session and client', async (t) => {
  const store = open(t);
  const { inbox, deliver } = await setup(store);
  await deliver();
  const [m] = await store.messages.list(inbox.id);
  const s1 = { sid: 'i1', user: 'bob@example.test', protocol: 'imaps', client: 'Thunderbird' };
  await store.journey.accessed(s1, 'fetched', [{ msgId: 'c.1', uid: m.uid, mailbox: 'INBOX' }]);
  await store.journey.accessed(s1, 'fetched', [{ msgId: 'c.1', uid: m.uid, mailbox: 'INBOX' }]);
  await store.journey.accessed({ sid: 'p1', user: 'bob@example.test', protocol: 'pop3', client: '127.0.0.1' }, 'retrieved', [{ msgId: 'c.1', uid: m.uid, mailbox: 'INBOX' }]);
  const rows = await store.journey.trace('c.1');
  const access = rows.filter((r) => r.agent === 'MUA access');
  assert.deepEqual(access.map((r) => [r.step, r.details]), [
    ['fetched', { user: 'bob@example.test', session: 'i1', client: 'Thunderbird', mailbox: 'INBOX', uid: 1 }],
    ['retrieved', { user: 'bob@example.test', proto: 'pop3', session: 'p1', client: '127.0.0.1', uid: 1 }],
  ]);
  assert.equal(rows[rows.length - 1].agent, 'MUA access', 'reading comes after delivery');
});

test('access steps cross to the writer thread packed, and come back the same', () => {
  const same: AccessStep[] = [{ msgId: 'a.1', uid: 1, mailbox: 'INBOX' }, { msgId: 'a.2', uid: 7, mailbox: 'INBOX' }];
  assert.deepEqual(unpackSteps(structuredClone(packSteps(same))), same);
  const mixed: AccessStep[] = [{ msgId: 'b.1', uid: 3, mailbox: null, time: 1700000000123 }, { msgId: 'b.2', uid: 4, mailbox: '已发送' }];
  assert.deepEqual(unpackSteps(structuredClone(packSteps(mixed))), mixed);
  assert.deepEqual(unpackSteps(packSteps([])), []);
});
