// DESIGN "Change notification" across processes: a session with INBOX selected (imapflow, in
// IDLE) hears of messages that another PROCESS wrote to the same database (the CLI's import
// and `user del` beside the running server), and of flag changes and expunges made through a
// second store opened on the same data dir.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { ImapFlow } from 'imapflow';
import { SqliteStore } from '../../src/store/index.js';
import { fixture, startLab } from '../helpers/lab.js';
import { imapClient, po } from '../move/util.js';

function mbox(n: number): string {
  const out: string[] = [];
  for (let i = 1; i <= n; i++) {
    out.push(`From carol@remote.test Mon Nov 30 08:0${i}:00 2026`, 'From: Carol <carol@remote.test>', 'To: bob@example.test',
      `Subject: imported ${i}`, `Message-ID: <imported-${i}@remote.test>`, 'Date: Mon, 30 Nov 2026 08:00:00 +0100', '', `Body ${i}.`, '');
  }
  return out.join('\n');
}

/** resolves with the first event of `name` that `ok` accepts (the test's timeout bounds the wait) */
function waitFor<T>(c: ImapFlow, name: string, ok: (e: T) => boolean): Promise<T> {
  return new Promise((resolve) => {
    const f = (e: T) => { if (ok(e)) { c.off(name, f); resolve(e); } };
    c.on(name, f);
  });
}

// SQLite only: it writes into the lab's SQLite data dir from a second process (on PostgreSQL, test/multinode covers other writers)
test('IDLE hears another process: a CLI import (EXISTS), a second store\'s flag change and expunge, a CLI user del', { timeout: 60_000, skip: process.env.POSTOFFICE_TEST_STORE === 'postgres' ? 'SQLite only (the data dir written by a second process)' : false }, async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  await lab.deliver('bob@example.test', fixture('plain.eml'));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-other-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'old.mbox');
  writeFileSync(file, mbox(3));

  const c = await imapClient(lab, 'bob@example.test', 'pw');
  t.after(() => c.logout().catch(() => undefined));
  const opened = await c.mailboxOpen('INBOX');
  assert.equal(opened.exists, 1);
  void c.idle().catch(() => undefined);

  // 1. the CLI, a separate process, imports three messages into INBOX
  const exists = waitFor<{ count: number }>(c, 'exists', (e) => e.count === 4);
  const r = await po(lab.dataDir, ['import', 'bob@example.test', file, '--mailbox', 'INBOX']);
  assert.equal(r.code, 0, r.err);
  assert.equal((await exists).count, 4);

  // 2. a flag change and an expunge committed by a second store in this process, on its own connections
  const other = new SqliteStore({ dataDir: lab.dataDir });
  t.after(() => other.close());
  const bob = (await other.users.get('bob@example.test'))!;
  const inbox = (await other.mailboxes.get(bob.id, 'INBOX'))!;
  const flagged = waitFor<{ uid?: number; flags: Set<string> }>(c, 'flags', (e) => e.flags.has('\\Flagged'));
  await other.messages.setFlags(inbox.id, [2], 'add', ['\\Flagged']);
  const f = await flagged;
  assert.ok(f.flags.has('\\Flagged'));

  const expunged = waitFor<{ seq: number }>(c, 'expunge', () => true);
  await other.messages.setFlags(inbox.id, [3], 'add', ['\\Deleted']);
  assert.deepEqual(await other.messages.expunge(inbox.id), [3]);
  assert.equal((await expunged).seq, 3);

  // the session's view agrees with the database: UIDs 1, 2, 4, with UID 2 flagged
  const list = await c.fetchAll('1:*', { uid: true, flags: true });
  assert.deepEqual(list.map((m) => m.uid), [1, 2, 4]);
  assert.ok(list[1].flags!.has('\\Flagged'));
  await other.close();

  // 3. `postoffice user del` from another process: the selected mailbox is gone, the server says BYE
  void c.idle().catch(() => undefined);
  const closed = once(c, 'close');
  const d = await po(lab.dataDir, ['user', 'del', 'bob@example.test']);
  assert.equal(d.code, 0, d.err);
  await closed;
});

test('a store announces nothing of its own writes twice, and nothing while nobody listens', { timeout: 30_000 }, async (t) => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-other-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const a = new SqliteStore({ dataDir });
  const b = new SqliteStore({ dataDir });
  t.after(async () => { await a.close(); await b.close(); });
  await a.domains.add('example.test');
  const user = await a.users.add('bob@example.test', 'x');
  const inbox = (await a.mailboxes.get(user.id, 'INBOX'))!;
  // written while `a` has no listener: not news once it starts listening
  await b.messages.append(inbox.id, fixture('plain.eml'));
  const heard: string[] = [];
  a.events.on('change', (c) => heard.push(`${c.kind}:${'uids' in c ? c.uids.join(',') : 'changes' in c ? c.changes.map((x) => `${x.uid}=${x.flags.join(' ')}`).join(',') : ''}`));
  // interleaved: our own append, theirs, ours again, their flag change
  await a.messages.append(inbox.id, fixture('plain.eml'));
  await b.messages.append(inbox.id, fixture('multipart.eml'));
  await a.messages.append(inbox.id, fixture('plain.eml'));
  await b.messages.setFlags(inbox.id, [1], 'add', ['\\Seen']);
  // the watcher polls: wait until both of b's writes have been heard
  while (heard.length < 4) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 700)); // nothing more arrives
  assert.deepEqual(heard.slice().sort(), ['exists:2', 'exists:3', 'exists:4', 'flags:1=\\Seen'].sort());
});
