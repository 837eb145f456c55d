// The lab test of MTA to MTA on one machine: 163.test on 127.0.0.2, sina.test on 127.0.0.3,
// a dns2 server answering their MX and A records. me@163.test submits on 587 (STARTTLS + AUTH);
// the mail relays to sina.test's MX and lands in friend@sina.test's INBOX, DKIM-signed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import nodemailer from 'nodemailer';
import { dkimKey, dkimTxt, txtStrings } from '../../src/relay/dkim.js';
import { formatTrace } from '../../src/trace/format.js';
import { startLab } from '../helpers/lab.js';
import { startDns } from './dns-server.js';
import { inbox, waitFor } from './util.js';

test('me@163.test -> friend@sina.test through two post offices, DKIM-signed, traced on both', { timeout: 60_000 }, async (t) => {
  const dns = await startDns({
    '163.test': { MX: [[10, 'mx.163.test']] },
    'mx.163.test': { A: ['127.0.0.2'] },
    'sina.test': { MX: [[10, 'mx.sina.test']] },
    'mx.sina.test': { A: ['127.0.0.3'] },
  });
  t.after(() => dns.close());
  const common = { POSTOFFICE_DNS_SERVERS: dns.server, POSTOFFICE_RELAY_POLL_MS: '100', POSTOFFICE_RELAY_RETRY_SCHEDULE: '1s' };
  // the receiver first: the sender's relay port is the receiver's SMTP port (ephemeral)
  const sina = await startLab(t, {
    users: { 'friend@sina.test': 'pw2' },
    env: { ...common, POSTOFFICE_DOMAINS: 'sina.test', POSTOFFICE_HOSTNAME: 'mx.sina.test', POSTOFFICE_LISTEN: '127.0.0.3' },
  });
  const mail163 = await startLab(t, {
    users: { 'me@163.test': 'pw1' },
    env: { ...common, POSTOFFICE_DOMAINS: '163.test', POSTOFFICE_HOSTNAME: 'mx.163.test', POSTOFFICE_LISTEN: '127.0.0.2', POSTOFFICE_RELAY_PORT: String(sina.port('smtp')) },
  });

  const transport = nodemailer.createTransport({
    host: '127.0.0.2', port: mail163.port('submission'), secure: false, requireTLS: true,
    tls: { rejectUnauthorized: false }, auth: { user: 'me@163.test', pass: 'pw1' },
  });
  const sent = await transport.sendMail({ from: 'me@163.test', to: 'friend@sina.test', subject: 'hello from 163', text: 'across two post offices\n' });
  transport.close();
  assert.deepEqual(sent.accepted, ['friend@sina.test']);

  const [raw] = await waitFor('the mail in friend@sina.test INBOX', async () => {
    const box = await inbox(sina.po.store, 'friend@sina.test');
    return box.length ? box : null;
  });
  const text = raw.toString('latin1');
  const head = text.slice(0, text.indexOf('\r\n\r\n'));
  assert.equal((head.match(/^Received: /gm) ?? []).length, 2, 'one Received: from each post office');
  assert.match(head, /^Received: from mx\.163\.test \(\[127\.0\.0\.2\]\)\r\n\tby mx\.sina\.test \(postoffice\) with ESMTPS id /m);
  assert.match(head, /^Received: .*\r\n\tby mx\.163\.test \(postoffice\) with ESMTPSA id /m);
  assert.match(head, /^DKIM-Signature: .*d=163\.test/m);
  assert.match(head, /s=postoffice/);
  assert.match(text, /across two post offices/);

  // RFC 6376 verification against the TXT record we would publish
  const key = dkimKey(mail163.dataDir, '163.test', 'postoffice');
  const txt = dkimTxt(key.privateKey);
  assert.ok(txtStrings(txt).every((s) => Buffer.byteLength(s) <= 255));
  const verdict = await dkimVerify(raw, {
    resolver: async (name: string, type: string) => {
      if (type === 'TXT' && name === 'postoffice._domainkey.163.test') return [txtStrings(txt)];
      throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    },
  });
  assert.equal(verdict.results[0]?.status.result, 'pass', JSON.stringify(verdict.results[0]?.status));

  // the sender's queue is empty: the entry left once delivered
  await waitFor('the sender queue to empty', async () => (await mail163.po.store.queue.list()).length === 0);

  // `postoffice trace` by Message-ID on both post offices
  const messageId = sent.messageId;
  const out = formatTrace(await mail163.po.store.journey.trace(messageId));
  const inn = formatTrace(await sina.po.store.journey.trace(messageId));
  assert.match(out, /MTA \(out\)\s+dns\s+.*MX sina\.test @127\.0\.0\.1:\d+ NOERROR: 10 mx\.sina\.test ttl=300/);
  assert.match(out, /connected\s+.*host=mx\.sina\.test ip=127\.0\.0\.3 .*banner=220 .*tls=TLSv1\.3/);
  assert.match(out, /dkim signed/);
  assert.match(out, /delivered\s+.*rcpt=friend@sina\.test host=mx\.sina\.test reply=250 /);
  assert.match(inn, /MTA \(in\)\s+received\s+listener=smtp client=127\.0\.0\.2 helo=mx\.163\.test/);
  assert.match(inn, /MDA\s+stored\s+user=friend@sina\.test mailbox=INBOX uid=1/);
  // both post offices' rows together: the whole path
  const both = formatTrace([...(await mail163.po.store.journey.trace(messageId)), ...(await sina.po.store.journey.trace(messageId))].sort((a, b) => a.time - b.time));
  assert.match(both, /path: sender -> MUA -> MTA -> MDA/);
  assert.ok(both.indexOf('connected') < both.indexOf('stored') && both.indexOf('stored') <= both.indexOf('delivered'));
  t.diagnostic('sender:\n' + out);
  t.diagnostic('receiver:\n' + inn);
});
