// Issue 15, the SQLite side: the UID vectors (caches.ts UidCache) stay exact whatever order and
// however often the change events arrive; migration 090 counts what an older database holds
// (counters, keywords) and gives its blobs their header text; the indexed header text holds every
// string a SEARCH header key can match (mail/search-text.ts).
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { PACKAGE_ROOT } from '../../src/config/config.js';
import { decodeMimeWords, parseMime } from '../../src/mail/mime.js';
import { headerFieldValues } from '../../src/mail/headers.js';
import { addressText, fold, headerSearchText, INDEXED_HEADERS } from '../../src/mail/search-text.js';
import { UidCache, type UidState } from '../../src/store/caches.js';
import { openStore, SqliteStore } from '../../src/store/index.js';
import type { MailboxChange } from '../../src/store/types.js';

/** xorshift: the same sequence every run */
function random(seed: number) {
  let s = seed >>> 0 || 1;
  return (k: number) => { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; return (s >>> 0) % k; };
}

test('UidCache: view() equals the mailbox whatever order, delay or repetition the events come in', () => {
  for (let run = 0; run < 20; run++) {
    const rnd = random(1000 + run);
    const cache = new UidCache(run % 4 === 0 ? 50 : 1_000_000); // some runs with a bound that evicts
    const live = new Set<number>();
    let uidNext = 1;
    let uidValidity = 7;
    const events: MailboxChange[] = [];
    const handedOut: [Uint32Array, number[]][] = [];
    const state = (): UidState => ({ uidValidity, uidNext, messages: live.size });
    const read = (from: number) => [...live].filter((u) => u >= from).sort((a, b) => a - b);
    for (let step = 0; step < 400; step++) {
      const op = rnd(10);
      if (op < 4) {
        const uids = Array.from({ length: 1 + rnd(5) }, () => uidNext++);
        for (const u of uids) live.add(u);
        events.push({ mailboxId: 1, kind: 'exists', uids, modseq: step });
      } else if (op < 6 && live.size) {
        const gone = [...live].filter(() => rnd(4) === 0);
        for (const u of gone) live.delete(u);
        if (gone.length) events.push({ mailboxId: 1, kind: 'expunge', uids: gone, modseq: step });
      } else if (op === 6 && rnd(20) === 0) {
        // the mailbox deleted and made anew under the same id (a new UIDVALIDITY)
        live.clear();
        uidNext = 1;
        uidValidity++;
        events.push({ mailboxId: 1, kind: 'deleted' });
      } else if (op === 7) {
        events.push({ mailboxId: 1, kind: 'flags', changes: [], modseq: step });
      }
      // deliver some of the pending events: in order, late, twice, or not at all
      while (events.length && rnd(3) !== 0) {
        const i = rnd(2) === 0 ? 0 : rnd(events.length);
        const e = events[i];
        cache.apply(e);
        if (rnd(4) === 0) cache.apply(e); // twice
        if (rnd(3) !== 0) events.splice(i, 1); // else it comes again later
      }
      if (rnd(2) === 0) {
        const v = cache.view(1, state(), read);
        assert.deepEqual([...v], read(1), `run ${run} step ${step}`);
        handedOut.push([v, [...v]]);
      }
    }
    // a vector handed out never changes afterwards, whatever came since
    for (const [v, copy] of handedOut) assert.deepEqual([...v], copy);
  }
});

test('UidCache: appends follow on from the vector; a read tops it up from its UIDNEXT instead of reading it whole', () => {
  const cache = new UidCache();
  let reads: number[] = [];
  const all = [1, 2, 3, 5, 8];
  const read = (from: number) => { reads.push(from); return all.filter((u) => u >= from); };
  assert.deepEqual([...cache.view(1, { uidValidity: 1, uidNext: 9, messages: 5 }, read)], all);
  assert.deepEqual(reads, [1]);
  all.push(9, 10);
  cache.apply({ mailboxId: 1, kind: 'exists', uids: [9, 10], modseq: 2 });
  reads = [];
  assert.deepEqual([...cache.view(1, { uidValidity: 1, uidNext: 11, messages: 7 }, read)], all);
  assert.deepEqual(reads, [], 'the event brought them: nothing read');
  all.push(11, 12);
  reads = [];
  assert.deepEqual([...cache.view(1, { uidValidity: 1, uidNext: 13, messages: 9 }, read)], all, 'the event is late: read from UIDNEXT');
  assert.deepEqual(reads, [11]);
  cache.apply({ mailboxId: 1, kind: 'exists', uids: [11, 12], modseq: 3 }); // the late event: nothing changes
  assert.deepEqual([...cache.get(1, { uidValidity: 1, uidNext: 13, messages: 9 })!], all);
  assert.equal(cache.get(1, { uidValidity: 2, uidNext: 13, messages: 9 }), null, 'another UIDVALIDITY');
  cache.apply({ mailboxId: 1, kind: 'exists', uids: [20], modseq: 4 }); // a gap: not appended
  assert.deepEqual(cache.peek(1), { uidValidity: 1, uidNext: 13, messages: 9 });
  cache.apply({ mailboxId: 1, kind: 'deleted' });
  assert.equal(cache.peek(1), undefined);
});

