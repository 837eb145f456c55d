// The Store contract, asserted the same way against both backends: SQLite (a temp data dir, the
// server's writer-thread store) and PostgreSQL (a private cluster, test/helpers/pg.ts). Accounts,
// mailboxes, the one delivery transaction (UIDs, MODSEQ, bytes stored once and shared), flags,
// expunge (RFC 4315), copy/move, the queue, the journey, and change events — also those of a
// second store on the same database, as a second node (or a CLI beside the server) would be.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import pg from 'pg';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { openStore, openToolStore, StoreError, type MailboxChange, type Store } from '../../src/store/index.js';
import { PgDb } from '../../src/store/postgres/db.js';
import { PG_MIGRATIONS_DIR, type PgStore } from '../../src/store/postgres/pg-store.js';
import { parseMime } from '../../src/mail/mime.js';
import { sessionId } from '../../src/smtp/smtp-server-patch.js';
import { pgDatabase, pgUnavailable, restartPgCluster } from '../helpers/pg.js';

interface Backend {
  name: string;
  skip: string | false;
  /** a fresh, empty database; `open` opens one more store on it (another node) */
  fresh(t: TestContext): Promise<{ open: () => Promise<Store>; tool: () => Promise<Store> }>;
}

const backends: Backend[] = [
  {
    name: 'sqlite',
    skip: false,
    async fresh(t) {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-contract-'));
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      return { open: () => openStore(dir), tool: () => openToolStore(dir) };
    },
  },
  {
    name: 'postgres',
    skip: pgUnavailable() ?? false,
    async fresh(t) {
      const url = await pgDatabase(t);
      return { open: () => openStore('/nonexistent', { storeUrl: url }), tool: () => openToolStore('/nonexistent', { storeUrl: url }) };
    },
  },
];

const rejects = (p: Promise<unknown>, reason: StoreError['reason']) =>
  assert.rejects(p, (err: unknown) => err instanceof StoreError && err.reason === reason, `expected StoreError ${reason}`);

function message(subject: string, body = 'hello\n'): Buffer {
  return Buffer.from(`From: alice@example.test\nTo: bob@example.test\nSubject: ${subject}\nMessage-ID: <${subject.replace(/\W/g, '')}@example.test>\n\n${body}`);
}

/** records every change a store announces */
function recorder(store: Store) {
  const seen: MailboxChange[] = [];
  const waiters: { pred: (c: MailboxChange[]) => boolean; resolve: () => void }[] = [];
  const f = (c: MailboxChange) => {
    seen.push(c);
    for (const w of [...waiters]) if (w.pred(seen)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(); }
  };
  store.events.on('change', f);
  return {
    seen,
    stop: () => store.events.off('change', f),
    /** resolves once the changes seen so far satisfy pred (fails the test after 10 s) */
    until: (pred: (c: MailboxChange[]) => boolean, what: string, timeoutMs = 10_000) => new Promise<void>((resolve, reject) => {
      if (pred(seen)) return resolve();
      const timer = setTimeout(() => reject(new Error(`no change event: ${what}; seen ${JSON.stringify(seen.map((c) => ({ ...c, origin: undefined })))}`)), timeoutMs);
      waiters.push({ pred, resolve: () => { clearTimeout(timer); resolve(); } });
    }),
  };
}

async function setup(t: TestContext, b: Backend) {
  const db = await b.fresh(t);
  const store = await db.open();
  t.after(() => store.close());
  await store.domains.add('example.test');
  const alice = await store.users.add('alice@example.test', 'hash-a');
  const bob = await store.users.add('Bob@Example.test', 'hash-b');
  return { db, store, alice, bob };
}

