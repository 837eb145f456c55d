// One relay queue, two nodes (127.0.0.2 and 127.0.0.3, `postoffice serve` processes on one
// PostgreSQL database): every entry is delivered by exactly one of them (queue leases,
// FOR UPDATE SKIP LOCKED). A node killed with SIGKILL in the middle of its deliveries holds its
// entries only until their leases run out; then the other node delivers them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { startDnsServer } from '../../src/lab/dns.js';
import type { Store } from '../../src/store/index.js';
import { pgUnavailable } from '../helpers/pg.js';
import { sharedDatabase, startNode, startSink, waitUntil } from './nodes.js';

const skip = pgUnavailable() ?? false;

let n = 0;
/** Queues a message for a remote recipient as the submission listener does; returns its Message-ID. */
async function enqueue(store: Store, rcpt: string): Promise<{ msgId: string; messageId: string }> {
  const msgId = `mq${process.pid}.${++n}`;
  const messageId = `<${msgId}@example.test>`;
  const raw = Buffer.from([`From: <me@example.test>`, `To: <${rcpt}>`, `Subject: relay ${n}`, `Message-ID: ${messageId}`, `Date: ${new Date().toUTCString()}`, '', `message ${n}`, ''].join('\r\n'));
  await store.deliver({
    msgId, mailFrom: 'me@example.test', raw, relayRaw: raw, local: [], remote: [rcpt],
    journey: [{ msgId, agent: 'MTA in', step: 'received', details: {} }], queueData: { user: null },
  });
  return { msgId, messageId };
}

async function remoteDns(t: import('node:test').TestContext): Promise<string> {
  const dns = await startDnsServer({ 'remote.test': { MX: [[10, 'mx.remote.test']] }, 'mx.remote.test': { A: ['127.0.0.1'] } });
  t.after(() => dns.close());
  return dns.server;
}

const relayEnv = (dns: string, sinkPort: number, extra: Record<string, string> = {}) => ({
  POSTOFFICE_DNS_SERVERS: dns, POSTOFFICE_RELAY_PORT: String(sinkPort), POSTOFFICE_RELAY_POLL_MS: '100',
  POSTOFFICE_RELAY_RETRY_SCHEDULE: '1s', POSTOFFICE_RELAY_MTA_STS: 'false', ...extra,
});

test('two queue runners on one database deliver 500 relayed messages, none twice', { skip, timeout: 180_000 }, async (t) => {
  const { url, store } = await sharedDatabase(t, { 'me@example.test': 'pw' });
  const dns = await remoteDns(t);
  const sink = await startSink(t, { delayMs: 5 });
  const env = relayEnv(dns, sink.port);
  // both nodes run before the mail arrives: each is woken by the database's notification and claims its share
  const a = await startNode(t, { name: 'a', host: '127.0.0.2', url, env });
  const b = await startNode(t, { name: 'b', host: '127.0.0.3', url, env });
  const N = 500;
  const sent = new Set<string>();
  for (let i = 0; i < N; i++) sent.add((await enqueue(store, `r${i}@remote.test`)).messageId);

  await waitUntil(`${N} messages at the sink`, () => sink.received.length >= N, 150_000);
  await waitUntil('an empty queue', async () => (await store.queue.list()).length === 0, 30_000);
  // a little longer: a second copy of anything would arrive now
  await new Promise((r) => setTimeout(r, 1000));
  const ids = sink.received.map((m) => m.messageId);
  assert.equal(ids.length, N, `${ids.length - new Set(ids).size} message(s) delivered twice`);
  assert.deepEqual(new Set(ids), sent);
  const byNode = { a: sink.received.filter((m) => m.remote.endsWith('127.0.0.2')).length, b: sink.received.filter((m) => m.remote.endsWith('127.0.0.3')).length };
  assert.equal(byNode.a + byNode.b, N, JSON.stringify(byNode));
  assert.ok(byNode.a > 0 && byNode.b > 0, `both nodes delivered: ${JSON.stringify(byNode)}`);
  // each delivery is in the journey once, by the node that made it
  const rows = await store.journey.trace([...sent][0]);
  assert.equal(rows.filter((r) => r.step === 'delivered').length, 1);
  await Promise.all([a.stop(), b.stop()]);
});