test('the indexed header text holds every string a SEARCH header key can match, each piece folded on its own', () => {
  const raws = [
    'From: "Zoë" <zoe@zoo.test>\r\nSender: =?utf-8?q?S=C3=A9cr=C3=A9taire?= <sec@x.test>\r\nReply-To: r@x.test\r\nTo: A: a@x.test, "B, b" <b@x.test>;, c@x.test\r\nCc: =?ISO-8859-7?B?0+nz9fbv8g==?= <s@x.test>\r\nBcc: hidden@x.test\r\nSubject: =?UTF-8?Q?=CE=A3=CE=8A=CE=A3=CE=A5=CE=A6=CE=9F=CE=A3?= =?UTF-8?Q?_=C4=B0stanbul?=\r\nMessage-ID: <m1@x.test>\r\nIn-Reply-To: <m0@x.test>\r\nReferences: <a@x>\r\n <b@x>\r\nList-ID: Some List <list.x.test>\r\nX-Other: not indexed\r\n\r\nbody\r\n',
    'Subject: plain\r\nFrom: undisclosed-recipients:;\r\n\r\n',
    'Subject: \r\n\r\n',
    `Subject: ${'long '.repeat(20_000)}\r\n\r\n`,
  ];
  for (const raw of raws) {
    const b = Buffer.from(raw);
    const tree = parseMime(b);
    const text = headerSearchText(b, tree);
    if (text === null) { assert.ok(raw.length > 64 * 1024, 'only a text too long is left out'); continue; }
    // what the Evaluator compares (src/imap/commands/search.ts): fold(decoded field value), fold(addressText(a))
    for (const h of headerFieldValues(b, tree.root)) {
      const v = fold(decodeMimeWords(h.value));
      if (INDEXED_HEADERS.has(h.name)) assert.ok(text.includes(v), `${h.name}: ${v} in ${text}`);
      else if (v) assert.ok(!text.includes(v), `${h.name} is not indexed`);
    }
    const env = tree.envelope;
    for (const a of [env.from, env.sender, env.replyTo, env.to, env.cc, env.bcc].flatMap((l) => l ?? [])) {
      assert.ok(text.includes(fold(addressText(a))), `address ${addressText(a)}`);
    }
  }
  const t = headerSearchText(Buffer.from(raws[0]), parseMime(Buffer.from(raws[0])))!;
  assert.ok(t.includes('σίσυφος') && t.includes(fold('İstanbul')) && t.includes('sécrétaire') && t.includes('b, b <b@x.test>'));
});

/** A data dir whose database is as the store made it before migration 090 (up to 080), with `n` messages in INBOX (1) and Archive (2). */
function pre090(t: { after(fn: () => unknown): void }, n: number): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-090-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // the schema as it was (migrations up to 080), with mail in it, written as the store of then did
  const file = path.join(dir, 'postoffice.sqlite');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  const migrations = path.join(PACKAGE_ROOT, 'src', 'store', 'migrations');
  for (const f of readdirSync(migrations).filter((x) => /^\d{3}-.*\.sql$/.test(x)).sort()) {
    if (Number(f.slice(0, 3)) >= 90) continue;
    db.exec(readFileSync(path.join(migrations, f), 'utf8'));
    db.pragma(`user_version = ${Number(f.slice(0, 3))}`);
  }
  const now = Date.now();
  db.prepare(`INSERT INTO domains (name, created) VALUES ('example.test', ?)`).run(now);
  db.prepare(`INSERT INTO users (id, address, domain, password_hash, created) VALUES (1, 'bob@example.test', 'example.test', 'x', ?)`).run(now);
  db.prepare(`INSERT INTO mailboxes (id, user_id, name, uidvalidity, uidnext, highestmodseq, created) VALUES (1, 1, 'INBOX', 100, 1, 1, ?), (2, 1, 'Archive', 101, 1, 1, ?)`).run(now, now);
  const flags = ['', '\\Seen', '\\Seen $Work', '\\Deleted', 'Later \\Seen \\Deleted', '$Work'];
  const insBlob = db.prepare(`INSERT INTO blobs (sha256, size, refs, raw, mime, search_text, message_id, subject, created) VALUES (?, ?, 1, ?, ?, '', NULL, NULL, ?) RETURNING id`);
  const insMsg = db.prepare('INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, blob_id, size) VALUES (?, ?, ?, ?, ?, ?, ?)');
  for (let i = 1; i <= n; i++) {
    const raw = Buffer.from(`From: sender${i}@example.test\r\nSubject: ${i % 100 === 0 ? 'zebra ' : ''}number ${i}\r\n\r\nbody ${i}\r\n`);
    const blob = (insBlob.get(`sha${i}`, raw.length, raw, JSON.stringify(parseMime(raw)), now) as { id: number }).id;
    const mb = i % 3 === 0 ? 2 : 1;
    const uid = (db.prepare('UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1 WHERE id = ? RETURNING uidnext').get(mb) as { uidnext: number }).uidnext - 1;
    insMsg.run(mb, uid, i + 1, flags[i % flags.length], now, blob, raw.length);
  }
  db.close();
  return dir;
}