for (const b of backends) {
  describe(`store contract: ${b.name}`, { skip: b.skip }, () => {
    test('domains, users, aliases and address resolution', async (t) => {
      const { store, alice, bob } = await setup(t, b);
      assert.equal(await store.domains.isLocal('EXAMPLE.test'), true);
      assert.equal(await store.domains.isLocal('other.test'), false);
      assert.equal(await store.domains.add('example.test'), false, 'already there');
      await rejects(store.domains.add('not a domain'), 'invalid');
      assert.deepEqual((await store.domains.list()).map((d) => [d.name, d.users]), [['example.test', 2]]);
      await rejects(store.domains.del('example.test'), 'inuse');

      assert.equal(bob.address, 'bob@example.test', 'addresses are kept lower-case');
      await rejects(store.users.add('alice@example.test', 'x'), 'exists');
      await rejects(store.users.add('carol@nowhere.test', 'x'), 'invalid');
      assert.equal((await store.users.get('ALICE@example.test'))?.id, alice.id, 'look-ups ignore case');
      assert.equal((await store.users.getById(bob.id))?.address, 'bob@example.test');
      assert.equal((await store.users.passwordHash('alice@example.test'))?.hash, 'hash-a');
      assert.equal(await store.users.setPassword('alice@example.test', 'hash-a2'), true);
      assert.equal((await store.users.passwordHash('alice@example.test'))?.hash, 'hash-a2');
      assert.equal(await store.users.setPassword('nobody@example.test', 'x'), false);
      assert.equal(await store.users.setAdmin('alice@example.test', true), true);
      assert.equal((await store.users.get('alice@example.test'))?.admin, true);
      assert.deepEqual((await store.users.list('example.test')).map((u) => u.address), ['alice@example.test', 'bob@example.test']);
      assert.deepEqual((await store.mailboxes.list(alice.id)).map((m) => [m.name, m.specialUse]).sort(),
        [['Archive', '\\Archive'], ['Drafts', '\\Drafts'], ['INBOX', null], ['Junk', '\\Junk'], ['Sent', '\\Sent'], ['Trash', '\\Trash']]);

      assert.equal(await store.aliases.add('info@example.test', 'alice@example.test'), true);
      assert.equal(await store.aliases.add('info@example.test', 'bob@example.test'), true);
      assert.equal(await store.aliases.add('info@example.test', 'bob@example.test'), false, 'already there');
      assert.equal(await store.aliases.add('ext@example.test', 'someone@remote.test'), true);
      await rejects(store.aliases.add('alice@example.test', 'bob@example.test'), 'exists');
      await rejects(store.aliases.add('x@other.test', 'bob@example.test'), 'invalid');
      assert.equal((await store.aliases.list()).length, 3);

      const ids = (r: Awaited<ReturnType<Store['users']['resolve']>>) => (r.kind === 'local' ? r.users.map((u) => u.userId).sort() : r.kind);
      assert.deepEqual(ids(await store.users.resolve('Alice@example.test')), [alice.id]);
      assert.deepEqual(ids(await store.users.resolve('alice+news@example.test')), [alice.id], 'sub-addressing');
      assert.deepEqual(ids(await store.users.resolve('INFO@example.test')), [alice.id, bob.id].sort());
      assert.deepEqual(await store.users.resolve('ext@example.test'), { kind: 'local', users: [], remote: ['someone@remote.test'] });
      assert.equal((await store.users.resolve('nobody@example.test')).kind, 'unknown');
      assert.equal((await store.users.resolve('x@remote.test')).kind, 'remote');
      assert.equal(await store.aliases.add('@example.test', 'bob@example.test'), true);
      assert.deepEqual(ids(await store.users.resolve('nobody@example.test')), [bob.id], 'catch-all');
      assert.deepEqual((await store.users.sendAs(alice.id)).sort(), ['alice@example.test', 'info@example.test']);

      assert.equal(await store.aliases.del('info@example.test', 'bob@example.test'), 1);
      assert.equal(await store.aliases.del('info@example.test'), 1);
      assert.equal(await store.users.del('bob@example.test'), true);
      assert.equal(await store.users.get('bob@example.test'), null);
      assert.equal(await store.users.del('bob@example.test'), false);
    });

    test('mailboxes: create, rename with children, RENAME INBOX, subscribe, delete; UIDVALIDITY only grows', async (t) => {
      const { store, alice } = await setup(t, b);
      const inbox = (await store.mailboxes.get(alice.id, 'inbox'))!;
      assert.equal(inbox.name, 'INBOX');
      assert.equal(inbox.uidNext, 1);
      const a = await store.mailboxes.create(alice.id, 'Projects');
      const ax = await store.mailboxes.create(alice.id, 'Projects/2026');
      await rejects(store.mailboxes.create(alice.id, 'Projects'), 'exists');
      assert.ok(a.uidValidity >= inbox.uidValidity && ax.uidValidity > a.uidValidity, 'UIDVALIDITY grows with every mailbox');
      await store.mailboxes.rename(alice.id, 'Projects', 'Work');
      assert.equal(await store.mailboxes.get(alice.id, 'Projects'), null);
      assert.equal((await store.mailboxes.get(alice.id, 'Work/2026'))?.id, ax.id, 'children move along');
      await rejects(store.mailboxes.rename(alice.id, 'Nope', 'X'), 'notfound');
      await rejects(store.mailboxes.rename(alice.id, 'Work', 'Sent'), 'exists');
      await store.mailboxes.subscribe(a.id, false);
      assert.equal((await store.mailboxes.getById(a.id))?.subscribed, false);
      // RFC 3501 §6.3.6: subscriptions are names; CREATE adds none, DELETE leaves them
      assert.deepEqual(await store.mailboxes.subscriptions(alice.id), ['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
      await store.mailboxes.setSubscribed(alice.id, 'Work/2026', true);
      await store.mailboxes.setSubscribed(alice.id, 'Not/There', true);
      await store.mailboxes.setSubscribed(alice.id, 'Junk', false);
      assert.deepEqual(await store.mailboxes.subscriptions(alice.id), ['Archive', 'Drafts', 'INBOX', 'Not/There', 'Sent', 'Trash', 'Work/2026']);

      await store.messages.append(inbox.id, message('one'), { flags: ['\\Seen'] });
      await store.messages.append(inbox.id, message('two'));
      await store.mailboxes.rename(alice.id, 'INBOX', 'Old');
      const old = (await store.mailboxes.get(alice.id, 'Old'))!;
      assert.equal((await store.messages.list(old.id)).length, 2, 'RENAME INBOX moves the messages');
      assert.deepEqual((await store.messages.list(old.id)).map((m) => m.flags), [['\\Seen'], []]);
      assert.equal((await store.messages.list(inbox.id)).length, 0, 'INBOX stays, empty');

      await store.mailboxes.delete(ax.id);
      assert.ok((await store.mailboxes.subscriptions(alice.id)).includes('Work/2026'), 'DELETE leaves the subscription');
      await store.mailboxes.delete(a.id);
      assert.equal(await store.mailboxes.getById(a.id), null);
      const again = await store.mailboxes.create(alice.id, 'Work');
      assert.ok(again.uidValidity > a.uidValidity, 'a mailbox created anew gets a new UIDVALIDITY');
    });

    test('deliver: one transaction, UIDs and MODSEQ per mailbox, the bytes stored once and shared, the journey', async (t) => {
      const { store, alice, bob } = await setup(t, b);
      let queued = 0;
      store.events.on('queued', () => queued++);
      const rec = recorder(store);
      const raw = message('Hello both', 'bare LF lines\nbecome CRLF\n');
      const res = await store.deliver({
        msgId: 'k1.1', mailFrom: 'carol@remote.test', raw,
        local: [{ userId: alice.id, address: 'alice@example.test', rcptTo: 'alice@example.test' }, { userId: bob.id, address: 'bob@example.test', rcptTo: 'bob@example.test' }],
        remote: ['x@remote.test', 'y@remote.test', 'z@far.test'],
        journey: [{ msgId: 'k1.1', agent: 'MTA in', step: 'received', details: { from: 'carol@remote.test' } }],
      });
      assert.equal(res.messageId, '<Helloboth@example.test>');
      assert.deepEqual(res.stored.map((s) => [s.address, s.mailbox, s.uid]), [['alice@example.test', 'INBOX', 1], ['bob@example.test', 'INBOX', 1]]);
      assert.deepEqual(res.queued.map((q) => [q.domain, q.rcpts]).sort(), [['far.test', ['z@far.test']], ['remote.test', ['x@remote.test', 'y@remote.test']]]);
      assert.equal(queued, 1, "'queued' once for the delivery");

      const ia = (await store.mailboxes.get(alice.id, 'INBOX'))!;
      const ib = (await store.mailboxes.get(bob.id, 'INBOX'))!;
      const [ma] = await store.messages.list(ia.id);
      const [mb] = await store.messages.list(ib.id);
      assert.equal(ma.blobId, mb.blobId, 'one blob, shared by both copies');
      assert.equal(ma.msgId, 'k1.1');
      const stored = await store.messages.raw(ma.blobId);
      assert.equal(stored.toString(), raw.toString().replace(/\n/g, '\r\n'), 'stored with CRLF line ends');
      assert.equal(ma.size, stored.length);
      assert.equal((await store.messages.meta(ma.blobId)).subject, 'Hello both');
      assert.match((await store.messages.meta(ma.blobId)).searchText, /become CRLF/);
      assert.equal(ia.uidNext, 2);
      assert.ok(ia.highestModseq > 1);

      // the same bytes again: still one blob; the next UID in each mailbox
      const res2 = await store.deliver({ msgId: 'k1.2', mailFrom: '', raw, local: [{ userId: alice.id, address: 'alice@example.test', rcptTo: 'alice@example.test' }], remote: [], journey: [] });
      assert.equal(res2.stored[0].uid, 2);
      const list = await store.messages.list(ia.id);
      assert.deepEqual(list.map((m) => m.uid), [1, 2]);
      assert.equal(list[1].blobId, ma.blobId, 'content-addressed: the same bytes are the same blob');
      assert.ok(list[1].modseq > list[0].modseq, 'MODSEQ grows');

      // a special-use target, and a missing one falls back to INBOX
      const junk = await store.deliver({ msgId: 'k1.3', mailFrom: '', raw: message('spam'), local: [{ userId: bob.id, address: 'bob@example.test', rcptTo: 'bob@example.test', mailbox: '\\Junk' }], remote: [], journey: [] });
      assert.equal(junk.stored[0].mailbox, 'Junk');
      const lost = await store.deliver({ msgId: 'k1.4', mailFrom: '', raw: message('lost'), local: [{ userId: bob.id, address: 'bob@example.test', rcptTo: 'bob@example.test', mailbox: 'Nope' }], remote: [], journey: [] });
      assert.deepEqual([lost.stored[0].mailbox, lost.stored[0].uid], ['INBOX', 2]);

      const st = (await store.mailboxes.status(ia.id))!;
      assert.deepEqual([st.messages, st.unseen, st.deleted, st.size], [2, 2, 0, stored.length * 2]);
      assert.deepEqual(await store.mailboxes.claimRecent(ia.id), { after: 0, through: 2 });
      assert.deepEqual(await store.mailboxes.claimRecent(ia.id), { after: 2, through: 2 }, 'taken once');
      assert.equal((await store.mailboxes.status(ia.id))!.recent, 0);
      assert.deepEqual(await store.users.usage(alice.id), { bytes: stored.length * 2, messages: 2 });

      const steps = (await store.journey.trace('k1.1')).map((r) => `${r.agent}:${r.step}`);
      assert.deepEqual(steps.slice(0, 1), ['MTA in:received']);
      assert.equal(steps.filter((s) => s === 'MDA:stored').length, 2);
      assert.equal(steps.filter((s) => s === 'MTA out:queued').length, 2);
      assert.deepEqual((await store.journey.trace('<Helloboth@example.test>')).map((r) => r.msgId).filter((v, i, a) => a.indexOf(v) === i).sort(), ['k1.1', 'k1.2'], 'trace by Message-ID');

      await rec.until((s) => s.some((c) => c.kind === 'exists' && c.mailboxId === ia.id && c.uids.includes(2)), 'exists for uid 2');
      const exists = rec.seen.filter((c): c is Extract<MailboxChange, { kind: 'exists' }> => c.kind === 'exists' && c.mailboxId === ia.id);
      assert.deepEqual(exists.flatMap((c) => c.uids), [1, 2]);
      assert.equal(exists[exists.length - 1].modseq, list[1].modseq);
    });

    test('deliveries at the same moment: each its own UID; one that fails takes only itself back', async (t) => {
      const { store, alice, bob } = await setup(t, b);
      const inbox = (await store.mailboxes.get(alice.id, 'INBOX'))!;
      const rec = recorder(store);
      const to = (userId: number, address: string) => [{ userId, address, rcptTo: address }];
      const results = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => store.deliver({
        msgId: `g.${i}`, mailFrom: '', raw: message(`group ${i}`), remote: [], journey: [],
        // every seventh goes to a user that does not exist: refused, the others stored
        local: i % 7 === 3 ? to(987654, 'ghost@example.test') : i % 2 ? to(bob.id, 'bob@example.test') : to(alice.id, 'alice@example.test'),
      })));
      const failed = results.map((r, i) => (r.status === 'rejected' ? i : -1)).filter((i) => i >= 0);
      assert.deepEqual(failed, [3, 10, 17, 24]);
      const aliceUids = results.flatMap((r) => (r.status === 'fulfilled' && r.value.stored[0].address === 'alice@example.test' ? [r.value.stored[0].uid] : [])).sort((x, y) => x - y);
      assert.deepEqual((await store.messages.list(inbox.id)).map((m) => m.uid), aliceUids);
      assert.deepEqual(aliceUids, Array.from({ length: aliceUids.length }, (_, i) => i + 1), 'no UID lost to the failed ones');
      for (const i of failed) assert.deepEqual(await store.journey.trace(`g.${i}`), [], 'nothing of a refused delivery stays');
      await rec.until((s) => s.filter((c) => c.kind === 'exists' && c.mailboxId === inbox.id).flatMap((c) => (c as { uids: number[] }).uids).length === aliceUids.length, 'every new UID announced');
      assert.deepEqual(rec.seen.filter((c) => c.kind === 'exists' && c.mailboxId === inbox.id).flatMap((c) => (c as { uids: number[] }).uids), aliceUids, 'announced once each, ascending');
    });

    test('flags: add, remove, set, UNCHANGEDSINCE, MODSEQ, announced with their origin', async (t) => {
      const { store, alice } = await setup(t, b);
      const inbox = (await store.mailboxes.get(alice.id, 'INBOX'))!;
      for (const s of ['a', 'b', 'c']) await store.messages.append(inbox.id, message(s));
      const rec = recorder(store);
      const origin = { session: 'me' };
      const r1 = await store.messages.setFlags(inbox.id, [1, 2, 9], 'add', ['\\Seen', '$Work'], { origin });
      assert.deepEqual(r1.changed.map((c) => [c.uid, c.flags]), [[1, ['\\Seen', '$Work']], [2, ['\\Seen', '$Work']]]);
      assert.deepEqual(r1.failed, []);
      const m1 = r1.changed[0].modseq;
      assert.equal(r1.changed[1].modseq, m1, 'one MODSEQ for one command');
      const r2 = await store.messages.setFlags(inbox.id, [1], 'add', ['\\Seen']);
      assert.deepEqual(r2.changed, [], 'no change, no new MODSEQ');
      const r3 = await store.messages.setFlags(inbox.id, [1, 3], 'remove', ['$Work'], { unchangedSince: m1 - 1 });
      assert.deepEqual(r3.failed, [1], 'RFC 7162: modified since');
      assert.deepEqual(r3.changed, [], 'message 3 had no $Work');
      await store.messages.setFlags(inbox.id, [2], 'set', ['\\Flagged']);
      const list = await store.messages.list(inbox.id);
      assert.deepEqual(list.map((m) => m.flags), [['\\Seen', '$Work'], ['\\Flagged'], []]);
      assert.ok(list[1].modseq > m1);
      assert.equal((await store.mailboxes.getById(inbox.id))!.highestModseq, list[1].modseq);
      assert.equal((await store.mailboxes.status(inbox.id))!.unseen, 2);
      await rec.until((s) => s.filter((c) => c.kind === 'flags').length >= 2, 'two flag changes');
      const flags = rec.seen.filter((c): c is Extract<MailboxChange, { kind: 'flags' }> => c.kind === 'flags');
      assert.equal(flags[0].origin, origin, 'the origin object comes back as given');
      assert.deepEqual(flags[1].changes.map((c) => [c.uid, c.flags]), [[2, ['\\Flagged']]]);
    });

    test('expunge: only \\Deleted messages (RFC 4315 UID EXPUNGE too); remove: the given ones; tombstones for QRESYNC, bytes released', async (t) => {
      const { store, alice } = await setup(t, b);
      const inbox = (await store.mailboxes.get(alice.id, 'INBOX'))!;
      for (const s of ['a', 'b', 'c', 'd']) await store.messages.append(inbox.id, message(s));
      const blob4 = (await store.messages.get(inbox.id, 4))!.blobId;
      const before = (await store.mailboxes.getById(inbox.id))!.highestModseq;
      const rec = recorder(store);
      await store.messages.setFlags(inbox.id, [1, 2, 4], 'add', ['\\Deleted']);
      assert.deepEqual(await store.messages.expunge(inbox.id, [2, 3]), [2], 'UID EXPUNGE 2:3 removes only the \\Deleted one');
      assert.deepEqual(await store.messages.expunge(inbox.id), [1, 4]);
      assert.deepEqual(await store.messages.expunge(inbox.id), [], 'nothing left to expunge');
      await store.messages.append(inbox.id, message('e'));
      assert.deepEqual(await store.messages.remove(inbox.id, [5, 99]), [5], 'remove (POP3 QUIT): the given UIDs, whatever their flags');
      assert.deepEqual((await store.messages.list(inbox.id)).map((m) => m.uid), [3]);
      assert.deepEqual(await store.messages.expungedSince(inbox.id, before), [1, 2, 4, 5]);
      await rejects(store.messages.raw(blob4), 'notfound');
      await rec.until((s) => s.filter((c) => c.kind === 'expunge').length >= 2, 'two expunges');
      await rec.until((s) => s.filter((c) => c.kind === 'expunge').length >= 3, 'three expunges');
      assert.deepEqual(rec.seen.filter((c) => c.kind === 'expunge').map((c) => (c as { uids: number[] }).uids), [[2], [1, 4], [5]]);
    });

    test('copy and move keep flags and share the bytes; move announces an expunge in the source', async (t) => {
      const { store, alice } = await setup(t, b);
      const inbox = (await store.mailboxes.get(alice.id, 'INBOX'))!;
      const archive = (await store.mailboxes.get(alice.id, 'Archive'))!;
      for (const s of ['a', 'b', 'c']) await store.messages.append(inbox.id, message(s), { flags: s === 'b' ? ['\\Answered'] : [] });
      const rec = recorder(store);
      const c = await store.messages.copy(inbox.id, [2, 3, 99], archive.id);
      assert.equal(c.uidValidity, archive.uidValidity);
      assert.deepEqual(c.map, [[2, 1], [3, 2]]);
      const m = await store.messages.move(inbox.id, [1, 2], archive.id, { origin: 'mover' });
      assert.deepEqual(m.map, [[1, 3], [2, 4]]);
      const arch = await store.messages.list(archive.id);
      assert.deepEqual(arch.map((x) => [x.uid, x.flags]), [[1, ['\\Answered']], [2, []], [3, []], [4, ['\\Answered']]]);
      assert.deepEqual((await store.messages.list(inbox.id)).map((x) => x.uid), [3]);
      assert.equal(arch[0].blobId, arch[3].blobId, 'copies share one blob');
      // the last copy of b goes: its bytes stay while another copy refers to them
      await store.messages.setFlags(archive.id, [1], 'add', ['\\Deleted']);
      await store.messages.expunge(archive.id);
      assert.match((await store.messages.raw(arch[3].blobId)).toString(), /Subject: b/);
      await rec.until((s) => s.some((x) => x.kind === 'expunge' && x.mailboxId === inbox.id), 'move expunge');
      const ex = rec.seen.find((x) => x.kind === 'expunge' && x.mailboxId === inbox.id) as Extract<MailboxChange, { kind: 'expunge' }>;
      assert.deepEqual(ex.uids, [1, 2]);
      assert.equal(ex.origin, 'mover');
    });

    test('appendMany (imports): one transaction, bytes the mailbox holds are skipped, unparsable ones reported; digests', async (t) => {
      const { store, alice } = await setup(t, b);
      const inbox = (await store.mailboxes.get(alice.id, 'INBOX'))!;
      await store.messages.append(inbox.id, message('held'));
      const rec = recorder(store);
      const out = await store.messages.appendMany(inbox.id, [
        { raw: message('held'), flags: [], internalDate: 1_000, msgId: 'imp-1.1' },
        { raw: message('new one'), flags: ['\\Seen', '$Imported'], internalDate: 1_700_000_000_000, msgId: 'imp-1.2', source: 'a.mbox' },
        { raw: message('new two'), flags: [], internalDate: 1_700_000_001_000, msgId: 'imp-1.3' },
        { raw: message('new one'), flags: [], internalDate: 1_000, msgId: 'imp-1.4' },
      ]);
      assert.deepEqual(out, [{ duplicate: true }, { uid: 2 }, { uid: 3 }, { duplicate: true }]);
      const list = await store.messages.list(inbox.id);
      assert.deepEqual(list.map((m) => [m.uid, m.flags, m.internalDate, m.msgId]), [
        [1, [], list[0].internalDate, null], [2, ['\\Seen', '$Imported'], 1_700_000_000_000, 'imp-1.2'], [3, [], 1_700_000_001_000, 'imp-1.3']]);
      assert.deepEqual((await store.journey.trace('imp-1.2')).map((r) => [r.agent, r.step, r.details.source]), [['MDA', 'imported', 'a.mbox']]);
      assert.deepEqual((await store.messages.digests(inbox.id)).map((d) => [d.uid, d.messageId]), [[1, '<held@example.test>'], [2, '<newone@example.test>'], [3, '<newtwo@example.test>']]);
      await rec.until((s) => s.some((c) => c.kind === 'exists' && c.uids.includes(3)), 'the import announced');
    });

    test('queue: due, flush, reschedule, finish (bytes released), del', async (t) => {
      const { store } = await setup(t, b);
      const raw = message('out');
      const res = await store.deliver({ msgId: 'q.1', mailFrom: 'alice@example.test', raw, local: [], remote: ['a@remote.test', 'b@far.test'], queueData: { envid: 'E1' }, journey: [] });
      const [e1, e2] = res.queued.map((q) => q.id);
      const list = await store.queue.list();
      assert.equal(list.length, 2);
      const got = (await store.queue.get(e1))!;
      assert.deepEqual([got.msgId, got.mailFrom, got.status, got.attempts, got.data], ['q.1', 'alice@example.test', 'queued', 0, { envid: 'E1' }]);
      assert.equal(got.size, raw.toString().replace(/\n/g, '\r\n').length);
      assert.equal((await store.queue.due(Date.now() + 1, 10)).length, 2);
      const later = Date.now() + 3_600_000;
      await store.queue.reschedule(e1, { rcpts: [{ address: 'a@remote.test', status: 'pending', reply: '451 later' }], attempts: 1, nextAttempt: later, lastReply: '451 later' },
        [{ msgId: 'q.1', agent: 'MTA out', step: 'deferred' }]);
      assert.deepEqual((await store.queue.due(Date.now() + 1, 10)).map((e) => e.id), [e2]);
      await rejects(store.queue.reschedule(e1, { rcpts: [{ address: 'a@remote.test', status: 'delivered' }] }), 'invalid');
      assert.equal(await store.queue.flush(e1), 1);
      assert.equal((await store.queue.due(Date.now() + 1, 10)).length, 2, 'flushed: due now');
      const ended = await store.queue.finish(e1, { rcpts: [{ address: 'a@remote.test', status: 'delivered', reply: '250 ok' }], attempts: 2, lastReply: '250 ok' },
        [{ msgId: 'q.1', agent: 'MTA out', step: 'delivered' }]);
      assert.deepEqual([ended.status, ended.attempts], ['delivered', 2]);
      assert.equal(await store.queue.get(e1), null);
      await rejects(store.queue.finish(e1, { rcpts: [], attempts: 1, lastReply: null }), 'notfound');
      const blob = (await store.queue.get(e2))!.blobId;
      assert.ok((await store.messages.raw(blob)).length > 0, 'the other entry still holds the bytes');
      assert.equal(await store.queue.del(e2), true);
      assert.equal(await store.queue.del(e2), false);
      assert.deepEqual(await store.queue.list(), []);
      assert.deepEqual((await store.journey.trace('q.1')).map((r) => r.step), ['queued', 'queued', 'deferred', 'delivered']);
    });

    test('journey: record, accessed steps, recent, lastId; submissions; transcripts', async (t) => {
      const { store, alice } = await setup(t, b);
      assert.equal(await store.journey.lastId(), 0);
      const t0 = Date.now() - 10_000;
      await store.journey.record([
        { msgId: 'j.1', agent: 'MTA in', step: 'received', time: t0, messageId: '<j1@x>' },
        { msgId: 'j.2', agent: 'MTA in', step: 'received', time: t0 + 1 },
        { msgId: 'j.1', agent: 'MDA', step: 'stored', time: t0 + 2, details: { uid: 1 } },
      ]);
      const last = await store.journey.lastId();
      assert.ok(last > 0);
      await store.journey.accessed({ sid: 's1', user: 'alice@example.test', protocol: 'imap', client: 'test' }, 'fetched',
        [{ msgId: 'j.1', uid: 1, mailbox: 'INBOX', time: t0 + 3 }, { msgId: 'j.1', uid: 1, mailbox: 'INBOX', time: t0 + 4 }]);
      const tr = await store.journey.trace('j1@x');
      assert.deepEqual(tr.map((r) => `${r.agent}:${r.step}`), ['MTA in:received', 'MDA:stored', 'MUA access:fetched']);
      assert.deepEqual(tr[2].details, { user: 'alice@example.test', session: 's1', client: 'test', mailbox: 'INBOX', uid: 1 });
      const recent = await store.journey.recent({ limit: 10 });
      assert.deepEqual(recent.map((r) => [r.msgId, r.lastStep, r.steps]), [['j.1', 'stored', 3], ['j.2', 'received', 1]]);
      assert.deepEqual((await store.journey.recent({ limit: 10, afterId: last })).length, 0);
      assert.deepEqual((await store.journey.recent({ limit: 1 })).map((r) => r.msgId), ['j.1']);

      const now = Date.now();
      await store.deliver({ msgId: 'sub.1', mailFrom: 'alice@example.test', raw: message('sub'), local: [], remote: ['r@remote.test'], submission: { userId: alice.id, recipients: 1 }, journey: [] });
      assert.deepEqual(await store.submissions.count(alice.id, now - 1000), { messages: 1, recipients: 1 });
      assert.deepEqual((await store.submissions.recent(alice.id, now - 1000, 5)).map((s) => s.msgId), ['sub.1']);
      assert.equal(await store.submissions.reset(alice.id), 1);

      await store.transcripts.write({ sid: 'T1', protocol: 'smtp', local: '127.0.0.1:25', remote: '127.0.0.1:5000', user: null, tls: null, started: now, ended: null, msgIds: ['sub.1'] },
        [{ t: now, dir: 'S', text: '220 hi' }, { t: now, dir: 'C', text: 'EHLO x' }]);
      await store.transcripts.write({ sid: 'T1', protocol: 'smtp', local: null, remote: null, user: 'alice@example.test', tls: null, started: now, ended: now + 5, msgIds: [] },
        [{ t: now + 5, dir: 'C', text: 'QUIT' }]);
      const tx = (await store.transcripts.get('T1'))!;
      assert.deepEqual([tx.user, tx.ended, tx.local, tx.lines.map((l) => l.text)], ['alice@example.test', now + 5, '127.0.0.1:25', ['220 hi', 'EHLO x', 'QUIT']]);
      assert.deepEqual((await store.transcripts.list({ limit: 5, msgId: 'sub.1' })).map((s) => [s.sid, s.lines]), [['T1', 3]]);
      const pruned = await store.prune({ transcriptsBefore: now + 1, transcriptMaxBytes: 1 << 30, journeyBefore: t0 + 2 });
      assert.equal(pruned.transcripts, 1);
      assert.ok(pruned.journey >= 2);
      assert.deepEqual((await store.journey.trace('j.1')).map((r) => r.step), ['stored', 'fetched']);
    });

    test('journey: access steps of many sessions over time-sorted ids (two buckets): trace, counts, repeats, prune in chunks', async (t) => {
      const { store } = await setup(t, b);
      // ids as the SMTP listener makes them: the time in 10 base-32 digits first (a bucket is their first 6 characters)
      const t0 = Date.now() - 60_000;
      const edge = Math.ceil(t0 / 2 ** 20) * 2 ** 20; // where the bucket changes
      const ids = Array.from({ length: 3000 }, (_, i) => `${sessionId(edge - 1500 + i)}.1`);
      assert.notEqual(ids[0].slice(0, 6), ids[2999].slice(0, 6), 'the messages span two buckets');
      await store.journey.record(ids.map((msgId, i) => ({ msgId, agent: 'MDA' as const, step: 'stored', time: t0 + i, details: { uid: i + 1 } })));
      const who = (n: number) => ({ sid: `r${n}`, user: 'alice@example.test', protocol: n === 3 ? 'pop3' : 'imap', client: `c${n}` });
      const steps = (from: number, to: number, time: number) => ids.slice(from, to).map((msgId, i) => ({ msgId, uid: from + i + 1, mailbox: 'INBOX', time }));
      const old = t0 + 10_000;
      const fresh = Date.now();
      await store.journey.accessed(who(1), 'fetched', steps(0, 3000, old)); // an old session: everything
      await store.journey.accessed(who(2), 'fetched', steps(1000, 3000, fresh)); // a newer one: the last 2,000
      await store.journey.accessed(who(2), 'fetched', steps(2990, 3000, fresh + 5)); // repeats: one step per message and session
      await store.journey.accessed(who(3), 'retrieved', steps(2999, 3000, fresh));
      const steps2999 = (await store.journey.trace(ids[2999])).filter((r) => r.agent === 'MUA access');
      assert.deepEqual(steps2999.map((r) => [r.step, r.details.session, r.time]).sort(),
        [['fetched', 'r1', old], ['fetched', 'r2', fresh], ['retrieved', 'r3', fresh]].sort());
      assert.deepEqual((await store.journey.trace(ids[0])).map((r) => `${r.step}:${r.details.session ?? ''}`), ['stored:', 'fetched:r1']);
      const recent = await store.journey.recent({ limit: 3 });
      assert.deepEqual(recent.map((r) => [r.msgId, r.steps]), [[ids[2999], 4], [ids[2998], 3], [ids[2997], 3]]);
      // the old session's 3,000 steps go (more than one prune chunk of the other backend's walk), the newer ones stay
      const pruned = await store.prune({ transcriptsBefore: 0, transcriptMaxBytes: 1 << 30, journeyBefore: old + 1 });
      assert.ok(pruned.journey >= 3000 + 3000, `pruned ${pruned.journey}`);
      assert.deepEqual((await store.journey.trace(ids[1500])).map((r) => `${r.step}:${r.details.session ?? ''}`), ['fetched:r2']);
      assert.deepEqual((await store.journey.trace(ids[500])), []);
    });

    test('a second store on the same database (another node, or the CLI) sees and announces the same mailboxes', async (t) => {
      const { db, store, alice } = await setup(t, b);
      const other = await db.open();
      t.after(() => other.close());
      const inbox = (await store.mailboxes.get(alice.id, 'INBOX'))!;
      const box = await store.mailboxes.create(alice.id, 'Gone');
      const rec = recorder(other);
      const local = [{ userId: alice.id, address: 'alice@example.test', rcptTo: 'alice@example.test' }];
      await store.deliver({ msgId: 'n.1', mailFrom: '', raw: message('from A'), local, remote: [], journey: [] });
      await rec.until((s) => s.some((c) => c.kind === 'exists' && c.uids.includes(1)), 'the other store announces the new mail');
      assert.deepEqual((await other.messages.list(inbox.id)).map((m) => m.uid), [1], "the other store's list is current");
      await store.messages.setFlags(inbox.id, [1], 'add', ['\\Seen', '\\Deleted']);
      await rec.until((s) => s.some((c) => c.kind === 'flags'), 'flags');
      assert.deepEqual((await other.messages.list(inbox.id))[0].flags, ['\\Seen', '\\Deleted'], 'no stale cached list');
      await store.messages.expunge(inbox.id);
      await rec.until((s) => s.some((c) => c.kind === 'expunge' && c.uids.includes(1)), 'expunge');
      await store.mailboxes.delete(box.id);
      await rec.until((s) => s.some((c) => c.kind === 'deleted' && c.mailboxId === box.id), 'deleted');

      // both deliver to one mailbox at once: distinct UIDs, announced ascending without gaps on both
      const recA = recorder(store);
      const N = 20;
      await Promise.all(Array.from({ length: 2 * N }, (_, i) =>
        (i % 2 ? other : store).deliver({ msgId: `c.${i}`, mailFrom: '', raw: message(`concurrent ${i}`), local, remote: [], journey: [] })));
      const uids = (await store.messages.list(inbox.id)).map((m) => m.uid);
      assert.deepEqual(uids, Array.from({ length: 2 * N }, (_, i) => i + 2), 'UIDs 2..41, none shared, none skipped');
      for (const [name, r] of [['first', recA], ['second', rec]] as const) {
        await r.until((s) => s.some((c) => c.kind === 'exists' && c.uids.includes(2 * N + 1)), `${name} store: the last UID`);
        const seen = r.seen.filter((c): c is Extract<MailboxChange, { kind: 'exists' }> => c.kind === 'exists' && c.mailboxId === inbox.id).flatMap((c) => c.uids).filter((u) => u >= 2);
        assert.deepEqual(seen, uids, `${name} store announces every new UID once, ascending`);
      }

      // big changes (more than a NOTIFY payload holds): 2,000 copies, a flag change and an expunge of every other one
      const archive = (await store.mailboxes.get(alice.id, 'Archive'))!;
      const all = (await store.messages.list(inbox.id)).map((m) => m.uid);
      for (let i = 0; i < 50; i++) await store.messages.copy(inbox.id, all, archive.id);
      const copied = (await store.messages.list(archive.id)).map((m) => m.uid);
      assert.equal(copied.length, 2000);
      const odd = copied.filter((u) => u % 2);
      await rec.until((s) => s.some((c) => c.kind === 'exists' && c.mailboxId === archive.id && c.uids.includes(2000)), 'the copies announced');
      const flagged = await store.messages.setFlags(archive.id, odd, 'add', ['\\Deleted', '$Some-Long-Keyword-To-Make-The-Payload-Big']);
      assert.equal(flagged.changed.length, 1000);
      await rec.until((s) => s.some((c) => c.kind === 'flags' && c.mailboxId === archive.id), 'the big flag change announced');
      const fl = rec.seen.filter((c): c is Extract<MailboxChange, { kind: 'flags' }> => c.kind === 'flags' && c.mailboxId === archive.id).flatMap((c) => c.changes);
      assert.deepEqual(fl.map((c) => c.uid), odd, 'every flag change announced on the other store');
      assert.ok(fl.every((c) => c.flags.includes('\\Deleted')));
      await store.messages.expunge(archive.id);
      await rec.until((s) => s.some((c) => c.kind === 'expunge' && c.mailboxId === archive.id), 'the big expunge announced');
      const ex = rec.seen.filter((c): c is Extract<MailboxChange, { kind: 'expunge' }> => c.kind === 'expunge' && c.mailboxId === archive.id).flatMap((c) => c.uids);
      assert.deepEqual(ex, odd, 'every expunged UID announced on the other store');
    });

    // issue 15: SELECT, STATUS, FETCH and SEARCH of a large mailbox without its whole list
    async function assertCounted(store: Store, mailboxId: number, what: string, keywordsEver?: Set<string>) {
      const want = await counted(store, mailboxId);
      const st = (await store.mailboxes.status(mailboxId))!;
      assert.deepEqual({ messages: st.messages, unseen: st.unseen, deleted: st.deleted, size: st.size },
        { messages: want.messages, unseen: want.unseen, deleted: want.deleted, size: want.size }, `status after ${what}`);
      const v = (await store.mailboxes.view(mailboxId))!;
      assert.deepEqual([...v.uids], want.uids, `view uids after ${what}`);
      assert.equal(v.firstUnseen, want.firstUnseen, `first unseen after ${what}`);
      for (const k of want.keywords) assert.ok(v.keywords.includes(k), `keyword ${k} listed after ${what}`);
      if (keywordsEver) assert.deepEqual([...v.keywords].sort(), [...keywordsEver].sort(), `keywords used so far after ${what}`);
      assert.equal(v.mailbox.uidNext, st.uidNext);
      assert.equal(v.recent, st.recent, `recent in view and status after ${what}`);
    }

    test('counters, view and keywords follow every write: deliver, append, copy, move, flags, expunge, remove, RENAME INBOX, delete', async (t) => {
      const { store, alice } = await setup(t, b);
      const inbox = (await store.mailboxes.get(alice.id, 'INBOX'))!;
      const local = [{ userId: alice.id, address: alice.address, rcptTo: alice.address }];
      const kwInbox = new Set<string>();
      let n = 0;
      const deliver = (flags?: string[]) => store.deliver({ msgId: `v.${++n}`, mailFrom: '', raw: message(`view ${n}`, 'x'.repeat(n)), local, remote: [], journey: [], flags });
      assert.deepEqual((await store.mailboxes.view(inbox.id))!.uids.length, 0);
      assert.equal(await store.mailboxes.view(999_999), null);
      assert.equal(await store.mailboxes.status(999_999), null);
      for (let i = 0; i < 5; i++) await deliver();
      await assertCounted(store, inbox.id, 'deliveries', kwInbox);
      let v = (await store.mailboxes.view(inbox.id))!;
      assert.equal(v.recent, 5, 'never selected: every message is recent');
      assert.equal(v.firstUnseen, 1);
      await deliver(['\\Seen', '$Label1']);
      kwInbox.add('$Label1');
      await assertCounted(store, inbox.id, 'a delivery with flags', kwInbox);
      await store.messages.append(inbox.id, message('appended'), { flags: ['\\Deleted', 'Work'] });
      kwInbox.add('Work');
      await assertCounted(store, inbox.id, 'append', kwInbox);
      await store.messages.setFlags(inbox.id, [1, 2, 3], 'add', ['\\Seen', 'Later']);
      kwInbox.add('Later');
      await assertCounted(store, inbox.id, 'flags add', kwInbox);
      assert.equal((await store.mailboxes.view(inbox.id))!.firstUnseen, 4);
      await store.messages.setFlags(inbox.id, [2], 'remove', ['\\Seen', 'Later']);
      await assertCounted(store, inbox.id, 'flags remove (keywords stay: used so far)', kwInbox);
      await store.messages.setFlags(inbox.id, [3, 4], 'set', ['\\Deleted', 'Other']);
      kwInbox.add('Other');
      await assertCounted(store, inbox.id, 'flags set', kwInbox);
      assert.deepEqual(await store.messages.expunge(inbox.id, [3]), [3]);
      await assertCounted(store, inbox.id, 'UID EXPUNGE', kwInbox);
      assert.deepEqual((await store.messages.expunge(inbox.id)).sort((x, y) => x - y), [4, 7]);
      await assertCounted(store, inbox.id, 'EXPUNGE', kwInbox);
      assert.deepEqual(await store.messages.remove(inbox.id, [5]), [5]);
      await assertCounted(store, inbox.id, 'remove (POP3)', kwInbox);

      const archive = (await store.mailboxes.get(alice.id, 'Archive'))!;
      await store.messages.copy(inbox.id, [1, 6], archive.id);
      await assertCounted(store, archive.id, 'copy (target)', new Set(['Later', '$Label1']));
      await assertCounted(store, inbox.id, 'copy (source)', kwInbox);
      const trash = (await store.mailboxes.get(alice.id, 'Trash'))!;
      await store.messages.move(inbox.id, [2], trash.id);
      await assertCounted(store, trash.id, 'move (target)', new Set());
      await assertCounted(store, inbox.id, 'move (source)', kwInbox);

      // \Recent: a read-write SELECT takes them; new mail is recent again
      const before = (await store.mailboxes.view(inbox.id))!;
      const took = await store.mailboxes.claimRecent(inbox.id);
      assert.equal(took.after, 0);
      assert.equal(took.through, before.mailbox.uidNext - 1);
      assert.deepEqual([...before.uids].filter((u) => u > took.after && u <= took.through), [1, 6]);
      v = (await store.mailboxes.view(inbox.id))!;
      assert.equal(v.recent, 0);
      assert.equal((await store.mailboxes.status(inbox.id))!.recent, 0);
      await deliver();
      assert.equal((await store.mailboxes.view(inbox.id))!.recent, 1);
      assert.equal((await store.mailboxes.status(inbox.id))!.recent, 1);
      await assertCounted(store, inbox.id, 'a delivery after SELECT', kwInbox);

      await store.mailboxes.rename(alice.id, 'INBOX', 'Old');
      const old = (await store.mailboxes.get(alice.id, 'Old'))!;
      await assertCounted(store, old.id, 'RENAME INBOX (new mailbox)', new Set(['$Label1', 'Later']));
      await assertCounted(store, inbox.id, 'RENAME INBOX (INBOX, now empty)');
      assert.deepEqual((await store.mailboxes.view(inbox.id))!.uids.length, 0);
      await store.mailboxes.delete(old.id);
      assert.equal(await store.mailboxes.view(old.id), null);
      assert.equal(await store.mailboxes.status(old.id), null);
      const again = await store.mailboxes.create(alice.id, 'Old');
      assert.deepEqual((await store.mailboxes.view(again.id))!.keywords, [], 'a mailbox made anew has no keywords');
      await assertCounted(store, again.id, 'a mailbox made anew', new Set());
    });

    test('counters and view after a random sequence of writes equal a recount; some() and changedSince() read exactly what they name', async (t) => {
      const { store, alice } = await setup(t, b);
      const inbox = (await store.mailboxes.get(alice.id, 'INBOX'))!;
      const other = await store.mailboxes.create(alice.id, 'Other');
      const local = [{ userId: alice.id, address: alice.address, rcptTo: alice.address }];
      // a fixed seed: the same sequence every run (xorshift)
      let seed = 0x9e3779b9;
      const rnd = (k: number) => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return (seed >>> 0) % k; };
      const flagSets = [[], ['\\Seen'], ['\\Deleted'], ['\\Seen', '\\Deleted'], ['kw1'], ['\\Seen', 'kw2'], ['\\Flagged'], ['\\Seen', '\\Flagged', 'kw1']];
      for (let step = 0; step < 120; step++) {
        const mb = rnd(4) === 0 ? other.id : inbox.id;
        const live = (await store.mailboxes.view(mb))!.uids;
        const pick = () => [...live].filter(() => rnd(3) === 0);
        switch (rnd(8)) {
          case 0: case 1: await store.deliver({ msgId: `r.${step}`, mailFrom: '', raw: message(`rand ${step}`), local, remote: [], journey: [], flags: flagSets[rnd(flagSets.length)] }); break;
          case 2: await store.messages.append(mb, message(`app ${step}`), { flags: flagSets[rnd(flagSets.length)] }); break;
          case 3: await store.messages.setFlags(mb, pick(), (['add', 'remove', 'set'] as const)[rnd(3)], flagSets[rnd(flagSets.length)]); break;
          case 4: await store.messages.expunge(mb, rnd(2) ? undefined : pick()); break;
          case 5: await store.messages.remove(mb, pick().slice(0, 2)); break;
          case 6: await store.messages.copy(mb, pick(), mb === inbox.id ? other.id : inbox.id); break;
          case 7: await store.messages.move(mb, pick().slice(0, 3), mb === inbox.id ? other.id : inbox.id); break;
        }
      }
      for (const mb of [inbox.id, other.id]) await assertCounted(store, mb, 'a random sequence');

      const all = await store.messages.list(inbox.id);
      assert.ok(all.length > 5, 'the sequence left messages');
      const uids = all.map((m) => m.uid);
      const wanted = [uids[uids.length - 1], uids[0], uids[2], uids[2], 999_999, uids[1], 0];
      assert.deepEqual((await store.messages.some(inbox.id, wanted)).map((m) => m.uid), [uids[0], uids[1], uids[2], uids[uids.length - 1]]);
      assert.deepEqual(await store.messages.some(inbox.id, uids), all, 'every UID: the same records as list()');
      assert.deepEqual(await store.messages.some(inbox.id, []), []);
      assert.deepEqual(await store.messages.some(other.id, [uids[0]]).then((r) => r.every((m) => m.uid === uids[0])), true);
      const mid = [...all].sort((x, y) => x.modseq - y.modseq)[Math.floor(all.length / 2)].modseq;
      assert.deepEqual(await store.messages.changedSince(inbox.id, mid), all.filter((m) => m.modseq > mid), 'CHANGEDSINCE: by MODSEQ, in UID order');
      assert.deepEqual(await store.messages.changedSince(inbox.id, 0), all);
      // SEARCH UNSEEN / DELETED's prefilter: exactly the copies in that flag state, ascending
      for (const mb of [inbox.id, other.id]) {
        const recs = await store.messages.list(mb);
        assert.deepEqual(await store.messages.flagCandidates(mb, 'unseen'), recs.filter((m) => !m.flags.includes('\\Seen')).map((m) => m.uid), 'unseen');
        assert.deepEqual(await store.messages.flagCandidates(mb, 'deleted'), recs.filter((m) => m.flags.includes('\\Deleted')).map((m) => m.uid), 'deleted');
        assert.deepEqual(await store.messages.flagCandidates(mb, 'flagged'), recs.filter((m) => m.flags.includes('\\Flagged')).map((m) => m.uid), 'flagged');
      }
      assert.deepEqual(await store.messages.flagCandidates(999_999, 'unseen'), []);
    });

    test('headerCandidates: a superset of the SEARCH matches (encoded words, addresses, groups), narrower than the mailbox', async (t) => {
      const { store, alice } = await setup(t, b);
      const inbox = (await store.mailboxes.get(alice.id, 'INBOX'))!;
      const msgs = [
        'From: "Zoë Zebra" <zoe@zoo.test>\r\nTo: alice@example.test\r\nSubject: =?UTF-8?B?WmVicmEgw7xiZXIgYWxsZXM=?=\r\n\r\nbody\r\n', // "Zebra über alles"
        'From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.test>\r\nTo: Friends: bob@example.test, carol@example.test;\r\nCc: "Big Boss" <boss@corp.test>\r\nSubject: lunch\r\n\r\nzebra in the body only\r\n',
        'From: nobody@example.test\r\nSubject: ΣΊΣΥΦΟΣ and İstanbul\r\nList-ID: <news.example.test>\r\nIn-Reply-To: <abc@x.test>\r\n\r\n.\r\n',
      ];
      for (const [i, raw] of msgs.entries()) await store.messages.append(inbox.id, Buffer.from(raw), { internalDate: Date.now() + i });
      const cands = (w: string[]) => store.messages.headerCandidates(inbox.id, w.map((x) => x.toLowerCase()));
      assert.deepEqual(await cands(['zebra']), [1], 'the Subject and From name, not the body');
      assert.deepEqual(await cands(['über']), [1], 'an encoded word, decoded');
      assert.deepEqual(await cands(['andré']), [2], 'an encoded display name');
      assert.deepEqual(await cands(['friends']), [2], 'a group name');
      assert.deepEqual(await cands(['big boss <boss@corp.test>']), [2], 'an address as SEARCH CC sees it');
      assert.deepEqual(await cands(['σίσυφος']), [3], 'folded as SEARCH folds');
      assert.deepEqual(await cands(['İstanbul']), [3]);
      assert.deepEqual(await cands(['news.example.test']), [3], 'List-ID');
      assert.deepEqual(await cands(['zoe@zoo.test', 'zebra']), [1], 'every word must be there');
      assert.deepEqual(await cands(['zoe@zoo.test', 'lunch']), []);
      assert.deepEqual(await cands(['no such words']), []);
      assert.deepEqual(await cands([]), [1, 2, 3], 'no words: every message');
    });

    test('the tool store (CLI) opens the same database', async (t) => {
      const { db, alice } = await setup(t, b);
      const tool = await db.tool();
      t.after(() => tool.close());
      assert.equal((await tool.users.get('alice@example.test'))?.id, alice.id);
      assert.equal(await tool.domains.add('second.test'), true);
    });
  });
}

