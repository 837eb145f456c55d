// The journey told as sentences (trace/story.ts): each step names its role and office and says
// what happened and why, from the details the agents record.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OfficeRow } from '../../src/trace/journey.js';
import { explain, journeyPath, parseExchange, role, storyLine } from '../../src/trace/story.js';

const T = Date.parse('2026-12-01T13:00:00Z');
let id = 0;
const row = (office: string, agent: OfficeRow['agent'], step: string, details: Record<string, unknown>, dt = 0, msgId = 'k1.1'): OfficeRow =>
  ({ id: ++id, office, msgId, messageId: '<m@163.test>', agent, step, details, time: T + dt });

test('explain: the classic journey, hop by hop', () => {
  const cases: [OfficeRow, RegExp][] = [
    [row('163.test', 'MUA', 'submitted', { user: 'me@163.test', listener: 'submission', client: '127.0.0.1' }), /^me@163\.test's mail client \(MUA\) handed the message to 163\.test over submission \(port 587, STARTTLS \+ AUTH\)/],
    [row('163.test', 'MTA in', 'received', { listener: 'submission', user: 'me@163.test', mailFrom: 'me@163.test', rcptTo: ['friend@sina.test'], tls: 'TLSv1.3 X', reply: '250 2.6.0 Ok: queued as k1.1' }), /took the message from me@163\.test \(MAIL FROM me@163\.test, RCPT TO friend@sina\.test\) over TLSv1\.3 X .*responsible/],
    [row('163.test', 'MTA out', 'queued', { queueId: 1, domain: 'sina.test', rcpts: ['friend@sina.test'] }), /friend@sina\.test is not at 163\.test: its MTA put the message in the outbound queue \(entry 1\)/],
    [row('163.test', 'MTA out', 'dkim signed', { domain: '163.test', selector: 'postoffice' }), /signed the message with DKIM \(d=163\.test, s=postoffice\)/],
    [row('163.test', 'MTA out', 'dns', { domain: 'sina.test', result: 'hosts', answers: ['MX sina.test @127.0.0.1:2053 NOERROR: 10 mx.sina.test ttl=0', 'A mx.sina.test @127.0.0.1:2053 NOERROR: 127.0.0.3 ttl=0', 'AAAA mx.sina.test @127.0.0.1:2053 NOERROR'] }),
      /^163\.test's MTA asked DNS for the MX of sina\.test: mx\.sina\.test, preference 10; mx\.sina\.test is 127\.0\.0\.3\.$/],
    [row('163.test', 'MTA out', 'dns', { domain: 'sina.test', result: 'permanent', reason: 'sina.test publishes a null MX: it accepts no mail (RFC 7505)', answers: ['MX sina.test @127.0.0.1:2053 NOERROR: 0 . ttl=0'] }), /null MX.*a permanent answer/],
    [row('163.test', 'MTA out', 'dns', { domain: 'sina.test', result: 'temporary', reason: 'sina.test: MX look-up failed (SERVFAIL)', answers: ['MX sina.test @127.0.0.1:2053 SERVFAIL'] }), /no usable answer \(SERVFAIL: .*temporary failure/],
    [row('163.test', 'MTA out', 'connected', { host: 'mx.sina.test', ip: '127.0.0.3', port: 2525, preference: 10, banner: '220 mx.sina.test ESMTP', tls: 'TLSv1.3 X' }), /connected to mx\.sina\.test \(127\.0\.0\.3 port 2525\), the MX of preference 10, got the greeting "220 mx\.sina\.test ESMTP" and switched to TLSv1\.3 X with STARTTLS/],
    [row('163.test', 'MTA out', 'connect failed', { host: 'mx.sina.test', ip: '127.0.0.3', port: 2525, error: 'connect ECONNREFUSED 127.0.0.3:2525' }), /nothing listens there \(connection refused\)/],
    [row('163.test', 'MTA out', 'connect failed', { host: 'mx.sina.test', ip: '127.0.0.3', port: 2525, error: '80AC:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/x.c' }), /the STARTTLS handshake failed \(wrong version number\)/],
    [row('163.test', 'MTA out', 'session', { host: 'mx.sina.test', transcript: ['C: MAIL FROM:<me@163.test>', 'C: RCPT TO:<friend@sina.test>', 'C: DATA', 'S: 250 2.1.0 Accepted', 'S: 451 4.7.1 greylisted', 'S: 503 5.5.1 Error: need RCPT command'] }),
      /MAIL FROM was accepted, but RCPT TO was answered "451 4\.7\.1 greylisted": a temporary refusal/],
    [row('163.test', 'MTA out', 'session', { host: 'mx.sina.test', ip: '127.0.0.3', port: 2525 }), /^163\.test's MTA spoke SMTP with mx\.sina\.test \(127\.0\.0\.3 port 2525\)\.$/],
    [row('163.test', 'MTA out', 'deferred', { attempt: 1, reply: '451 4.7.1 greylisted', nextAttempt: new Date(T + 5000).toISOString() }), /^Attempt 1 did not get through \(451 4\.7\.1 greylisted\): .* tries again at 13:00:05 UTC \(in 5 s\)\.$/],
    [row('163.test', 'MTA out', 'bounced', { rcpt: 'friend@sina.test', reply: '550 5.1.1 no such user' }), /friend@sina\.test cannot be delivered \(550 5\.1\.1 no such user\): a permanent failure/],
    [row('163.test', 'MTA out', 'bounce sent', { dsn: 'k1.1.bounce1-1', to: 'me@163.test' }), /sent a bounce \(an RFC 3464 delivery status notification/],
    [row('163.test', 'MDA', 'stored', { user: 'me@163.test', mailbox: 'INBOX', uid: 3 }, 0, 'k1.1.bounce1-1'), /MDA stored the bounce in me@163\.test's INBOX \(UID 3\)/],
    [row('sina.test', 'MTA in', 'received', { listener: 'smtp', client: '127.0.0.2', helo: 'mx.163.test', rcptTo: ['friend@sina.test'], tls: 'TLSv1.3 X', reply: '250 ok', auth: { spf: 'pass', dkim: 'pass', dmarc: 'pass' } }),
      /^sina\.test's MTA accepted the mail for friend@sina\.test from mx\.163\.test \(127\.0\.0\.2\) on its MX port .*SPF pass, DKIM pass, DMARC pass/],
    [row('sina.test', 'MDA', 'stored', { user: 'friend@sina.test', mailbox: 'INBOX', uid: 1 }), /MDA stored the message in friend@sina\.test's INBOX \(UID 1\)/],
    [row('sina.test', 'MUA access', 'retrieved', { user: 'friend@sina.test', proto: 'pop3', client: '127.0.0.1' }), /downloaded the message from sina\.test's MDA over POP3/],
    [row('sina.test', 'MUA access', 'fetched', { user: 'friend@sina.test', mailbox: 'INBOX' }), /read the message from sina\.test's MDA over IMAP/],
    [row('sina.test', 'MTA out', 'something new', { a: 1, nested: { x: 1 } }), /^sina\.test's MTA out: something new \(a=1\)\.$/],
  ];
  for (const [r, want] of cases) assert.match(explain(r), want, `${r.agent}/${r.step}`);
  assert.deepEqual(cases.map(([r]) => role(r)).slice(0, 3), ['MUA', 'MTA', 'MTA']);
  assert.equal(role({ agent: 'MUA access' }), 'MUA');
  assert.equal(role({ agent: 'MDA' }), 'MDA');
  assert.match(storyLine(cases[4][0], T - 1500), /^ {3}\+1\.5s {2}MTA {2}163\.test {2}163\.test's MTA asked DNS/);
});

test('explain never fails on missing or odd details', () => {
  for (const step of ['submitted', 'received', 'queued', 'attempt', 'dns', 'connected', 'connect failed', 'session', 'delivered', 'deferred', 'bounced', 'stored', 'fetched', 'retrieved', 'bounce sent']) {
    for (const agent of ['MUA', 'MTA in', 'MTA out', 'MDA', 'MUA access'] as const) {
      const s = explain(row('x.test', agent, step, { answers: 'not a list', transcript: 5, rcpts: null, nextAttempt: 'soon' }));
      assert.ok(s.length > 10 && !s.includes('undefined'), `${agent}/${step}: ${s}`);
    }
  }
  assert.equal(parseExchange('garbage'), null);
  assert.deepEqual(parseExchange('MX sina.test @127.0.0.1:53 (cached) NOERROR: 10 mx.sina.test ttl=5; 20 mx2.sina.test ttl=5'),
    { type: 'MX', name: 'sina.test', cached: true, rcode: 'NOERROR', answers: ['10 mx.sina.test', '20 mx2.sina.test'] });
});

test('journeyPath: each agent once, the readers last', () => {
  const rows = [
    row('163.test', 'MUA', 'submitted', {}), row('163.test', 'MTA in', 'received', {}), row('163.test', 'MTA out', 'dns', {}),
    row('sina.test', 'MTA in', 'received', {}), row('sina.test', 'MDA', 'stored', {}), row('163.test', 'MTA out', 'delivered', {}),
    row('sina.test', 'MUA access', 'retrieved', {}), row('sina.test', 'MUA access', 'fetched', {}),
  ];
  assert.equal(journeyPath(rows), 'MUA 163.test -> MTA 163.test -> MTA sina.test -> MDA sina.test <- MUA sina.test');
});
