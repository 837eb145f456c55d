// One mailbox, two nodes (`postoffice serve` on 127.0.0.2 and 127.0.0.3, one PostgreSQL
// database): a mail taken by node A wakes an IDLE session on node B (LISTEN/NOTIFY), and so do
// flag changes and expunges made on A; 8 SMTP clients delivering through both nodes at once get
// distinct UIDs, and IMAP clients on both nodes see them appear in ascending order with no gaps.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { fixture } from '../helpers/lab.js';
import { pgUnavailable } from '../helpers/pg.js';
import { sharedDatabase, startNode, type PgNode } from './nodes.js';

const skip = pgUnavailable() ?? false;

async function imap(t: TestContext, node: PgNode, user: string, pass: string): Promise<ImapFlow> {
  const c = new ImapFlow({ host: node.host, port: node.ports.imaps!, secure: true, tls: { rejectUnauthorized: false }, auth: { user, pass }, logger: false });
  c.on('error', () => { /* closed by the test's end */ });
  await c.connect();
  t.after(() => c.logout().catch(() => undefined));
  return c;
}

function smtp(t: TestContext, node: PgNode) {
  const tr = nodemailer.createTransport({ host: node.host, port: node.ports.smtp!, secure: false, tls: { rejectUnauthorized: false }, pool: true, maxConnections: 1 });
  t.after(() => tr.close());
  return tr;
}

/** the next event `name` that `ok` accepts */
function next<T>(c: ImapFlow, name: string, ok: (e: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const f = (e: T) => { if (ok(e)) { c.off(name, f); resolve(e); } };
    c.on(name, f);
  });
}

test('a mail taken by node A wakes IDLE on node B; flag changes and expunges on A are announced on B', { skip, timeout: 120_000 }, async (t) => {
  const { url } = await sharedDatabase(t, { 'bob@example.test': 'bob-pw' });
  // the fixture's From: is one of our domains: port 25 takes it as the bench's load generator does
  const env = { POSTOFFICE_LOCAL_SENDER_ON_PORT25: 'allow' };
  const a = await startNode(t, { name: 'a', host: '127.0.0.2', url, listeners: ['smtp', 'imaps'], env });
  const b = await startNode(t, { name: 'b', host: '127.0.0.3', url, listeners: ['imaps'], env });

  const onB = await imap(t, b, 'bob@example.test', 'bob-pw');
  assert.equal((await onB.mailboxOpen('INBOX')).exists, 0);
  void onB.idle().catch(() => undefined);

  // 1. SMTP to node A: node B's IDLE session hears EXISTS
  const exists = next<{ count: number }>(onB, 'exists', (e) => e.count === 1);
  const sent = Date.now();
  const info = await smtp(t, a).sendMail({ envelope: { from: 'carol@remote.test', to: ['bob@example.test'] }, raw: fixture('plain.eml') });
  assert.match(info.response, /^250 /);
  assert.equal((await exists).count, 1);
  t.diagnostic(`250 on A -> EXISTS on B: ${Date.now() - sent} ms (including the SMTP transaction)`);
  const [m] = await onB.fetchAll('1:*', { uid: true, source: true });
  assert.equal(m.uid, 1);
  assert.ok(m.source!.subarray(m.source!.length - fixture('plain.eml').length).equals(fixture('plain.eml')), 'B reads the bytes A stored');

  // 2. a flag change made through node A reaches B's session
  const onA = await imap(t, a, 'bob@example.test', 'bob-pw');
  await onA.mailboxOpen('INBOX');
  void onB.idle().catch(() => undefined);
  const flagged = next<{ flags: Set<string> }>(onB, 'flags', (e) => e.flags.has('\\Flagged'));
  await onA.messageFlagsAdd('1', ['\\Flagged'], { uid: true });
  assert.ok((await flagged).flags.has('\\Flagged'));

  // 3. an expunge on A: B's session is told (EXPUNGE)
  await smtp(t, a).sendMail({ envelope: { from: 'carol@remote.test', to: ['bob@example.test'] }, raw: fixture('multipart.eml') });
  void onB.idle().catch(() => undefined);
  const expunged = next<{ seq: number }>(onB, 'expunge');
  await onA.messageDelete('1', { uid: true });
  assert.equal((await expunged).seq, 1);
  const left = await onB.fetchAll('1:*', { uid: true });
  assert.deepEqual(left.map((x) => x.uid), [2]);
});