/** Two PostgreSQL stores on one fresh database (two nodes), with alice@example.test and her INBOX. */
async function twoStoresOnOneDatabase(t: TestContext) {
  const url = await pgDatabase(t);
  const a = await openStore('/nonexistent', { storeUrl: url });
  const b = await openStore('/nonexistent', { storeUrl: url });
  t.after(async () => { await a.close(); await b.close(); });
  await a.domains.add('example.test');
  const alice = await a.users.add('alice@example.test', 'h');
  const inbox = (await a.mailboxes.get(alice.id, 'INBOX'))!;
  const local = [{ userId: alice.id, address: 'alice@example.test', rcptTo: 'alice@example.test' }];
  return { url, a, b, alice, inbox, local };
}

test('PostgreSQL: the server crashes and comes back; the stores carry on, and changes are announced again', { skip: pgUnavailable() ?? false, timeout: 120_000 }, async (t) => {
  const { a, b, inbox, local } = await twoStoresOnOneDatabase(t);
  const deliver = (i: number) => a.deliver({ msgId: `r.${i}`, mailFrom: '', raw: message(`restart ${i}`), local, remote: [], journey: [] });
  await deliver(0);
  const t0 = Date.now();
  await restartPgCluster();
  t.diagnostic(`restart ${Date.now() - t0} ms`);
  // the first write after the crash may meet a dead pooled connection and fail (the 250 is not given); later ones succeed
  let stored = 0;
  for (let i = 1; i <= 5 && stored === 0; i++) {
    try { await deliver(i); stored = i; } catch { await new Promise((r) => setTimeout(r, 200)); }
  }
  assert.ok(stored > 0, 'deliveries work again after the restart');
  t.diagnostic(`stored after ${stored} attempts, ${Date.now() - t0} ms`);
  // b's change channel reconnects by itself: a delivery after that is announced on b
  const rec = recorder(b);
  let seen = false;
  for (let i = 10; i < 60 && !seen; i++) {
    await deliver(i);
    seen = await rec.until((s) => s.some((c) => c.kind === 'exists' && c.mailboxId === inbox.id), 'b hears a again', 1000).then(() => true, () => false);
  }
  assert.ok(seen, 'the other store announces changes again');
  t.diagnostic(`announced again after ${Date.now() - t0} ms`);
  const uids = (await b.messages.list(inbox.id)).map((m) => m.uid);
  assert.deepEqual(uids, Array.from({ length: uids.length }, (_, i) => i + 1), 'UIDs consecutive across the crash');
});

