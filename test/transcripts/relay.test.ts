// Relay transcripts across two post offices: 163.test relays by MX to sina.test (and then through
// sina as an authenticated smarthost). The relay session is recorded with protocol 'relay', the
// MX's ip:port, the TLS line and the message excerpt; its sid is in the journey steps of the
// attempt; AUTH to the smarthost is ***, in the transcripts, the journey and the debug logs.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import nodemailer from 'nodemailer';
import { pino } from 'pino';
import { startLab } from '../helpers/lab.js';
import { startDns } from '../relay/dns-server.js';
import { inbox, waitFor } from '../relay/util.js';
import { assertInOrder, assertNoSecret, ended, render } from './util.js';

const ME = 'me@163.test';
const ME_PASS = 'pw-of-me-Ω';
const RELAY_PASS = 'smarthost-Secret_42';

/** A pino logger at debug level writing into a string, to look for secrets in what is logged. */
function bufferLogger() {
  const out = { text: '' };
  const stream = new Writable({ write(chunk, _enc, cb) { out.text += chunk.toString(); cb(); } });
  return { log: pino({ level: 'debug' }, stream), out };
}

async function twoOffices(t: TestContext, smarthost: boolean) {
  const dns = await startDns({
    '163.test': { MX: [[10, 'mx.163.test']] }, 'mx.163.test': { A: ['127.0.0.2'] },
    'sina.test': { MX: [[10, 'mx.sina.test']] }, 'mx.sina.test': { A: ['127.0.0.3'] },
  });
  t.after(() => dns.close());
  const common = { POSTOFFICE_DNS_SERVERS: dns.server, POSTOFFICE_RELAY_POLL_MS: '100', POSTOFFICE_RELAY_RETRY_SCHEDULE: '1s', POSTOFFICE_TRANSCRIPTS: 'on' };
  const sinaLog = bufferLogger();
  const sina = await startLab(t, {
    // as a smarthost, sina also knows 163.test's sender as a user (the account 163 relays with)
    users: { 'friend@sina.test': 'pw2', ...(smarthost ? { [ME]: RELAY_PASS } : {}) },
    env: { ...common, POSTOFFICE_DOMAINS: smarthost ? 'sina.test,163.test' : 'sina.test', POSTOFFICE_HOSTNAME: 'mx.sina.test', POSTOFFICE_LISTEN: '127.0.0.3' },
    log: sinaLog.log,
  });
  const log163 = bufferLogger();
  const env163: Record<string, string> = { ...common, POSTOFFICE_DOMAINS: '163.test', POSTOFFICE_HOSTNAME: 'mx.163.test', POSTOFFICE_LISTEN: '127.0.0.2', POSTOFFICE_RELAY_PORT: String(sina.port('smtp')) };
  if (smarthost) Object.assign(env163, { POSTOFFICE_SMARTHOST: `127.0.0.3:${sina.port('submission')}`, POSTOFFICE_SMARTHOST_USER: ME, POSTOFFICE_SMARTHOST_PASSWORD: RELAY_PASS });
  const mail163 = await startLab(t, { users: { [ME]: ME_PASS }, env: env163, log: log163.log });
  const transport = nodemailer.createTransport({
    host: '127.0.0.2', port: mail163.port('submission'), secure: false, requireTLS: true, tls: { rejectUnauthorized: false }, auth: { user: ME, pass: ME_PASS },
  });
  const sent = await transport.sendMail({ from: ME, to: 'friend@sina.test', subject: 'hello from 163', text: Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n') });
  transport.close();
  const msgId = /queued as (\S+)/.exec(sent.response)![1];
  await waitFor('the mail at sina', async () => ((await inbox(sina.po.store, 'friend@sina.test')).length ? true : null));
  const delivered = await waitFor('the delivered step', async () => (await mail163.po.store.journey.trace(msgId)).find((r) => r.step === 'delivered'));
  return { sina, mail163, msgId, delivered, logs: [sinaLog.out, log163.out] };
}

test('relay by MX: a relay transcript linked from the journey, and the receiving SMTP session at sina', { timeout: 60_000 }, async (t) => {
  const { sina, mail163, msgId, delivered } = await twoOffices(t, false);
  const relayS = await ended(mail163.po.store, (s) => s.protocol === 'relay');
  assert.equal(relayS.remote, `127.0.0.3:${sina.port('smtp')}`);
  assert.match(relayS.local ?? '', /^127\.0\.0\.2:\d+$/, 'it left from 163\'s address');
  assert.deepEqual(relayS.msgIds, [msgId]);
  assert.match(relayS.tls ?? '', /^TLSv1/);
  assert.match(relayS.sid, /^r[0-9a-f]{10}$/);
  assertInOrder(render(relayS), [
    'S: 220 mx.sina.test ESMTP postoffice',
    'C: EHLO mx.163.test',
    'C: STARTTLS',
    'S: 220 ...',
    'TLS: TLSv1...',
    'C: EHLO mx.163.test',
    `C: MAIL FROM:<${ME}>...`,
    'C: RCPT TO:<friend@sina.test>...',
    'C: DATA',
    'S: 354 ...',
    'C: Subject: hello from 163',
    'note: <... bytes of the message elided>',
    'C: .',
    'S: 250 2.6.0 Ok: queued as ...',
  ]);
  // the journey's hops name the transcript
  const steps = await mail163.po.store.journey.trace(msgId);
  for (const name of ['connected', 'session', 'delivered']) {
    const step = steps.find((r) => r.step === name);
    assert.equal(step?.details.sid, relayS.sid, `${name} carries the relay transcript's sid`);
  }
  assert.equal(delivered.details.sid, relayS.sid);
  // at sina: the SMTP session that received it, linked to sina's own id of the message
  const sinaId = (await sina.po.store.journey.recent({ limit: 5 }))[0].msgId;
  const inS = await ended(sina.po.store, (s) => s.protocol === 'smtp');
  assert.deepEqual(inS.msgIds, [sinaId]);
  assert.equal(inS.remote?.startsWith('127.0.0.2:'), true, 'the relay left from 163\'s address');
  assertInOrder(render(inS), ['S: 220 ...', 'C: EHLO mx.163.test', 'C: STARTTLS', 'TLS: TLSv1...', 'C: DATA', 'C: .', `S: 250 2.6.0 Ok: queued as ${sinaId}`]);
  assert.equal((await sina.po.store.journey.trace(sinaId)).find((r) => r.step === 'received')?.details.sid, inS.sid);
  // the submission at 163 is linked too
  const sub = await ended(mail163.po.store, (s) => s.protocol === 'submission');
  assert.deepEqual(sub.msgIds, [msgId]);
  for (const name of ['submitted', 'received']) assert.equal(steps.find((r) => r.step === name)?.details.sid, sub.sid, `${name} carries the submission's sid`);
  assertNoSecret(JSON.stringify(sub), ME, ME_PASS, 'the submission transcript');
});

test('relay through an authenticated smarthost: AUTH is *** in the transcripts, the journey and the logs', { timeout: 60_000 }, async (t) => {
  const { sina, mail163, msgId, logs } = await twoOffices(t, true);
  const relayS = await ended(mail163.po.store, (s) => s.protocol === 'relay');
  assert.equal(relayS.remote, `127.0.0.3:${sina.port('submission')}`);
  const lines = render(relayS);
  assertInOrder(lines, ['C: STARTTLS', 'TLS: TLSv1...', 'C: EHLO mx.163.test', 'S: 250-AUTH PLAIN LOGIN', 'C: AUTH PLAIN ***', 'S: 235 ...', `C: MAIL FROM:<${ME}>...`]);
  const steps = await mail163.po.store.journey.trace(msgId);
  assert.equal(steps.find((r) => r.step === 'authenticated')?.details.sid, relayS.sid);
  const atSina = await ended(sina.po.store, (s) => s.protocol === 'submission');
  assert.equal(atSina.user, ME);
  assert.ok(render(atSina).includes('C: AUTH PLAIN ***'));
  for (const [what, text] of [
    ['the relay transcript', JSON.stringify(relayS)], ['the journey at 163', JSON.stringify(steps)], ['the submission transcript at sina', JSON.stringify(atSina)],
    ['the logs at sina', logs[0].text], ['the logs at 163', logs[1].text],
  ] as const) {
    assertNoSecret(text, ME, RELAY_PASS, what);
    assertNoSecret(text, ME, ME_PASS, what);
  }
  assert.ok(logs[1].text.length > 0, 'the logger did write');
});
