// The submission limits' reservation against a count read that overlaps another reservation's end:
// B reads the committed count (0) before A's message commits, A commits and lets go of its
// in-flight hold, then B's read comes back. Without a second read B would see 0 committed and 0 in
// flight and pass a limit of 1 (seen under load as "4 of 3 messages accepted" in the 10-session test).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { openStore, type Store } from '../../src/store/index.js';
import { SubmissionLimits } from '../../src/smtp/submission-limits.js';

test('a count read while another reservation ended is read again (no message slips past the limit)', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-subrace-'));
  const store = await openStore(dir);
  t.after(async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); });
  await store.domains.add('example.test');
  const alice = await store.users.add('alice@example.test', 'x');

  // the real store, whose count for B is read at once but handed back only when `release` is called
  let hold: Promise<void> | null = null;
  let release = () => {};
  const count = store.submissions.count.bind(store.submissions);
  const slow = {
    ...store,
    submissions: {
      ...store.submissions,
      count: async (userId: number, since: number) => {
        const value = await count(userId, since);
        if (hold) await hold;
        return value;
      },
    },
  } as Store;
  const limits = new SubmissionLimits(slow, { messagesPerHour: 1, recipientsPerHour: 0, messagesPerDay: 0, recipientsPerDay: 0 });

  const a = await limits.reserve(alice.id, 1);
  assert.ok('done' in a, 'A is under the limit');
  hold = new Promise((r) => { release = r; });
  const b = limits.reserve(alice.id, 1); // reads 0 committed now
  await new Promise((r) => setTimeout(r, 20));
  // A's message commits with its submission row, then A lets go of its hold
  await store.deliver({ msgId: 'race.1', mailFrom: 'alice@example.test', raw: Buffer.from('Subject: a\r\n\r\na\r\n'), local: [], remote: ['x@remote.test'], journey: [], submission: { userId: alice.id, recipients: 1 } });
  a.done();
  hold = null;
  release();
  const got = await b;
  assert.ok('over' in got, `B must be refused: ${JSON.stringify(got)}`);
  assert.equal((got as { over: { used: number } }).over.used, 1);
});