test('PostgreSQL: a store whose change channel was cut announces, once it is back, what was committed meanwhile', { skip: pgUnavailable() ?? false, timeout: 60_000 }, async (t) => {
  const { url, a, b, inbox, local } = await twoStoresOnOneDatabase(t);
  const rec = recorder(b);
  await a.deliver({ msgId: 'cut.1', mailFrom: '', raw: message('before'), local, remote: [], journey: [] });
  await a.messages.setFlags(inbox.id, [1], 'add', ['\\Deleted']); // a pooled connection stays open for the next write
  await rec.until((s) => s.some((c) => c.kind === 'flags'), 'b is listening');
  const db = new URL(url).pathname.slice(1);
  const adminUrl = new URL(url);
  adminUrl.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: adminUrl.toString() });
  await admin.connect();
  t.after(() => admin.end());
  // no new connections to the database, and every change channel cut: notifications sent now reach nobody
  await admin.query(`ALTER DATABASE ${db} ALLOW_CONNECTIONS false`);
  await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'postoffice-listen' AND datname = $1`, [db]);
  await new Promise((r) => setTimeout(r, 300));
  await a.deliver({ msgId: 'cut.2', mailFrom: '', raw: message('while cut'), local, remote: [], journey: [] });
  await a.messages.expunge(inbox.id);
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(!rec.seen.some((c) => c.kind === 'exists' && c.uids.includes(2)), 'not announced while the channel is down');
  await admin.query(`ALTER DATABASE ${db} ALLOW_CONNECTIONS true`);
  await rec.until((s) => s.some((c) => c.kind === 'exists' && c.uids.includes(2)) && s.some((c) => c.kind === 'expunge' && c.uids.includes(1)), 'caught up after the channel came back', 20_000);
});

/** what a mailbox holds, counted from its rows (messages.list reads them), to check the counters and views against */
async function counted(s: Store, mailboxId: number) {
  const rows = await s.messages.list(mailboxId);
  return {
    messages: rows.length,
    unseen: rows.filter((m) => !m.flags.includes('\\Seen')).length,
    deleted: rows.filter((m) => m.flags.includes('\\Deleted')).length,
    size: rows.reduce((n, m) => n + m.size, 0),
    uids: rows.map((m) => m.uid),
    firstUnseen: rows.find((m) => !m.flags.includes('\\Seen'))?.uid ?? 0,
    keywords: [...new Set(rows.flatMap((m) => m.flags.filter((f) => !f.startsWith('\\'))))],
  };
}

/** status() and view() of `s` agree with the rows, and view() names `keywords` */
async function agrees(s: Store, mailboxId: number, keywords: string[], what: string) {
  const want = await counted(s, mailboxId);
  const st = (await s.mailboxes.status(mailboxId))!;
  assert.deepEqual({ messages: st.messages, unseen: st.unseen, deleted: st.deleted, size: st.size },
    { messages: want.messages, unseen: want.unseen, deleted: want.deleted, size: want.size }, `${what}: status() counters`);
  const v = (await s.mailboxes.view(mailboxId))!;
  assert.deepEqual(Array.from(v.uids), want.uids, `${what}: view() UIDs`);
  assert.equal(v.firstUnseen, want.firstUnseen, `${what}: view() first unseen`);
  assert.deepEqual(v.keywords, [...keywords].sort(), `${what}: view() keywords`);
  assert.equal(v.mailbox.uidNext, st.uidNext, `${what}: view() and status() read the same mailbox row`);
}

test('PostgreSQL: a delivery on one node shows in the other node\'s view() and status(); the counters and keywords follow every write, on either node', { skip: pgUnavailable() ?? false, timeout: 60_000 }, async (t) => {
  const { a, b, alice, inbox, local } = await twoStoresOnOneDatabase(t);
  const other = await a.mailboxes.create(alice.id, 'Other');
  const recA = recorder(a);
  const recB = recorder(b);
  /** both stores heard every change up to the mailbox's HIGHESTMODSEQ now (their UID vectors were kept from the events) */
  const heard = async (id: number) => {
    const top = (await a.mailboxes.getById(id))!.highestModseq;
    const pred = (s: MailboxChange[]) => s.some((c) => c.mailboxId === id && 'modseq' in c && c.modseq >= top);
    await recA.until(pred, `a heard modseq ${top}`);
    await recB.until(pred, `b heard modseq ${top}`);
  };
  const both = async (id: number, keywords: string[], what: string) => {
    await heard(id);
    await agrees(a, id, keywords, `${what} (node a)`);
    await agrees(b, id, keywords, `${what} (node b)`);
  };
  await agrees(b, inbox.id, [], 'empty');
  const v0 = (await b.mailboxes.view(inbox.id))!;
  assert.equal(v0.uids.length, 0);

  await a.deliver({ msgId: 'n.1', mailFrom: '', raw: message('node one'), local, remote: [], journey: [] });
  await a.deliver({ msgId: 'n.2', mailFrom: '', raw: message('node two'), local, remote: [], journey: [], flags: ['\\Seen', '$Forwarded'] });
  await both(inbox.id, ['$Forwarded'], 'deliveries on a');
  const v1 = (await b.mailboxes.view(inbox.id))!;
  assert.equal(v1.recent, 2, 'both above the \\Recent watermark');
  const again = (await b.mailboxes.view(inbox.id))!;
  assert.equal(again.uids.buffer, v1.uids.buffer, 'nothing changed: the same vector, from the cache');

  await a.messages.setFlags(inbox.id, [1], 'add', ['\\Seen', '\\Deleted', 'Project']);
  await both(inbox.id, ['$Forwarded', 'Project'], 'flags set on a');
  await a.messages.setFlags(inbox.id, [1], 'remove', ['Project', '\\Seen']);
  await both(inbox.id, ['$Forwarded', 'Project'], 'a keyword removed stays in FLAGS');
  await a.messages.appendMany(inbox.id, [
    { raw: message('imported one'), flags: ['\\Seen', 'Imported'], internalDate: 1_700_000_000_000, msgId: 'n.3' },
    { raw: message('imported two'), flags: ['\\Deleted'], internalDate: 1_700_000_001_000, msgId: 'n.4' },
  ]);
  await a.messages.append(inbox.id, message('appended'), { flags: ['Appended'] });
  await both(inbox.id, ['$Forwarded', 'Project', 'Imported', 'Appended'], 'appendMany and append');

  await a.messages.copy(inbox.id, [2, 3], other.id);
  await both(other.id, ['$Forwarded', 'Imported'], 'copied into Other');
  await b.messages.move(inbox.id, [5], other.id);
  await both(other.id, ['$Forwarded', 'Imported', 'Appended'], 'moved into Other on b');
  await both(inbox.id, ['$Forwarded', 'Project', 'Imported', 'Appended'], 'moved out of INBOX on b');
  assert.deepEqual(await b.messages.expunge(inbox.id), [1, 4]);
  await both(inbox.id, ['$Forwarded', 'Project', 'Imported', 'Appended'], 'expunged on b');
  assert.deepEqual(Array.from((await a.mailboxes.view(inbox.id))!.uids), [2, 3]);

  await b.deliver({ msgId: 'n.5', mailFrom: '', raw: message('node b'), local, remote: [], journey: [] });
  await both(inbox.id, ['$Forwarded', 'Project', 'Imported', 'Appended'], 'a delivery on b');
  assert.equal((await a.mailboxes.status(inbox.id))!.messages, 3);

  // RFC 3501 §6.3.5: RENAME INBOX moves the messages (and their keywords) to a new mailbox
  await a.mailboxes.rename(alice.id, 'INBOX', 'Old');
  const old = (await b.mailboxes.get(alice.id, 'Old'))!;
  await both(old.id, ['$Forwarded', 'Imported'], 'INBOX renamed');
  await both(inbox.id, ['$Forwarded', 'Project', 'Imported', 'Appended'], 'INBOX left empty');
  assert.equal((await b.mailboxes.status(inbox.id))!.messages, 0);

  await a.mailboxes.delete(other.id);
  await recB.until((s) => s.some((c) => c.kind === 'deleted' && c.mailboxId === other.id), 'b heard the delete');
  assert.equal(await b.mailboxes.view(other.id), null);
  assert.equal(await b.mailboxes.status(other.id), null);
});

test('PostgreSQL: view() while the change channel is down reads the database, not a vector that may have missed changes', { skip: pgUnavailable() ?? false, timeout: 60_000 }, async (t) => {
  const { url, a, b, inbox, local } = await twoStoresOnOneDatabase(t);
  const rec = recorder(b);
  for (let i = 1; i <= 3; i++) await a.deliver({ msgId: `c.${i}`, mailFrom: '', raw: message(`cut ${i}`), local, remote: [], journey: [] });
  await rec.until((s) => s.some((c) => c.kind === 'exists' && c.uids.includes(3)), 'b heard the deliveries');
  assert.deepEqual(Array.from((await b.mailboxes.view(inbox.id))!.uids), [1, 2, 3]);
  const db = new URL(url).pathname.slice(1);
  const adminUrl = new URL(url);
  adminUrl.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: adminUrl.toString() });
  await admin.connect();
  t.after(() => admin.end());
  await a.messages.setFlags(inbox.id, [2], 'add', ['\\Deleted']); // a pooled write connection stays open
  await b.mailboxes.view(inbox.id); // and a pooled read connection
  await admin.query(`ALTER DATABASE ${db} ALLOW_CONNECTIONS false`);
  await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'postoffice-listen' AND datname = $1`, [db]);
  await new Promise((r) => setTimeout(r, 300));
  // a delivery and an expunge b does not hear of: the count stays 3, UIDNEXT moves
  await a.deliver({ msgId: 'c.4', mailFrom: '', raw: message('cut 4'), local, remote: [], journey: [] });
  await a.messages.expunge(inbox.id);
  assert.deepEqual(Array.from((await b.mailboxes.view(inbox.id))!.uids), [1, 3, 4], 'read while the channel is down');
  assert.equal((await b.mailboxes.status(inbox.id))!.messages, 3);
  await admin.query(`ALTER DATABASE ${db} ALLOW_CONNECTIONS true`);
  await rec.until((s) => s.some((c) => c.kind === 'exists' && c.uids.includes(4)), 'caught up', 20_000);
  await a.deliver({ msgId: 'c.5', mailFrom: '', raw: message('cut 5'), local, remote: [], journey: [] });
  await rec.until((s) => s.some((c) => c.kind === 'exists' && c.uids.includes(5)), 'b hears again');
  assert.deepEqual(Array.from((await b.mailboxes.view(inbox.id))!.uids), [1, 3, 4, 5], 'after the catch-up');
});

