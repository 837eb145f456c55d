// Outbound refusals that name a blocklist: the DSN and the log say which list and where to delist
// (src/relay/blocklist.ts). The remote MX is a real smtp-server on loopback answering as
// Outlook.com, Spamhaus-using Postfix and Barracuda do.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { metrics } from '../../src/log/metrics.js';
import { recogniseBlocklist } from '../../src/relay/blocklist.js';
import { startLab } from '../helpers/lab.js';
import { startDns } from './dns-server.js';
import { startSink } from './sink.js';
import { enqueue, inbox, waitFor } from './util.js';

const REPLIES: [string, RegExp | null, RegExp | null][] = [
  ['550 5.7.1 Unfortunately, messages from [192.0.2.1] weren\'t sent. Please contact your Internet service provider since part of their network is on our block list (S3140). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors.',
    /^Microsoft Outlook\.com block list \(S3140\)$/, /olcsupport\.office\.com/],
  ['550 5.7.1 Unfortunately, messages from [192.0.2.1] weren\'t sent. Please contact your Internet service provider since part of their network is on our block list (S3150).',
    /^Microsoft Outlook\.com block list \(S3150\)$/, /olcsupport\.office\.com/],
  ['550 5.7.606 Access denied, banned sending IP [192.0.2.1]. To request removal from this list please visit https://sender.office.com/',
    /^Microsoft 365 banned sender list$/, /sender\.office\.com/],
  ['554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.1',
    /^Spamhaus \(zen\.spamhaus\.org\)$/, /check\.spamhaus\.org/],
  ['554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using b.barracudacentral.org',
    /^Barracuda Reputation Block List$/, /barracudacentral\.org\/rbl\/removal-request/],
  ['550 5.7.1 Blocked - see https://www.spamcop.net/bl.shtml?192.0.2.1', /^SpamCop$/, /spamcop\.net\/bl\.shtml/],
  ['554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using dnsbl.example.net', /^dnsbl\.example\.net$/, /removal page of dnsbl\.example\.net/],
  ['550 5.7.1 192.0.2.1 is listed in bl.mailspike.net', /^Mailspike \(bl\.mailspike\.net\)$/, /mailspike\.org/],
  ['550 5.1.1 <nobody@remote.test>: Recipient address rejected: User unknown in virtual mailbox table', null, null],
  ['451 4.7.1 Greylisted, please try again in 300 seconds', null, null],
];

test('blocklist wordings are recognised: Microsoft S3140/S3150/5.7.606, Spamhaus, Barracuda, SpamCop, "blocked using" and "listed in" any zone; ordinary refusals are not', () => {
  for (const [reply, list, delist] of REPLIES) {
    const hit = recogniseBlocklist(reply);
    if (!list) { assert.equal(hit, null, reply); continue; }
    assert.ok(hit, reply);
    assert.match(hit.list, list, reply);
    assert.match(hit.delist, delist!, reply);
    assert.ok(['Microsoft', 'Spamhaus', 'Barracuda', 'SpamCop', 'Mailspike', 'other'].includes(hit.provider), hit.provider);
  }
});

test('a bounce "550 5.7.1 ... on our block list (S3140)": the DSN names Microsoft\'s list and where to delist; the journey says blocklisted; a Spamhaus 4xx deferral is noted too', { timeout: 60_000 }, async (t) => {
  const sink = await startSink();
  t.after(() => sink.close());
  const dns = await startDns({ 'remote.test': { MX: [[10, 'mx.remote.test']] }, 'mx.remote.test': { A: ['127.0.0.1'] } });
  t.after(() => dns.close());
  sink.rcptReplies['you@remote.test'] = [550, '5.7.1 Unfortunately, messages from [127.0.0.1] weren\'t sent. Please contact your Internet service provider since part of their network is on our block list (S3140). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors.'];
  sink.rcptReplies['later@remote.test'] = [450, '4.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/127.0.0.1'];
  const lab = await startLab(t, {
    users: { 'me@163.test': 'pw' },
    env: { POSTOFFICE_DOMAINS: '163.test', POSTOFFICE_HOSTNAME: 'mx.163.test', POSTOFFICE_DNS_SERVERS: dns.server, POSTOFFICE_RELAY_PORT: String(sink.port) },
  });
  const { msgId } = await enqueue(lab, 'me@163.test', ['you@remote.test', 'later@remote.test']);
  const [dsn] = await waitFor('the bounce', async () => { const m = await inbox(lab.po.store, 'me@163.test'); return m.length ? m : null; }, 30_000);
  const text = dsn.toString('latin1');
  assert.match(text, /^Subject: Undelivered Mail Returned to Sender\r$/m);
  // the human part: the refusal, then which list and where to delist
  assert.match(text.replace(/\r\n {3,}/g, ' '), /on our block list \(S3140\)[^]*The receiving server refused it because the address of this mail server \(mx\.163\.test\) is listed on Microsoft Outlook\.com block list \(S3140\)\.[^]*ask for delisting at https:\/\/olcsupport\.office\.com\//);
  // the machine-readable part: an X- field of RFC 3464 §2.3 beside Diagnostic-Code
  assert.match(text, /^Final-Recipient: rfc822; you@remote\.test\r\nAction: failed\r\nStatus: 5\.7\.1\r\n[^]*?X-Postoffice-Blocklist: Microsoft Outlook\.com block list \(S3140\); https:\/\/olcsupport\.office\.com\//m);
  // the attempt's journey steps commit with the queue entry's update, which may come just after the
  // bounce (a transaction of its own) is in the sender's INBOX
  const listed = await waitFor('the blocklisted steps', async () => {
    const steps = (await lab.po.store.journey.trace(msgId)).filter((e) => e.step === 'blocklisted');
    return steps.length >= 2 ? steps : null;
  }, 30_000);
  assert.deepEqual(listed.map((e) => [e.details.rcpt, e.details.list, e.details.outcome]).sort(), [
    ['later@remote.test', 'Spamhaus (zen.spamhaus.org)', 'deferred'],
    ['you@remote.test', 'Microsoft Outlook.com block list (S3140)', 'bounced'],
  ]);
  assert.match(String(listed.find((e) => e.details.rcpt === 'later@remote.test')!.details.delist), /check\.spamhaus\.org/);
  // /metrics: by provider, a fixed set of names (never text from the remote reply)
  const counted = (await metrics.blocklisted.get()).values.filter((v) => v.labels.office === 'mx.163.test').map((v) => [v.labels.provider, v.value]).sort();
  assert.deepEqual(counted.map(([p]) => p), ['Microsoft', 'Spamhaus']);
});
