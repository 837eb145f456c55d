// Bounded performance checks: SELECT reads metadata only; 8 clients fetch 5,000 messages' headers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ImapFlow } from 'imapflow';
import { fixture, startLab } from '../helpers/lab.js';
import { client } from './helpers.js';

test('8 clients FETCH the headers of 5,000 messages quickly; SELECT never reads bodies', { timeout: 120_000 }, async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  const raw = fixture('multipart.eml');
  const t0 = Date.now();
  for (let i = 0; i < 5000; i += 500) {
    await Promise.all(Array.from({ length: 500 }, (_, j) => lab.deliver('bob@example.test', Buffer.concat([Buffer.from(`X-Seq: ${i + j}\r\n`), raw]))));
  }
  const loaded = Date.now() - t0;

  // SELECT must not touch message bytes or parsed metadata
  const store = lab.po.store;
  const rawFn = store.messages.raw;
  const metaFn = store.messages.meta;
  let bodyReads = 0;
  store.messages.raw = async (id) => { bodyReads++; return rawFn.call(store.messages, id); };
  store.messages.meta = async (id) => { bodyReads++; return metaFn.call(store.messages, id); };
  t.after(() => { store.messages.raw = rawFn; store.messages.meta = metaFn; });
  const c = await client(lab, { user: 'bob@example.test' });
  const s0 = Date.now();
  const sel = await c.cmd('SELECT INBOX');
  assert.ok(sel.includes('* 5000 EXISTS'));
  assert.equal(bodyReads, 0, 'SELECT read message bodies');
  const selectMs = Date.now() - s0;

  const f0 = Date.now();
  const counts = await Promise.all(Array.from({ length: 8 }, async () => {
    const f = new ImapFlow({ host: '127.0.0.1', port: lab.port('imaps'), secure: true, tls: { rejectUnauthorized: false }, auth: { user: 'bob@example.test', pass: 'pw' }, logger: false });
    await f.connect();
    const lock = await f.getMailboxLock('INBOX');
    let n = 0;
    try {
      for await (const m of f.fetch('1:*', { uid: true, flags: true, envelope: true, headers: ['subject', 'x-seq'] })) {
        if (m.envelope?.subject && m.headers) n++;
      }
    } finally {
      lock.release();
      await f.logout();
    }
    return n;
  }));
  const fetchMs = Date.now() - f0;
  assert.deepEqual(counts, Array(8).fill(5000));
  t.diagnostic(`load ${loaded} ms, SELECT ${selectMs} ms, 8 x FETCH 5000 headers ${fetchMs} ms`);
});