test('PostgreSQL: migration 040 counts what a database holds already (counters, keywords) and gives older blobs their header text in the background', { skip: pgUnavailable() ?? false, timeout: 60_000 }, async (t) => {
  const url = await pgDatabase(t);
  // the schema as it was before 040, and rows written by a node of that time
  const dir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-pg-030-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const f of readdirSync(PG_MIGRATIONS_DIR)) if (Number(f.slice(0, 3)) <= 30) copyFileSync(path.join(PG_MIGRATIONS_DIR, f), path.join(dir, f));
  const old = await PgDb.open({ url, onChange: () => {}, onQueued: () => {} }, dir);
  const raws = ['older one', 'older two', 'older three'].map((s) => message(s));
  await old.tx(async (tx) => {
    await tx.run(`INSERT INTO domains (name, created) VALUES ('example.test', 0)`);
    await tx.run(`INSERT INTO users (address, domain, password_hash, created) VALUES ('alice@example.test', 'example.test', 'h', 0)`);
    await tx.run(`INSERT INTO mailboxes (user_id, name, uidvalidity, uidnext, highestmodseq, created) SELECT id, 'INBOX', 7, 4, 4, 0 FROM users`);
    for (const [i, raw] of raws.entries()) {
      // the third blob's structure is unreadable: it gets no text and stays a candidate
      await tx.run(`INSERT INTO blobs (sha256, size, refs, created, mime, raw, search_text) VALUES ($1, $2, 1, 0, $3, $4, '')`,
        [`sha-${i}`, raw.length, i === 2 ? '{}' : JSON.stringify(parseMime(raw)), raw]);
    }
    await tx.run(`INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, blob_id, size)
      SELECT m.id, u.uid, u.uid + 1, u.flags, 0, b.id, 10 * u.uid FROM mailboxes m, blobs b,
      (VALUES (1, ARRAY['\\Seen', 'Old']), (2, ARRAY['\\Deleted']), (3, ARRAY['Later', '\\Seen'])) AS u(uid, flags)
      WHERE b.sha256 = 'sha-' || (u.uid - 1)`);
  });
  await old.close();
  const s = await openStore('/nonexistent', { storeUrl: url });
  t.after(() => s.close());
  const alice = (await s.users.get('alice@example.test'))!;
  const inbox = (await s.mailboxes.get(alice.id, 'INBOX'))!;
  const st = (await s.mailboxes.status(inbox.id))!;
  assert.deepEqual([st.messages, st.unseen, st.deleted, st.size], [3, 1, 1, 60]);
  const v = (await s.mailboxes.view(inbox.id))!;
  assert.deepEqual([Array.from(v.uids), v.firstUnseen, v.keywords], [[1, 2, 3], 2, ['Later', 'Old']]);
  await agrees(s, inbox.id, ['Later', 'Old'], 'after the migration');
  assert.ok(await (s as PgStore).backfilled >= 1, 'the backfill ran here');
  assert.deepEqual(await s.messages.headerCandidates(inbox.id, ['older two']), [2, 3], 'matched by the backfilled text; no text, a candidate');
  assert.deepEqual(await s.messages.headerCandidates(inbox.id, ['subject: older']), [1, 2, 3]);
  assert.deepEqual(await s.messages.headerCandidates(inbox.id, ['nowhere']), [3]);
  // a row written past the store's helpers (as migrate-store writes them) is counted by the trigger
  await (s as PgStore).pg.tx((tx) => tx.run(`INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, blob_id, size)
    SELECT $1, 4, 5, ARRAY['Copied'], 0, id, 7 FROM blobs WHERE sha256 = 'sha-0'`, [inbox.id]));
  const st2 = (await s.mailboxes.status(inbox.id))!;
  assert.deepEqual([st2.messages, st2.unseen, st2.deleted, st2.size], [4, 2, 1, 67]);
  assert.deepEqual((await s.mailboxes.view(inbox.id))!.keywords, ['Copied', 'Later', 'Old']);
});

