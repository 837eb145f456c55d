// postoffice migrate-store: a single-node SQLite store copied into PostgreSQL, on a private
// PostgreSQL cluster (test/helpers/pg.ts). Ids, UIDVALIDITY/UIDNEXT/HIGHESTMODSEQ, UIDs, MODSEQs,
// flags and internal dates come across unchanged, each blob once; a second run copies nothing
// again; mail that arrived meanwhile is caught up; the CLI prints verified counts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ImapFlow } from 'imapflow';
import pg from 'pg';
import { hashPassword } from '../../src/auth/password.js';
import { SqliteStore } from '../../src/store/index.js';
import { migrateStore } from '../../src/store/migrate.js';
import { labEnv, ROOT } from '../helpers/lab.js';
import { pgDatabase, pgUnavailable } from '../helpers/pg.js';
import { startNode } from './nodes.js';

const skip = pgUnavailable() ?? false;
const fixture = (name: string) => readFileSync(path.join(ROOT, 'test', 'fixtures', name));

let n = 0;
async function deliver(store: SqliteStore, to: { userId: number; address: string }[], raw: Buffer, remote: string[] = []): Promise<void> {
  const msgId = `mig${process.pid}.${++n}`;
  await store.deliver({
    msgId, mailFrom: 'sender@elsewhere.test', raw, relayRaw: raw, remote,
    local: to.map((u) => ({ userId: u.userId, address: u.address, rcptTo: u.address })),
    journey: [{ msgId, agent: 'MTA in', step: 'received', details: { n } }],
  });
}

async function query<T = Record<string, unknown>>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end();
  }
}