test('node A killed with SIGKILL mid-queue: node B delivers what A held once its leases expire', { skip, timeout: 180_000 }, async (t) => {
  const { url, store } = await sharedDatabase(t, { 'me@example.test': 'pw' });
  const dns = await remoteDns(t);
  const sink = await startSink(t, { delayMs: 300 });
  const N = 40;
  const byMsgId = new Map<string, string>();
  for (let i = 0; i < N; i++) {
    const m = await enqueue(store, `r${i}@remote.test`);
    byMsgId.set(m.msgId, m.messageId);
  }
  // A: 4 deliveries at once, so it holds (leases) more entries than it has in flight; leases of 4 s
  const a = await startNode(t, { name: 'a', host: '127.0.0.2', url, env: relayEnv(dns, sink.port, { POSTOFFICE_RELAY_CONCURRENCY: '4', POSTOFFICE_RELAY_LEASE: '4s' }) });
  await waitUntil('A delivering', () => sink.received.length >= 4, 60_000, 20);
  await a.stop('SIGKILL');
  const killedAt = Date.now();

  // what A held at its death, and until when
  const db = new pg.Client({ connectionString: url });
  db.on('error', () => { /* the test's database is dropped (FORCE) after the test */ });
  await db.connect();
  const held = (await db.query(`SELECT msg_id, lease_until FROM queue WHERE lease_node = 'a' AND lease_until > $1`, [killedAt])).rows
    .map((r) => ({ messageId: byMsgId.get(r.msg_id as string)!, until: Number(r.lease_until) }));
  assert.ok(held.length > 0, 'A held leased entries when it was killed');
  await db.end();

  const b = await startNode(t, { name: 'b', host: '127.0.0.3', url, env: relayEnv(dns, sink.port, { POSTOFFICE_RELAY_CONCURRENCY: '8', POSTOFFICE_RELAY_LEASE: '4s' }) });
  await waitUntil('every message at the sink', () => new Set(sink.received.map((m) => m.messageId)).size >= N, 120_000);
  await waitUntil('an empty queue', async () => (await store.queue.list()).length === 0, 30_000);
  // what A handed to the sink (also a DATA the sink took after A's death: it answers after 300 ms)
  const deliveredByA = new Set(sink.received.filter((m) => m.remote.endsWith('127.0.0.2')).map((m) => m.messageId));

  for (const h of held) {
    // B took each of A's entries only after A's lease on it had run out
    const byB = sink.received.filter((m) => m.messageId === h.messageId && m.remote.endsWith('127.0.0.3'));
    if (deliveredByA.has(h.messageId) && !byB.length) continue; // A finished it (250) but died before its commit was read back: delivered once
    assert.ok(byB.length >= 1, `B delivered ${h.messageId}`);
    for (const m of byB) assert.ok(m.at >= h.until, `B delivered ${h.messageId} ${h.until - m.at} ms before A's lease expired`);
  }
  // nothing lost; a second copy only of what A had in flight at its death (SMTP's at-least-once edge)
  const counts = new Map<string, number>();
  for (const m of sink.received) counts.set(m.messageId, (counts.get(m.messageId) ?? 0) + 1);
  assert.deepEqual(new Set(counts.keys()), new Set(byMsgId.values()));
  const heldIds = new Set(held.map((h) => h.messageId));
  for (const [id, c] of counts) if (c > 1) assert.ok(heldIds.has(id) && deliveredByA.has(id), `${id} delivered ${c} times though A did not hold it in flight`);
  await b.stop();
});