test('migration 090 on a database made before it: counters, keywords and header text of the messages already there', async (t) => {
  const dir = pre090(t, 450); // more than one backfill batch
  const store = new SqliteStore({ dataDir: dir });
  t.after(() => store.close());
  for (const mb of [1, 2]) {
    const list = await store.messages.list(mb);
    const st = (await store.mailboxes.status(mb))!;
    assert.deepEqual({ messages: st.messages, unseen: st.unseen, deleted: st.deleted, size: st.size }, {
      messages: list.length,
      unseen: list.filter((m) => !m.flags.includes('\\Seen')).length,
      deleted: list.filter((m) => m.flags.includes('\\Deleted')).length,
      size: list.reduce((s, m) => s + m.size, 0),
    }, `mailbox ${mb}: the counters count what was there`);
    const kw = [...new Set(list.flatMap((m) => m.flags.filter((f) => !f.startsWith('\\'))))].sort();
    assert.deepEqual((await store.mailboxes.view(mb))!.keywords, kw, `mailbox ${mb}: its keywords`);
  }
  assert.ok((await store.messages.headerCandidates(1, ['zebra'])).length >= 2, 'before the backfill: superset');
  assert.ok(await store.backfilled > 1, 'in several batches');
  const zebras = (await store.messages.list(1)).filter((m) => m.blobId % 100 === 0).map((m) => m.uid);
  assert.deepEqual(await store.messages.headerCandidates(1, ['zebra']), zebras, 'after: exactly the zebras');
  assert.deepEqual(await store.messages.headerCandidates(1, ['sender7@example.test']), [(await store.messages.list(1)).find((m) => m.blobId === 7)!.uid]);
  // and from here on the triggers keep them
  await store.messages.setFlags(1, [1, 2], 'add', ['\\Seen', 'New']);
  const st = (await store.mailboxes.status(1))!;
  const list = await store.messages.list(1);
  assert.equal(st.unseen, list.filter((m) => !m.flags.includes('\\Seen')).length);
  assert.ok((await store.mailboxes.view(1))!.keywords.includes('New'));
});

test('migration 090 in the server\'s store (writer thread): the header text of older messages is backfilled there', async (t) => {
  const dir = pre090(t, 250);
  const store = await openStore(dir);
  t.after(() => store.close());
  assert.equal((await store.mailboxes.status(1))!.messages, (await store.messages.list(1)).length);
  const zebras = (await store.messages.list(1)).filter((m) => m.blobId % 100 === 0).map((m) => m.uid);
  const deadline = Date.now() + 60_000;
  let got = await store.messages.headerCandidates(1, ['zebra']);
  while (got.length !== zebras.length && Date.now() < deadline) {
    await new Promise((res) => setTimeout(res, 50));
    got = await store.messages.headerCandidates(1, ['zebra']);
  }
  assert.deepEqual(got, zebras);
});

test('a blob\'s header text is written with it and goes with its last reference (not for bytes only the queue holds)', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-hdr-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = new SqliteStore({ dataDir: dir });
  t.after(() => store.close());
  await store.domains.add('example.test');
  const bob = await store.users.add('bob@example.test', 'x');
  const inbox = (await store.mailboxes.get(bob.id, 'INBOX'))!;
  const archive = (await store.mailboxes.get(bob.id, 'Archive'))!;
  const db = new Database(path.join(dir, 'postoffice.sqlite'), { readonly: true });
  t.after(() => db.close());
  const text = (blobId: number) => db.prepare('SELECT text FROM blob_headers WHERE blob_id = ?').pluck().get(blobId) as string | undefined;
  const r = await store.deliver({
    msgId: 'h.1', mailFrom: 'a@example.test', remote: ['x@remote.test'], journey: [],
    raw: Buffer.from('From: Ann <a@example.test>\r\nSubject: Quarterly Zebra\r\n\r\nbody\r\n'),
    relayRaw: Buffer.from('From: Ann <a@example.test>\r\nSubject: Quarterly Zebra (relay)\r\n\r\nbody\r\n'),
    local: [{ userId: bob.id, address: bob.address, rcptTo: bob.address }],
  });
  const m = (await store.messages.get(inbox.id, r.stored[0].uid))!;
  assert.match(text(m.blobId) ?? '', /^subject: quarterly zebra$/m);
  const queued = (await store.queue.get(r.queued[0].id))!;
  assert.notEqual(queued.blobId, m.blobId);
  assert.equal(text(queued.blobId), undefined, 'the relay copy is never searched');
  await store.messages.copy(inbox.id, [m.uid], archive.id);
  await store.messages.remove(inbox.id, [m.uid]);
  assert.ok(text(m.blobId), 'the copy in Archive still holds the bytes');
  await store.messages.remove(archive.id, [1]);
  assert.equal(text(m.blobId), undefined, 'gone with the last reference');
});
