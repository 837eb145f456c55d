// SELECT of a 100,000-message mailbox reads metadata only, and stays quick.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture, startLab } from '../helpers/lab.js';
import { client } from './helpers.js';

test('SELECT and UID SEARCH on 100,000+ messages never read a body', { timeout: 120_000 }, async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  const store = lab.po.store;
  for (let i = 0; i < 100; i++) await lab.deliver('bob@example.test', fixture('plain.eml'));
  const u = (await store.users.get('bob@example.test'))!;
  const inbox = (await store.mailboxes.get(u.id, 'INBOX'))!;
  // double the mailbox by copying it into itself: 100 -> 102,400
  for (let i = 0; i < 10; i++) {
    const uids = (await store.messages.list(inbox.id)).map((m) => m.uid);
    await store.messages.copy(inbox.id, uids, inbox.id);
  }
  const n = (await store.messages.list(inbox.id)).length;
  assert.equal(n, 102_400);
  const rawFn = store.messages.raw;
  const metaFn = store.messages.meta;
  let bodyReads = 0;
  store.messages.raw = async (id) => { bodyReads++; return rawFn.call(store.messages, id); };
  store.messages.meta = async (id) => { bodyReads++; return metaFn.call(store.messages, id); };
  t.after(() => { store.messages.raw = rawFn; store.messages.meta = metaFn; });
  const c = await client(lab, { user: 'bob@example.test' });
  const t0 = Date.now();
  const sel = await c.cmd('SELECT INBOX');
  const selectMs = Date.now() - t0;
  assert.ok(sel.includes(`* ${n} EXISTS`));
  assert.equal(sel[sel.length - 1], 'TAG OK [READ-WRITE] SELECT completed');
  const t1 = Date.now();
  const s = await c.cmd('UID SEARCH RETURN (COUNT MAX) UNSEEN SMALLER 100000');
  assert.match(s[0], new RegExp(`^\\* ESEARCH \\(TAG "t\\d+"\\) UID MAX \\d+ COUNT ${n}$`));
  const searchMs = Date.now() - t1;
  const t2 = Date.now();
  const f = await c.cmd('FETCH 102390:* (UID FLAGS RFC822.SIZE)');
  assert.equal(f.length, 12);
  assert.equal(bodyReads, 0);
  t.diagnostic(`SELECT ${selectMs} ms, SEARCH ${searchMs} ms, FETCH tail ${Date.now() - t2} ms`);
  assert.ok(selectMs < 5000, `SELECT took ${selectMs} ms`);
});