test('migrate-store copies a SQLite store into PostgreSQL, resumes without duplicates, catches up', { skip, timeout: 120_000 }, async (t) => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-migrate-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const url = await pgDatabase(t, 'migrate');
  const store = new SqliteStore({ dataDir });
  t.after(() => store.close());
  await store.domains.add('163.test');
  const alice = await store.users.add('alice@163.test', await hashPassword('pw'));
  const bob = await store.users.add('bob@163.test', await hashPassword('pw2'));
  await store.aliases.add('postmaster@163.test', 'alice@163.test');
  const a = { userId: alice.id, address: alice.address };
  const b = { userId: bob.id, address: bob.address };
  // shared bytes (one blob, two copies), flags, an expunge, a queued relay entry
  await deliver(store, [a, b], fixture('plain.eml'));
  await deliver(store, [a], fixture('multipart.eml'));
  await deliver(store, [a], fixture('tutorial-attachments.eml'), ['far@remote.test']);
  for (let i = 0; i < 40; i++) await deliver(store, [a], Buffer.from(`Subject: m${i}\r\nMessage-ID: <m${i}@163.test>\r\n\r\nbody ${i}\r\n`));
  const inbox = (await store.mailboxes.get(alice.id, 'INBOX'))!;
  await store.messages.setFlags(inbox.id, [1, 2], 'add', ['\\Seen', '$Label1']);
  await store.messages.setFlags(inbox.id, [3], 'add', ['\\Deleted']);
  assert.deepEqual(await store.messages.expunge(inbox.id), [3]);
  const sent = (await store.mailboxes.get(alice.id, 'Sent'))!;
  await store.messages.append(sent.id, fixture('tutorial-text.eml'), { flags: ['\\Seen'], internalDate: Date.UTC(2020, 0, 2, 3, 4, 5) });
  await store.mailboxes.create(alice.id, 'Projects/2026');
  await store.mailboxes.setSubscribed(alice.id, 'Projects/Gone', true);
  await store.transcripts.write({ sid: 'smtp1', protocol: 'smtp', local: '127.0.0.1:25', remote: '192.0.2.7:40000', user: null, tls: null, started: Date.now(), ended: null, msgIds: ['mig.1'] },
    [{ t: Date.now(), dir: 'S', text: '220 mx ESMTP' }, { t: Date.now(), dir: 'C', text: 'EHLO client' }]);

  // 1. the first run copies everything and verifies it
  const ticks: string[] = [];
  const first = await migrateStore({ from: `sqlite:${dataDir}`, to: url, progress: { phase: (l) => ticks.push(l), tick: () => {} } });
  assert.equal(first.ok, true, JSON.stringify(first.counts));
  assert.equal(first.resumed, false);
  assert.ok(ticks.includes('message bytes') && ticks.includes('messages'), ticks.join());
  const blobs = Number((await query<{ n: string }>(url, 'SELECT count(*) AS n FROM blobs'))[0].n);
  assert.equal(first.blobsCopied, blobs, 'every blob sent once');
  // SEARCH's header text goes along (the source store is at migration 090), and the backfill mark covers any without
  const withText = Number((await query<{ n: string }>(url, 'SELECT count(*) AS n FROM blob_headers'))[0].n);
  assert.equal(withText, blobs, 'every blob copied with its indexed header text');
  assert.equal((await query(url, `SELECT 1 FROM meta WHERE key = 'header_text_backfill'`)).length, 1, 'the backfill mark is set');
  // a single text/plain message's decoded text, which SQLite keeps as a mark (decode from the bytes), arrives as text
  const texts = await query<{ search_text: string }>(url, `SELECT search_text FROM blobs`);
  assert.ok(texts.every((r) => r.search_text !== '\u0001'), 'no TEXT_FROM_RAW mark in PostgreSQL');
  assert.ok(texts.some((r) => r.search_text === 'body 7\n'), texts.map((r) => r.search_text).slice(0, 5).join('|'));
  const count = (table: string) => first.counts.find((c) => c.table === table)!;
  assert.equal(count('users').target, 2);
  assert.equal(count('messages').target, 43 + 1 + 1 - 1); // alice INBOX 43-1, bob 1, Sent 1
  assert.equal(count('queue').target, 1);
  assert.equal(count('expunged').target, 1);
  assert.equal(count('transcripts').target, 1);
  assert.ok(count('subscriptions').target >= 7, 'subscriptions by name, also of a mailbox that does not exist');
  assert.equal((await query(url, `SELECT 1 FROM subscriptions WHERE name = 'Projects/Gone'`)).length, 1);

  // the same mailboxes: ids, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ; the same copies: UID, MODSEQ, flags, internal date, bytes
  for (const mb of [inbox, sent]) {
    const cur = (await store.mailboxes.getById(mb.id))!;
    const [row] = await query<Record<string, string>>(url, 'SELECT uidvalidity, uidnext, highestmodseq, name FROM mailboxes WHERE id = $1', [mb.id]);
    assert.deepEqual([Number(row.uidvalidity), Number(row.uidnext), Number(row.highestmodseq), row.name], [cur.uidValidity, cur.uidNext, cur.highestModseq, cur.name]);
    const want = await store.messages.list(mb.id);
    const got = await query<Record<string, unknown>>(url, `SELECT m.uid, m.modseq, m.flags, m.internal_date, m.size, b.raw FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE mailbox_id = $1 ORDER BY uid`, [mb.id]);
    assert.equal(got.length, want.length);
    for (let i = 0; i < want.length; i++) {
      assert.deepEqual([Number(got[i].uid), Number(got[i].modseq), [...(got[i].flags as string[])].sort(), Number(got[i].internal_date), Number(got[i].size)],
        [want[i].uid, want[i].modseq, [...want[i].flags].sort(), want[i].internalDate, want[i].size]);
      assert.ok((got[i].raw as Buffer).equals(await store.messages.raw(want[i].blobId)), `bytes of UID ${want[i].uid}`);
    }
  }
  const [vanished] = await query<{ uid: string }>(url, 'SELECT uid FROM expunged WHERE mailbox_id = $1', [inbox.id]);
  assert.equal(Number(vanished.uid), 3);
  const [shared] = await query<{ refs: string }>(url, `SELECT refs FROM blobs b JOIN messages m ON m.blob_id = b.id WHERE m.mailbox_id = $1 AND m.uid = 1`, [inbox.id]);
  assert.equal(Number(shared.refs), 2, 'one blob, two copies');

  // 2. an interrupted run (batches commit in order: the later messages, their bytes and journey
  // rows not there yet) is continued by the next run, which sends only what is missing
  const dropped = await query<{ id: string }>(url, `DELETE FROM messages WHERE uid > 20 RETURNING blob_id AS id`);
  const orphans = await query<{ id: string }>(url, `DELETE FROM blobs b WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.blob_id = b.id)
    AND NOT EXISTS (SELECT 1 FROM queue q WHERE q.blob_id = b.id) RETURNING id`);
  await query(url, 'DELETE FROM journey WHERE id > 10');
  assert.ok(dropped.length > 10 && orphans.length > 10);
  const resumed = await migrateStore({ from: `sqlite:${dataDir}`, to: url });
  assert.equal(resumed.ok, true, JSON.stringify(resumed.counts));
  assert.equal(resumed.resumed, true);
  assert.equal(resumed.blobsCopied, orphans.length, 'only the missing bytes are sent');
  assert.deepEqual(resumed.counts.map((c) => c.target), first.counts.map((c) => c.target));

  // a run with nothing new: nothing sent again, nothing doubled
  const again = await migrateStore({ from: `sqlite:${dataDir}`, to: url });
  assert.equal(again.ok, true);
  assert.equal(again.resumed, true);
  assert.equal(again.blobsCopied, 0);
  assert.deepEqual(again.counts.map((c) => c.target), first.counts.map((c) => c.target));

  // 3. mail and changes since: caught up (new UIDs, changed flags, an expunge, the queue entry finished)
  await deliver(store, [b], fixture('tutorial-html.eml'));
  await store.messages.setFlags(inbox.id, [4], 'add', ['\\Answered']);
  await store.messages.setFlags(inbox.id, [5], 'add', ['\\Deleted']);
  assert.deepEqual(await store.messages.expunge(inbox.id, [5]), [5]);
  const [q] = await store.queue.list();
  await store.queue.finish(q.id, { rcpts: q.rcpts.map((r: { address: string; status: string }) => ({ ...r, status: 'delivered' as const })), attempts: 1, lastReply: '250 ok' });
  const third = await migrateStore({ from: `sqlite:${dataDir}`, to: url });
  assert.equal(third.ok, true, JSON.stringify(third));
  assert.equal(third.blobsCopied, 1);
  const [flags] = await query<{ flags: string[] }>(url, 'SELECT flags FROM messages WHERE mailbox_id = $1 AND uid = 4', [inbox.id]);
  assert.ok(flags.flags.includes('\\Answered'));
  assert.equal((await query(url, 'SELECT 1 FROM messages WHERE mailbox_id = $1 AND uid = 5', [inbox.id])).length, 0);
  assert.equal((await query(url, 'SELECT 1 FROM queue')).length, 0);
  // the blob only the finished queue entry used is gone (refs recounted)
  assert.equal(Number((await query<{ n: string }>(url, 'SELECT count(*) AS n FROM blobs WHERE refs <= 0'))[0].n), 0);

  // 4. the CLI: progress on a terminal only, verified counts on stdout, exit 0; a target with other data is refused
  await store.close();
  const env = { PATH: process.env.PATH, ...labEnv(dataDir, { POSTOFFICE_DOMAINS: '163.test' }) };
  const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(ROOT, 'dist', 'src', 'cli', 'main.js'), 'migrate-store', ...args], { env, encoding: 'utf8' });
  const r = cli('--from', `sqlite:${path.join(dataDir, 'postoffice.db')}`, '--to', url);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^messages\s+44\s+44\s+ok$/m);
  assert.match(r.stdout, /verified: every count matches/);
  const other = await pgDatabase(t, 'other');
  await query(other, 'CREATE TABLE users (id int)');
  await query(other, 'INSERT INTO users VALUES (1)');
  const refused = cli('--to', other);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /postoffice: /);

  // 5. round trip: a node on the PostgreSQL store serves the same mailbox to an IMAP client, the
  // same UIDVALIDITY, UIDs and flags, and the same bytes as SQLite held; alice's password still works
  const before = new SqliteStore({ dataDir });
  t.after(() => before.close());
  const want = await before.messages.list(inbox.id);
  const wantRaw = await before.messages.raw(want[0].blobId);
  const node = await startNode(t, { name: 'migrated', host: '127.0.0.2', url, listeners: ['imaps'] });
  const c = new ImapFlow({ host: node.host, port: node.ports.imaps!, secure: true, tls: { rejectUnauthorized: false }, auth: { user: 'alice@163.test', pass: 'pw' }, logger: false });
  c.on('error', () => undefined);
  await c.connect();
  t.after(() => c.logout().catch(() => undefined));
  const box = await c.mailboxOpen('INBOX');
  assert.equal(Number(box.uidValidity), inbox.uidValidity);
  assert.equal(Number(box.uidNext), (await before.mailboxes.getById(inbox.id))!.uidNext);
  assert.equal(box.exists, want.length);
  const fetched = await c.fetchAll('1:*', { uid: true, flags: true });
  assert.deepEqual(fetched.map((m) => m.uid), want.map((m) => m.uid));
  assert.deepEqual(fetched.map((m) => [...m.flags!].sort()), want.map((m) => [...m.flags].sort()));
  const one = await c.fetchOne(String(want[0].uid), { source: true }, { uid: true });
  assert.ok(one && Buffer.from(one.source!).equals(wantRaw), 'the fetched message is byte-for-byte the SQLite one');
});
