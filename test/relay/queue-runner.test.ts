// The queue runner against a scripted remote MX and a dns2 server: retries, the next MX,
// per-recipient 5xx in one transaction, DSNs (RFC 3464), null MX, never bouncing a bounce,
// delay warnings and expiry.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { formatTrace } from '../../src/trace/format.js';
import { startLab } from '../helpers/lab.js';
import { startDns, type DnsFixture } from './dns-server.js';
import { startSink, type Sink } from './sink.js';
import { enqueue, inbox, waitFor } from './util.js';

async function setup(t: TestContext, env: Record<string, string> = {}): Promise<{ lab: Awaited<ReturnType<typeof startLab>>; sink: Sink; dns: DnsFixture }> {
  const sink = await startSink();
  t.after(() => sink.close());
  const dns = await startDns({
    'remote.test': { MX: [[10, 'mx.remote.test']] },
    'mx.remote.test': { A: ['127.0.0.1'] },
    'backup.test': { MX: [[10, 'dead.backup.test'], [20, 'mx.backup.test']] },
    'dead.backup.test': { A: ['127.0.0.9'] },
    'mx.backup.test': { A: ['127.0.0.1'] },
    'nullmx.test': { MX: [[0, '']] },
  });
  t.after(() => dns.close());
  const lab = await startLab(t, {
    users: { 'me@163.test': 'pw' },
    env: {
      POSTOFFICE_DOMAINS: '163.test', POSTOFFICE_HOSTNAME: 'mx.163.test', POSTOFFICE_DNS_SERVERS: dns.server,
      POSTOFFICE_RELAY_PORT: String(sink.port), POSTOFFICE_RELAY_POLL_MS: '50', POSTOFFICE_RELAY_RETRY_SCHEDULE: '1s', ...env,
    },
  });
  return { lab, sink, dns };
}

const queueEmpty = (lab: Awaited<ReturnType<typeof startLab>>) => waitFor('the queue to empty', async () => (await lab.po.store.queue.list()).length === 0, 30_000);

test('remote down: deferred with the next attempt time, delivered once it is back', { timeout: 60_000 }, async (t) => {
  const { lab, sink } = await setup(t);
  await sink.down();
  const { msgId } = await enqueue(lab, 'me@163.test', ['you@remote.test']);
  const e = await waitFor('a failed attempt', async () => (await lab.po.store.queue.list()).find((x) => x.attempts >= 1));
  assert.equal(e.rcpts[0].status, 'pending');
  assert.ok(e.nextAttempt > Date.now() - 200, 'retry scheduled in the future');
  await sink.up();
  await queueEmpty(lab);
  assert.equal(sink.received.length, 1);
  assert.deepEqual(sink.received[0].rcpts, ['you@remote.test']);
  const trace = formatTrace(await lab.po.store.journey.trace(msgId));
  assert.match(trace, /connect failed\s+.*host=mx\.remote\.test ip=127\.0\.0\.1/);
  assert.match(trace, /deferred\s+.*rcpts=you@remote\.test .*attempt=1 nextAttempt=20\d\d-/);
  assert.match(trace, /delivered\s+.*rcpt=you@remote\.test host=mx\.remote\.test reply=250 /);
});

test('the next MX is tried when the first does not answer', { timeout: 60_000 }, async (t) => {
  const { lab, sink } = await setup(t);
  const { msgId } = await enqueue(lab, 'me@163.test', ['a@backup.test']);
  await queueEmpty(lab);
  assert.equal(sink.received.length, 1);
  const trace = formatTrace(await lab.po.store.journey.trace(msgId));
  assert.match(trace, /connect failed\s+.*host=dead\.backup\.test ip=127\.0\.0\.9/);
  assert.match(trace, /connected\s+.*host=mx\.backup\.test ip=127\.0\.0\.1 .*preference=20/);
  assert.doesNotMatch(trace, /deferred/);
});

