// RFC 3461 NOTIFY=SUCCESS: DSN is advertised in EHLO, so a sender who asks to hear of success
// hears of it: "delivered" when we store the mail, "relayed" when we hand it to a remote MX
// (we pass no DSN parameters on, RFC 3461 §6.2.1 d). Reports carry the header, not the message.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import nodemailer from 'nodemailer';
import { startLab } from '../helpers/lab.js';
import { startDns } from '../relay/dns-server.js';
import { startSink } from '../relay/sink.js';
import { enqueue, inbox, waitFor } from '../relay/util.js';

test('NOTIFY=SUCCESS on a local recipient: a "delivered" report to the sender; without it, none', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: { 'alice@example.test': 'alice-pw', 'bob@example.test': 'pw', 'carol@example.test': 'pw' } });
  const tr = nodemailer.createTransport({ host: '127.0.0.1', port: lab.port('smtps'), secure: true, auth: { user: 'alice@example.test', pass: 'alice-pw' }, tls: { rejectUnauthorized: false } });
  t.after(() => tr.close());
  await tr.sendMail({
    envelope: { from: 'alice@example.test', to: ['bob@example.test'] }, from: 'alice@example.test', to: 'bob@example.test',
    subject: 'did it arrive?', text: 'the whole body, which a success report does not return',
    dsn: { id: 'env-42', return: 'full', notify: ['success', 'failure'], recipient: 'bob@example.test' },
  });
  // carol did not ask: no report about her
  await tr.sendMail({ envelope: { from: 'alice@example.test', to: ['carol@example.test'] }, from: 'alice@example.test', to: 'carol@example.test', subject: 'quiet', text: 'x' });
  const reports = await waitFor('the report', async () => { const m = await inbox(lab.po.store, 'alice@example.test'); return m.length ? m : null; }, 10_000);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await inbox(lab.po.store, 'alice@example.test')).length, 1, 'one report, for bob only');
  const dsn = reports[0].toString('latin1');
  assert.match(dsn, /^Return-Path: <>/);
  assert.match(dsn, /^Subject: Successful Mail Delivery Report$/m);
  assert.match(dsn, /Content-Type: multipart\/report; report-type=delivery-status/);
  assert.match(dsn, /^Original-Envelope-Id: env-42$/m);
  assert.match(dsn, /^Final-Recipient: rfc822; bob@example\.test\r\nAction: delivered\r\nStatus: 2\.0\.0$/m);
  assert.match(dsn, /Content-Type: text\/rfc822-headers/);
  assert.match(dsn, /^Subject: did it arrive\?$/m);
  assert.doesNotMatch(dsn, /the whole body/, 'RET=FULL returns the message in failure reports only');
  assert.equal((await inbox(lab.po.store, 'bob@example.test')).length, 1);
});

test('NOTIFY=SUCCESS on a remote recipient: a "relayed" report once the remote MX said 250', { timeout: 60_000 }, async (t) => {
  const sink = await startSink();
  t.after(() => sink.close());
  const dns = await startDns({ 'remote.test': { MX: [[10, 'mx.remote.test']] }, 'mx.remote.test': { A: ['127.0.0.1'] } });
  t.after(() => dns.close());
  const lab = await startLab(t, {
    users: { 'me@163.test': 'pw' },
    env: { POSTOFFICE_DOMAINS: '163.test', POSTOFFICE_HOSTNAME: 'mx.163.test', POSTOFFICE_DNS_SERVERS: dns.server, POSTOFFICE_RELAY_PORT: String(sink.port) },
  });
  // hold the queue entry's last update until the report has been looked at: the trace must not
  // depend on it (the report and the steps that led to it commit together)
  let release!: () => void;
  const held = new Promise<void>((r) => { release = r; });
  const queue = lab.po.store.queue;
  const finish = queue.finish.bind(queue);
  queue.finish = async (...a: Parameters<typeof finish>) => { await held; return finish(...a); };
  t.after(() => release());
  const { msgId } = await enqueue(lab, 'me@163.test', ['you@remote.test', 'other@remote.test'], { notify: { 'you@remote.test': ['SUCCESS'] } });
  const reports = await waitFor('the report', async () => { const m = await inbox(lab.po.store, 'me@163.test'); return m.length ? m : null; }, 20_000);
  assert.equal(sink.received.length, 1);
  const dsn = reports[0].toString('latin1');
  assert.match(dsn, /^Final-Recipient: rfc822; you@remote\.test\r\nAction: relayed\r\nStatus: 2\.\d\.\d\r\nRemote-MTA: dns; mx\.remote\.test$/m);
  assert.doesNotMatch(dsn, /Final-Recipient: rfc822; other@remote\.test/, 'only the recipient that asked');
  const trace = await lab.po.store.journey.trace(msgId);
  assert.deepEqual(trace.filter((e) => e.agent === 'MTA out').map((e) => e.step).filter((s) => s !== 'queued').slice(-2), ['delivered', 'success report sent']);
  assert.ok(trace.some((e) => e.step === 'attempt'));
  assert.equal((await lab.po.store.queue.list()).length, 1, 'the entry is still there (held)');
  release();
  await waitFor('the queue entry to go', async () => !(await lab.po.store.queue.list()).some((x) => x.msgId === msgId));
  const after = await lab.po.store.journey.trace(msgId);
  assert.equal(after.filter((e) => e.step === 'success report sent').length, 1, 'recorded once');
});
