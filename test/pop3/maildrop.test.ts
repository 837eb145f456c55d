// RFC 1939 §5 the maildrop at login: read from the mailbox's view and its records a chunk at a
// time (a real SQLite store), numbered from 1 without gaps, sizes as RETR sends them.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Maildrop } from '../../src/pop3/maildrop.js';
import { SqliteStore } from '../../src/store/index.js';

test('a maildrop read in chunks: every live message once, in UID order, numbered 1..n, with sizes and \\Seen', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-maildrop-'));
  const store = new SqliteStore({ dataDir: dir });
  t.after(async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); });
  await store.domains.add('example.test');
  const user = await store.users.add('bob@example.test', 'x');
  const inbox = (await store.mailboxes.get(user.id, 'INBOX'))!;
  const sizes = new Map<number, number>();
  for (let i = 1; i <= 8; i++) {
    const raw = Buffer.from(`Subject: ${i}\r\n\r\n${'x'.repeat(i * 10)}\r\n`);
    const { uid } = await store.messages.append(inbox.id, raw, i % 4 === 0 ? { flags: ['\\Seen'] } : {});
    sizes.set(uid, raw.length);
  }
  const uids = [...sizes.keys()];
  // two gone in the middle: one of them at a chunk's edge
  await store.messages.remove(inbox.id, [uids[2], uids[5]]);
  const live = uids.filter((u) => u !== uids[2] && u !== uids[5]);

  for (const chunk of [1, 3, 5000]) {
    const drop = await Maildrop.open(store, inbox, chunk);
    assert.deepEqual(drop.messages.map((m) => m.n), [1, 2, 3, 4, 5, 6], `chunk ${chunk}: numbers`);
    assert.deepEqual(drop.messages.map((m) => m.uid), live, `chunk ${chunk}: UIDs`);
    assert.deepEqual(drop.messages.map((m) => m.size), live.map((u) => sizes.get(u)), `chunk ${chunk}: sizes`);
    const seen = (await store.messages.some(inbox.id, live)).map((r) => r.flags.includes('\\Seen'));
    assert.deepEqual(seen, [false, false, true, false, false, true]);
    assert.deepEqual(drop.messages.map((m) => m.seen), seen, `chunk ${chunk}: \\Seen`);
    assert.deepEqual(drop.stat(), { count: 6, size: live.reduce((n, u) => n + sizes.get(u)!, 0) });
    assert.equal(drop.uidl(drop.messages[0]), `${inbox.uidValidity}.${live[0]}`);
  }
  // an empty maildrop
  const other = await store.mailboxes.create(user.id, 'Empty');
  assert.deepEqual((await Maildrop.open(store, other, 3)).stat(), { count: 0, size: 0 });
});