test('550 for one recipient, 250 for another, in one transaction: a DSN for the one', { timeout: 60_000 }, async (t) => {
  const { lab, sink } = await setup(t);
  sink.rcptReplies['nobody@remote.test'] = [550, '5.1.1 no such user here'];
  const { msgId } = await enqueue(lab, 'me@163.test', ['ok@remote.test', 'nobody@remote.test'], { subject: 'two of them' });
  await queueEmpty(lab);
  assert.equal(sink.connections, 1);
  assert.equal(sink.received.length, 1);
  assert.deepEqual(sink.received[0].rcpts, ['ok@remote.test']);
  const [dsn] = await waitFor('the DSN in me@163.test INBOX', async () => { const b = await inbox(lab.po.store, 'me@163.test'); return b.length ? b : null; });
  const text = dsn.toString('latin1');
  assert.match(text, /^Return-Path: <>\r\n/);
  assert.match(text, /^Content-Type: multipart\/report; report-type=delivery-status;/m);
  assert.match(text, /^Subject: Undelivered Mail Returned to Sender\r$/m);
  assert.match(text, /^Content-Type: message\/delivery-status\r$/m);
  assert.match(text, /^Reporting-MTA: dns; mx\.163\.test\r$/m);
  assert.match(text, /^Final-Recipient: rfc822; nobody@remote\.test\r\nAction: failed\r\nStatus: 5\.1\.1\r\nRemote-MTA: dns; mx\.remote\.test\r\nDiagnostic-Code: smtp; 550 5\.1\.1 no such user here\r$/m);
  assert.doesNotMatch(text, /Final-Recipient: rfc822; ok@remote\.test/);
  assert.match(text, /^Content-Type: text\/rfc822-headers\r\n[^]*^Subject: two of them\r$/m);
  const trace = formatTrace(await lab.po.store.journey.trace(msgId));
  assert.match(trace, /bounced\s+.*rcpt=nobody@remote\.test/);
  assert.match(trace, /bounce sent\s+.*to=me@163\.test/);
});

test('null MX (RFC 7505) and NXDOMAIN bounce at once, without connecting', { timeout: 60_000 }, async (t) => {
  const { lab, sink } = await setup(t);
  await enqueue(lab, 'me@163.test', ['x@nullmx.test']);
  await enqueue(lab, 'me@163.test', ['y@nowhere.test']);
  await queueEmpty(lab);
  const box = await waitFor('two DSNs', async () => { const b = await inbox(lab.po.store, 'me@163.test'); return b.length === 2 ? b : null; });
  const all = box.map((b) => b.toString('latin1')).join('\n');
  assert.match(all, /Final-Recipient: rfc822; x@nullmx\.test\r\nAction: failed\r\nStatus: 5\.1\.10\r$/m);
  assert.match(all, /Final-Recipient: rfc822; y@nowhere\.test\r\nAction: failed\r\nStatus: 5\.1\.2\r$/m);
  assert.equal(sink.connections, 0);
});

test('never bounce a bounce: a failed null reverse-path message is dropped with a journey note', { timeout: 60_000 }, async (t) => {
  const { lab, sink } = await setup(t);
  sink.rcptReplies['nobody@remote.test'] = [550, '5.1.1 no such user here'];
  const { msgId } = await enqueue(lab, '', ['nobody@remote.test'], { user: null });
  await queueEmpty(lab);
  const trace = formatTrace(await lab.po.store.journey.trace(msgId));
  assert.match(trace, /not reported\s+.*null reverse-path/);
  assert.equal((await inbox(lab.po.store, 'me@163.test')).length, 0);
  // and the one transaction to the remote carried MAIL FROM:<>
  assert.equal(sink.received.length, 0);
  assert.equal(sink.connections, 1);
});