test('8 clients delivering through both nodes to one mailbox: distinct UIDs, seen ascending with no gaps on both nodes', { skip, timeout: 180_000 }, async (t) => {
  const { url, store } = await sharedDatabase(t, { 'bob@example.test': 'bob-pw' });
  const a = await startNode(t, { name: 'a', host: '127.0.0.2', url, listeners: ['smtp', 'imaps'] });
  const b = await startNode(t, { name: 'b', host: '127.0.0.3', url, listeners: ['smtp', 'imaps'] });
  const CLIENTS = 8;
  const EACH = 25;
  const TOTAL = CLIENTS * EACH;

  // a watcher on each node: after every NOOP it reads the UIDs that appeared since, which must
  // continue the ones it saw without a hole (a lower UID committed later would show as one)
  const watch = async (node: PgNode, c: ImapFlow) => {
    const seen: number[] = [];
    let batches = 0;
    while (seen.length < TOTAL) {
      await c.noop();
      const exists = c.mailbox ? (c.mailbox as { exists: number }).exists : 0;
      if (exists > seen.length) {
        const fresh = (await c.fetchAll(`${seen.length + 1}:${exists}`, { uid: true })).map((x) => x.uid);
        const expect = Array.from({ length: fresh.length }, (_, i) => seen.length + 1 + i);
        assert.deepEqual(fresh, expect, `${node.name}: after UID ${seen.length} came ${fresh.join(',')}`);
        seen.push(...fresh);
        batches++;
      } else await new Promise((r) => setTimeout(r, 5));
    }
    return { seen, batches };
  };
  // both watchers are logged in with INBOX selected before the first message is sent
  const clients = await Promise.all([a, b].map(async (node) => {
    const c = await imap(t, node, 'bob@example.test', 'bob-pw');
    await c.mailboxOpen('INBOX');
    return c;
  }));
  const watchers = [watch(a, clients[0]), watch(b, clients[1])];

  const senders = Array.from({ length: CLIENTS }, async (_, i) => {
    const tr = smtp(t, i % 2 ? b : a);
    const uids: string[] = [];
    for (let k = 0; k < EACH; k++) {
      const raw = Buffer.from(`From: c${i}@remote.test\r\nTo: bob@example.test\r\nSubject: client ${i} message ${k}\r\nMessage-ID: <c${i}.${k}@remote.test>\r\n\r\nbody ${i}/${k}\r\n`);
      const info = await tr.sendMail({ envelope: { from: `c${i}@remote.test`, to: ['bob@example.test'] }, raw });
      assert.match(info.response, /^250 /);
      uids.push(info.messageId);
    }
    return uids;
  });
  await Promise.all(senders);
  const [wa, wb] = await Promise.all(watchers);
  assert.deepEqual(wa.seen, Array.from({ length: TOTAL }, (_, i) => i + 1));
  assert.deepEqual(wb.seen, wa.seen);
  t.diagnostic(`watchers saw the ${TOTAL} UIDs arrive in ${wa.batches} (A) and ${wb.batches} (B) steps`);

  // the store agrees: every message once, UIDNEXT past the last, every Message-ID once
  const bob = (await store.users.get('bob@example.test'))!;
  const inbox = (await store.mailboxes.get(bob.id, 'INBOX'))!;
  assert.equal(inbox.uidNext, TOTAL + 1);
  const list = await store.messages.list(inbox.id);
  const ids = new Set<string | null>();
  for (const m of list) ids.add((await store.messages.meta(m.blobId)).messageId);
  assert.equal(ids.size, TOTAL);
  // MODSEQs never repeat either
  assert.equal(new Set(list.map((m) => m.modseq)).size, TOTAL);
});
