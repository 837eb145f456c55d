// The outbound queue's life cycle as the store promises it: an attempt that leaves recipients
// pending reschedules the entry; one that leaves none finishes it, and the entry is seen ending
// 'delivered' or 'bounced' (queue.finish's answer) before it leaves the queue with its bytes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { openStore, StoreError, type Store } from '../../src/store/index.js';

async function freshStore(t: TestContext): Promise<Store> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-queue-'));
  const store = await openStore(dir);
  t.after(async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); });
  return store;
}

async function enqueue(store: Store, msgId: string, remote: string[]) {
  const raw = Buffer.from(`From: me@163.test\r\nSubject: ${msgId}\r\nMessage-ID: <${msgId}@163.test>\r\n\r\nhello\r\n`);
  const res = await store.deliver({ msgId, mailFrom: 'me@163.test', raw, local: [], remote, journey: [] });
  assert.equal(res.queued.length, 1);
  return (await store.queue.get(res.queued[0].id))!;
}

const rejects = (p: Promise<unknown>, reason: StoreError['reason']) =>
  assert.rejects(p, (err: unknown) => err instanceof StoreError && err.reason === reason);

test('reschedule keeps the entry queued with the attempt recorded, in one transaction with its journey', async (t) => {
  const store = await freshStore(t);
  const e = await enqueue(store, 'q.1', ['a@remote.test', 'b@remote.test']);
  assert.equal(e.status, 'queued');
  const later = Date.now() + 3_600_000;
  await store.queue.reschedule(e.id, {
    rcpts: [{ address: 'a@remote.test', status: 'delivered', reply: '250 ok' }, { address: 'b@remote.test', status: 'pending', reply: '451 later' }],
    attempts: 1, nextAttempt: later, lastReply: '451 later', data: { warned: true },
  }, [{ msgId: 'q.1', agent: 'MTA out', step: 'deferred', details: { queueId: e.id } }]);
  const got = (await store.queue.get(e.id))!;
  assert.equal(got.status, 'queued');
  assert.equal(got.attempts, 1);
  assert.equal(got.nextAttempt, later);
  assert.equal(got.lastReply, '451 later');
  assert.deepEqual(got.data, { warned: true });
  assert.deepEqual(got.rcpts.map((r) => r.status), ['delivered', 'pending']);
  assert.deepEqual(await store.queue.due(Date.now(), 10), [], 'not due before nextAttempt');
  assert.ok((await store.journey.trace('q.1')).some((r) => r.step === 'deferred'));
  // fields left out keep their value
  await store.queue.reschedule(e.id, { lastReply: '421 busy' });
  const again = (await store.queue.get(e.id))!;
  assert.equal(again.attempts, 1);
  assert.equal(again.nextAttempt, later);
  assert.equal(again.lastReply, '421 busy');
  assert.deepEqual(again.data, { warned: true });
});

test('reschedule refuses to leave no recipient pending, finish refuses a pending one', async (t) => {
  const store = await freshStore(t);
  const e = await enqueue(store, 'q.2', ['a@remote.test']);
  await rejects(store.queue.reschedule(e.id, { rcpts: [{ address: 'a@remote.test', status: 'delivered' }], nextAttempt: Date.now() }), 'invalid');
  await rejects(store.queue.finish(e.id, { rcpts: [{ address: 'a@remote.test', status: 'pending' }], attempts: 1, lastReply: null }), 'invalid');
  const still = (await store.queue.get(e.id))!;
  assert.equal(still.status, 'queued');
  assert.equal(still.attempts, 0, 'a refused call changes nothing');
});

test('finish: the entry ends delivered, leaves the queue and lets go of its bytes', async (t) => {
  const store = await freshStore(t);
  const e = await enqueue(store, 'q.3', ['a@remote.test', 'b@remote.test']);
  const ended = await store.queue.finish(e.id, {
    rcpts: [{ address: 'a@remote.test', status: 'delivered', reply: '250 ok' }, { address: 'b@remote.test', status: 'bounced', reply: '550 no' }],
    attempts: 2, lastReply: '550 no',
  }, [{ msgId: 'q.3', agent: 'MTA out', step: 'delivered', details: { queueId: e.id } }]);
  assert.equal(ended.status, 'delivered', 'some recipient was delivered');
  assert.equal(ended.id, e.id);
  assert.equal(ended.attempts, 2);
  assert.equal(ended.lastReply, '550 no');
  assert.deepEqual(ended.rcpts.map((r) => r.status), ['delivered', 'bounced']);
  assert.equal(await store.queue.get(e.id), null);
  assert.deepEqual(await store.queue.list(), []);
  await rejects(store.messages.raw(e.blobId), 'notfound');
  assert.ok((await store.journey.trace('q.3')).some((r) => r.step === 'delivered'), 'the journey keeps the history');
  // finished once: a second outcome has nothing to land on
  await rejects(store.queue.finish(e.id, { rcpts: ended.rcpts, attempts: 3, lastReply: null }), 'notfound');
  await rejects(store.queue.reschedule(e.id, { attempts: 3 }), 'notfound');
});

test('finish: an entry with no recipient delivered ends bounced', async (t) => {
  const store = await freshStore(t);
  const e = await enqueue(store, 'q.4', ['a@remote.test']);
  const ended = await store.queue.finish(e.id, { rcpts: [{ address: 'a@remote.test', status: 'bounced', reply: '550 no such user' }], attempts: 1, lastReply: '550 no such user', data: { reportFor: 'q.0' } });
  assert.equal(ended.status, 'bounced');
  assert.deepEqual(ended.data, { reportFor: 'q.0' });
  assert.equal(await store.queue.get(e.id), null);
});

test('finish after queue del: notfound (the runner logs that the entry vanished)', async (t) => {
  const store = await freshStore(t);
  const e = await enqueue(store, 'q.5', ['a@remote.test']);
  assert.equal(await store.queue.del(e.id), true);
  await rejects(store.queue.finish(e.id, { rcpts: [{ address: 'a@remote.test', status: 'delivered' }], attempts: 1, lastReply: '250 ok' }), 'notfound');
});