test('a delay warning after relayDelayWarning, a bounce (4.4.7) after relayExpire', { timeout: 60_000 }, async (t) => {
  const { lab, sink } = await setup(t, { POSTOFFICE_RELAY_RETRY_SCHEDULE: '300ms', POSTOFFICE_RELAY_DELAY_WARNING: '1s', POSTOFFICE_RELAY_EXPIRE: '6s' });
  sink.dataReply = [451, '4.3.0 try again later'];
  const { msgId } = await enqueue(lab, 'me@163.test', ['slow@remote.test'], { subject: 'patience' });
  const [warning] = await waitFor('the delay warning', async () => { const b = await inbox(lab.po.store, 'me@163.test'); return b.length ? b : null; }, 10_000);
  assert.match(warning.toString('latin1'), /^Action: delayed\r\nStatus: 4\.3\.0\r\nRemote-MTA: dns; mx\.remote\.test\r\nDiagnostic-Code: smtp; 451 4\.3\.0 try again later\r$/m);
  assert.match(warning.toString('latin1'), /^Will-Retry-Until: /m);
  assert.equal((await lab.po.store.queue.list()).length, 1, 'still queued after the warning');
  await queueEmpty(lab);
  const box = await inbox(lab.po.store, 'me@163.test');
  assert.equal(box.length, 2, 'one warning, one bounce');
  assert.match(box[1].toString('latin1'), /^Action: failed\r\nStatus: 4\.4\.7\r$/m);
  assert.match(box[1].toString('latin1'), /delivery time expired after \d+ attempt\(s\); last reply: 451 4\.3\.0 try again later/);
  const trace = formatTrace(await lab.po.store.journey.trace(msgId));
  assert.match(trace, /delay warning sent/);
  assert.match(trace, /expired/);
});

test('POSTOFFICE_SMARTHOST: everything goes through one host, with AUTH, whatever the MX says', { timeout: 60_000 }, async (t) => {
  const smarthost = await startSink({ auth: { user: 'relayuser', pass: 'relaypw' } });
  t.after(() => smarthost.close());
  const { lab, sink } = await setup(t, {
    POSTOFFICE_SMARTHOST: `127.0.0.1:${smarthost.port}`, POSTOFFICE_SMARTHOST_USER: 'relayuser', POSTOFFICE_SMARTHOST_PASSWORD: 'relaypw',
  });
  const { msgId } = await enqueue(lab, 'me@163.test', ['x@nullmx.test', 'y@remote.test']);
  await queueEmpty(lab);
  assert.equal(sink.connections, 0, 'the MX was not used');
  assert.equal(smarthost.received.length, 2, 'one transaction per destination domain');
  assert.ok(smarthost.received.every((r) => r.user === 'relayuser'));
  const trace = formatTrace(await lab.po.store.journey.trace(msgId));
  assert.match(trace, /smarthost\s+.*host=127\.0\.0\.1/);
  assert.match(trace, /authenticated\s+.*user=relayuser/);
  assert.doesNotMatch(trace, /relaypw/);
  const auth = /C: AUTH PLAIN (\S+?),/.exec(trace);
  assert.ok(auth && !Buffer.from(auth[1], 'base64').toString().includes('relaypw'), 'no credentials in the journey');
});

test('relayRequireTls: no verified STARTTLS, no delivery (deferred, 4.7.x)', { timeout: 60_000 }, async (t) => {
  const { lab, sink } = await setup(t, { POSTOFFICE_RELAY_REQUIRE_TLS: 'remote.test' });
  const { msgId } = await enqueue(lab, 'me@163.test', ['you@remote.test']);
  const e = await waitFor('a failed attempt', async () => (await lab.po.store.queue.list()).find((x) => x.attempts >= 1));
  assert.equal(sink.received.length, 0);
  assert.equal(e.rcpts[0].status, 'pending');
  const trace = formatTrace(await lab.po.store.journey.trace(msgId));
  assert.match(trace, /connect failed\s+.*STARTTLS/i);
  assert.match(trace, /deferred/);
});

test('larger than the SIZE the remote announces (RFC 1870): bounced 5.3.4 without sending', { timeout: 60_000 }, async (t) => {
  const { lab, sink } = await setup(t);
  sink.maxSize = 100;
  await sink.down();
  await sink.up();
  await enqueue(lab, 'me@163.test', ['big@remote.test'], { body: 'x'.repeat(500) });
  await queueEmpty(lab);
  assert.equal(sink.received.length, 0);
  const [dsn] = await waitFor('the DSN', async () => { const b = await inbox(lab.po.store, 'me@163.test'); return b.length ? b : null; });
  assert.match(dsn.toString('latin1'), /^Final-Recipient: rfc822; big@remote\.test\r\nAction: failed\r\nStatus: 5\.3\.4\r$/m);
});

