// What several nodes agree on through the store, the same assertions on both backends: queue
// leases (claim / renew / release; reschedule and finish end a lease; an expired lease is taken
// by another node), locks with an expiry, and login-failure counts.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { openToolStore, SqliteStore, type Store } from '../../src/store/index.js';
import { pgDatabase, pgUnavailable } from '../helpers/pg.js';

const backends: { name: string; skip: string | false; open: (t: TestContext) => Promise<Store> }[] = [
  {
    name: 'sqlite', skip: false,
    open: async (t) => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-leases-'));
      const s = new SqliteStore({ dataDir: dir });
      t.after(async () => { await s.close(); rmSync(dir, { recursive: true, force: true }); });
      return s;
    },
  },
  {
    name: 'postgres', skip: pgUnavailable() ?? false,
    open: async (t) => {
      const s = await openToolStore('', { storeUrl: await pgDatabase(t, 'leases') });
      t.after(() => s.close());
      return s;
    },
  },
];

let n = 0;
async function queued(store: Store, count: number): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < count; i++) {
    const msgId = `lease${process.pid}.${++n}`;
    const raw = Buffer.from(`Subject: ${msgId}\r\nMessage-ID: <${msgId}@example.test>\r\n\r\nx\r\n`);
    const r = await store.deliver({ msgId, mailFrom: 'me@example.test', raw, relayRaw: raw, local: [], remote: [`r${i}@remote${i}.test`], journey: [] });
    ids.push(...r.queued.map((q) => q.id));
  }
  return ids;
}

for (const b of backends) {
  test(`${b.name}: queue.claim leases each due entry to one node; renew, release, reschedule, finish and expiry`, { skip: b.skip, timeout: 60_000 }, async (t) => {
    const store = await b.open(t);
    await store.domains.add('example.test');
    const ids = await queued(store, 6);
    const now = Date.now();
    // two nodes claiming at once split the entries between them, none twice
    const [x, y] = await Promise.all([store.queue.claim('x', now, 4, 60_000), store.queue.claim('y', now, 4, 60_000)]);
    const taken = [...x, ...y].map((e) => e.id);
    assert.equal(taken.length, 6);
    assert.deepEqual([...new Set(taken)].sort((p, q) => p - q), ids);
    for (const e of x) assert.deepEqual([e.leaseNode, e.leaseUntil], ['x', now + 60_000]);
    assert.deepEqual(await store.queue.claim('z', now, 10, 60_000), [], 'nothing left while the leases live');

    // renew: only what the node holds
    const xs = x.map((e) => e.id);
    assert.deepEqual((await store.queue.renew('x', [...xs, y[0]?.id ?? -1], now, 120_000)).sort((p, q) => p - q), [...xs].sort((p, q) => p - q));
    // release: given back, claimable by another node at once
    assert.equal(await store.queue.release('x', [xs[0]]), 1);
    const [again] = await store.queue.claim('z', now, 10, 60_000);
    assert.equal(again.id, xs[0]);
    // reschedule ends the lease (and the entry waits for its next attempt); finish removes it
    const e1 = (await store.queue.get(xs[1]))!;
    await store.queue.reschedule(e1.id, { attempts: 1, nextAttempt: now - 1, lastReply: '451 later' });
    const after = (await store.queue.get(e1.id))!;
    assert.deepEqual([after.leaseNode ?? null, after.leaseUntil ?? null], [null, null]);
    assert.deepEqual((await store.queue.claim('z', now, 10, 60_000)).map((e) => e.id), [e1.id]);
    await store.queue.finish(e1.id, { rcpts: e1.rcpts.map((r) => ({ ...r, status: 'delivered' as const })), attempts: 1, lastReply: '250 ok' });
    assert.equal(await store.queue.get(e1.id), null);
    // a node that died: its leases run out and another node takes the entries
    const later = now + 10 * 60_000;
    const rescued = (await store.queue.claim('w', later, 10, 60_000)).map((e) => e.id);
    assert.deepEqual(rescued.sort((p, q) => p - q), ids.filter((id) => id !== e1.id));
    // a restarted node takes back all of its own at once
    assert.equal(await store.queue.release('w'), rescued.length);
    assert.equal((await store.queue.claim('v', later, 10, 1000)).length, rescued.length);
  });

  test(`${b.name}: locks expire and are held by one owner at a time; login failures count and are forgotten`, { skip: b.skip, timeout: 60_000 }, async (t) => {
    const store = await b.open(t);
    assert.equal(await store.locks.tryAcquire('pop3-maildrop:1', 'a', 60_000), true);
    assert.equal(await store.locks.tryAcquire('pop3-maildrop:1', 'b', 60_000), false);
    assert.equal(await store.locks.tryAcquire('pop3-maildrop:1', 'a', 60_000), true, 'the owner extends it');
    assert.equal(await store.locks.release('pop3-maildrop:1', 'b'), false);
    assert.equal(await store.locks.release('pop3-maildrop:1', 'a'), true);
    assert.equal(await store.locks.tryAcquire('pop3-maildrop:1', 'b', 1), true);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(await store.locks.tryAcquire('pop3-maildrop:1', 'c', 60_000), true, 'an expired lock is free');

    const now = Date.now();
    assert.equal(await store.penalties.fail(['ip:192.0.2.1', 'account:bob@example.test'], now, 60_000), 1);
    assert.equal(await store.penalties.fail(['ip:192.0.2.2', 'account:bob@example.test'], now, 60_000), 2);
    assert.equal(await store.penalties.get('ip:192.0.2.1', now, 60_000), 1);
    assert.equal(await store.penalties.get('account:bob@example.test', now, 60_000), 2);
    assert.equal(await store.penalties.get('account:bob@example.test', now + 120_000, 60_000), 0, 'forgotten after forgetAfterMs');
    assert.equal(await store.penalties.fail(['account:bob@example.test'], now + 120_000, 60_000), 1, 'and counted from 1 again');
    await store.penalties.clear(['account:bob@example.test', 'ip:192.0.2.1']);
    assert.equal(await store.penalties.get('account:bob@example.test', now, 60_000), 0);
    assert.equal(await store.penalties.get('ip:192.0.2.2', now, 60_000), 1);
  });
}
