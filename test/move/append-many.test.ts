// store.messages.appendMany through the server's store (the writer thread): one batch, the same
// bytes twice stored once, flags and dates kept, an IMAP session told of the new messages.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture, startLab } from '../helpers/lab.js';
import { imapClient } from './util.js';

test('appendMany: batched import through the writer; duplicates skipped; IDLE hears EXISTS', async (t) => {
  const lab = await startLab(t, { users: { 'alice@example.test': 'pw' } });
  const store = lab.po.store;
  const alice = (await store.users.get('alice@example.test'))!;
  const inbox = (await store.mailboxes.get(alice.id, 'INBOX'))!;
  const c = await imapClient(lab, 'alice@example.test', 'pw');
  t.after(() => c.logout().catch(() => undefined));
  await c.mailboxOpen('INBOX');
  const exists = new Promise<number>((resolve) => c.on('exists', (e: { count: number }) => resolve(e.count)));

  const day = Date.UTC(2023, 4, 6, 7, 8, 9);
  const plain = fixture('plain.eml').toString().replace(/\r\n/g, '\n'); // LF, as files have it
  const out = await store.messages.appendMany(inbox.id, [
    { raw: Buffer.from(plain), flags: ['\\Seen'], internalDate: day, msgId: 'imptest.1', source: 'test' },
    { raw: fixture('multipart.eml'), flags: ['\\Flagged', 'Later'], internalDate: day + 1000, msgId: 'imptest.2' },
    { raw: fixture('plain.eml'), flags: [], internalDate: day + 2000, msgId: 'imptest.3' }, // the same bytes once CRLF
  ]);
  assert.deepEqual(out, [{ uid: 1 }, { uid: 2 }, { duplicate: true }]);
  assert.equal(await exists, 2);
  const list = await store.messages.list(inbox.id);
  assert.deepEqual(list.map((m) => [m.uid, m.flags, m.internalDate, m.msgId]), [[1, ['\\Seen'], day, 'imptest.1'], [2, ['\\Flagged', 'Later'], day + 1000, 'imptest.2']]);
  assert.deepEqual(await store.messages.raw(list[0].blobId), fixture('plain.eml'));
  const again = await store.messages.appendMany(inbox.id, [{ raw: fixture('multipart.eml'), flags: [], internalDate: day, msgId: 'imptest.4' }]);
  assert.deepEqual(again, [{ duplicate: true }]);
  const digests = await store.messages.digests(inbox.id);
  assert.equal(digests.length, 2);
  assert.equal(digests[1].size, fixture('multipart.eml').length);
  const trace = await store.journey.trace('imptest.2');
  assert.deepEqual(trace.map((s) => [s.agent, s.step, s.details.mailbox, s.details.uid]), [['MDA', 'imported', 'INBOX', 2]]);
  await assert.rejects(store.messages.appendMany(9999, []), /no such mailbox/);
});