test('mail loops bounce with 5.4.6: we are the best MX of a remote domain, or too many Received: fields', { timeout: 60_000 }, async (t) => {
  const { lab, dns, sink } = await setup(t);
  dns.zones['loop.test'] = { MX: [[10, 'mx.163.test']] };
  dns.zones['mx.163.test'] = { A: ['127.0.0.1'] };
  dns.zones['lower.test'] = { MX: [[20, 'mx.163.test'], [10, 'mx.remote.test']] };
  await enqueue(lab, 'me@163.test', ['x@loop.test']);
  await enqueue(lab, 'me@163.test', ['y@lower.test']);
  const hops = Array.from({ length: 60 }, (_, i) => `Received: from hop${i} by hop${i + 1}; Mon, 23 Nov 2026 10:00:00 +0000`).join('\r\n');
  await enqueue(lab, 'me@163.test', ['z@remote.test']);
  await queueEmpty(lab);
  // the one with a lower-preference MX than ours went there
  assert.equal(sink.received.length, 2);
  const box = await waitFor('one DSN', async () => { const b = await inbox(lab.po.store, 'me@163.test'); return b.length ? b : null; });
  assert.match(box[0].toString('latin1'), /^Final-Recipient: rfc822; x@loop\.test\r\nAction: failed\r\nStatus: 5\.4\.6\r$/m);
  // now a looping message
  const msgId = 'loop.1';
  const raw = Buffer.from(`${hops}\r\nFrom: <me@163.test>\r\nSubject: loop\r\n\r\nx\r\n`);
  await lab.po.store.deliver({ msgId, mailFrom: 'me@163.test', raw, relayRaw: raw, local: [], remote: ['w@remote.test'], journey: [], queueData: {} });
  await queueEmpty(lab);
  assert.equal(sink.received.length, 2, 'the looping message was not sent');
  const box2 = await waitFor('two DSNs', async () => { const b = await inbox(lab.po.store, 'me@163.test'); return b.length === 2 ? b : null; });
  assert.match(box2[1].toString('latin1'), /^Final-Recipient: rfc822; w@remote\.test\r\nAction: failed\r\nStatus: 5\.4\.6\r$/m);
});

test('several messages to one MX share a session (connection cache); the trace says so', { timeout: 60_000 }, async (t) => {
  const { lab, sink } = await setup(t, { POSTOFFICE_RELAY_DOMAIN_CONCURRENCY: '1' });
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push((await enqueue(lab, 'me@163.test', [`r${i}@remote.test`])).msgId);
  await queueEmpty(lab);
  assert.equal(sink.received.length, 5);
  assert.equal(sink.connections, 1, 'one SMTP session, five transactions');
  const last = formatTrace(await lab.po.store.journey.trace(ids[4]));
  assert.match(last, /connected\s+.*reused=\d/);
});

test('new mail and `queue flush` wake the runner at once, without waiting for the poll', { timeout: 60_000 }, async (t) => {
  // a 10-minute poll: only the wake-up can deliver within the waits below
  const { lab, sink } = await setup(t, { POSTOFFICE_RELAY_POLL_MS: '600000', POSTOFFICE_RELAY_RETRY_SCHEDULE: '1h' });
  await new Promise((r) => setTimeout(r, 300)); // the runner's first look at the (empty) queue is over
  await enqueue(lab, 'me@163.test', ['now@remote.test']);
  await waitFor('the queue to empty', async () => (await lab.po.store.queue.list()).length === 0, 10_000);
  assert.equal(sink.received.length, 1);
  // deferred for an hour; `queue flush` makes it due, and the runner takes it at once
  await sink.down();
  await enqueue(lab, 'me@163.test', ['later@remote.test']);
  await waitFor('a failed attempt', async () => (await lab.po.store.queue.list()).find((x) => x.attempts >= 1), 10_000);
  await sink.up();
  assert.equal(await lab.po.store.queue.flush(), 1);
  await waitFor('the queue to empty', async () => (await lab.po.store.queue.list()).length === 0, 10_000);
  assert.equal(sink.received.length, 2);
});
