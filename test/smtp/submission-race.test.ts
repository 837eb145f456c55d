// The submission limits' reservation against another of the same user that is committing: B must
// not read the committed count while A is between "reserved" and "visible in the store". Reading
// early and adding A's in-flight hold counted A twice or not at all, depending on timing (seen under
// load as "4 of 3 messages accepted" and as "2 of 3 accepted, 4 of 3 used" in the 10-session test).
// Here the store hands B's count back late; B must still be refused once A's message is committed.
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
  const b = limits.reserve(alice.id, 1); // waits for A's turn to end
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