test('PostgreSQL: every view() on a node is the mailbox as of its own snapshot while another node delivers and removes', { skip: pgUnavailable() ?? false, timeout: 120_000 }, async (t) => {
  const { a, b, inbox, local } = await twoStoresOnOneDatabase(t);
  // the mailbox after each commit, by its MODSEQ, from a's own change events (in commit order)
  const timeline: { modseq: number; uids: number[] }[] = [{ modseq: 1, uids: [] }];
  const live = new Set<number>();
  a.events.on('change', (c: MailboxChange) => {
    if (c.mailboxId !== inbox.id || (c.kind !== 'exists' && c.kind !== 'expunge')) return;
    for (const u of c.uids) (c.kind === 'exists' ? live.add(u) : live.delete(u));
    timeline.push({ modseq: c.modseq, uids: [...live].sort((x, y) => x - y) });
  });
  let writing = true;
  let n = 0;
  const writer = async (w: number) => {
    for (let i = 0; i < 40; i++) {
      await a.deliver({ msgId: `s.${w}.${i}`, mailFrom: '', raw: message(`stress ${w} ${i}`), local, remote: [], journey: [] });
      const some = [...live].filter(() => Math.random() < 0.3);
      if (some.length) await a.messages.remove(inbox.id, some);
    }
  };
  const writers = Promise.all([0, 1, 2].map(writer)).finally(() => { writing = false; });
  const checked: number[] = [];
  const reader = async () => {
    while (writing) {
      const v = (await b.mailboxes.view(inbox.id))!;
      n++;
      // a's events may come after b's read: only snapshots a has announced are checked
      if (timeline[timeline.length - 1].modseq < v.mailbox.highestModseq) continue;
      const at = timeline.filter((s) => s.modseq <= v.mailbox.highestModseq).pop()!;
      assert.equal(at.modseq, v.mailbox.highestModseq, 'every commit to the mailbox is in the timeline');
      assert.deepEqual(Array.from(v.uids), at.uids, `view at MODSEQ ${v.mailbox.highestModseq}`);
      checked.push(v.mailbox.highestModseq);
    }
  };
  await Promise.all([writers, reader(), reader()]);
  t.diagnostic(`${n} views, ${checked.length} checked against the timeline, ${timeline.length} commits`);
  assert.ok(checked.length > 10, 'views were checked');
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(Array.from((await b.mailboxes.view(inbox.id))!.uids), (await b.messages.list(inbox.id)).map((m) => m.uid));
});
