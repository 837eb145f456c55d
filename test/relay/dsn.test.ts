// RFC 3464 reports: structure, RET=FULL, ENVID, and a parse by a real MIME parser.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { simpleParser } from 'mailparser';
import { buildDsn, reportId, reportRecipients, type ReportKind } from '../../src/mail/dsn.js';

const original = Buffer.from('From: <me@163.test>\r\nTo: <x@remote.test>\r\nSubject: =?UTF-8?B?w6l0w6k=?=\r\nMessage-ID: <o1@163.test>\r\n\r\nthe body\r\n');

test('a failure report: multipart/report with a human part, message/delivery-status and the original headers', async () => {
  const { raw, messageId } = buildDsn({
    reportingMta: 'mx.163.test', mailFrom: 'me@163.test', originalMsgId: 'abc.1', arrivalDate: new Date('2026-11-23T10:00:00Z'), envid: 'ENV-42',
    recipients: [{ address: 'x@remote.test', action: 'failed', status: '5.1.1', remoteMta: 'mx.remote.test', diagnostic: '550 5.1.1 no such user', originalRecipient: 'rfc822;x@remote.test' }],
    original, lastAttempt: new Date('2026-11-23T10:00:05Z'),
  });
  const text = raw.toString('latin1');
  assert.match(text, /^Auto-Submitted: auto-replied\r$/m);
  assert.match(text, /^Original-Envelope-Id: ENV-42\r$/m);
  assert.match(text, /^Arrival-Date: Mon, 23 Nov 2026 10:00:00 \+0000\r$/m);
  assert.match(text, /^Original-Recipient: rfc822;x@remote\.test\r\nFinal-Recipient: rfc822; x@remote\.test\r\n/m);
  assert.doesNotMatch(text, /the body/, 'RET=HDRS (default): headers only');
  const parsed = await simpleParser(raw);
  assert.equal(parsed.messageId, messageId);
  assert.equal(parsed.subject, 'Undelivered Mail Returned to Sender');
  assert.match(parsed.text ?? '', /<x@remote\.test>: 550 5\.1\.1 no such user \(host mx\.remote\.test\)/);
  assert.equal(parsed.headers.get('content-type') && (parsed.headers.get('content-type') as { value: string }).value, 'multipart/report');
  const boundary = /boundary="([^"]+)"/.exec(text)![1];
  const parts = text.split(`--${boundary}`).slice(1, -1).map((p) => /Content-Type: ([^;\r]+)/.exec(p)?.[1]);
  assert.deepEqual(parts, ['text/plain', 'message/delivery-status', 'text/rfc822-headers']);
  assert.ok(text.endsWith(`--${boundary}--\r\n`));
});

test('RET=FULL returns the whole original as message/rfc822; a delay report says until when', () => {
  const full = buildDsn({
    reportingMta: 'mx.163.test', mailFrom: 'me@163.test', originalMsgId: 'abc.1', arrivalDate: new Date(), returnFull: true,
    recipients: [{ address: 'x@remote.test', action: 'failed', status: '5.0.0' }], original,
  }).raw.toString('latin1');
  assert.match(full, /^Content-Type: message\/rfc822\r\n[^]*the body/m);
  const delay = buildDsn({
    reportingMta: 'mx.163.test', mailFrom: 'me@163.test', originalMsgId: 'abc.1', arrivalDate: new Date(), willRetryUntil: new Date('2026-11-28T10:00:00Z'),
    recipients: [{ address: 'x@remote.test', action: 'delayed', status: '4.4.1' }], original,
  }).raw.toString('latin1');
  assert.match(delay, /^Subject: Delayed Mail \(still being retried\)\r$/m);
  assert.match(delay, /^Action: delayed\r\nStatus: 4\.4\.1\r\n/m);
  assert.match(delay, /^Will-Retry-Until: Sat, 28 Nov 2026 10:00:00 \+0000\r$/m);
});

test('RFC 3461 §4.1 NOTIFY decides who is reported on; never a report about a report (RFC 5321 §6.1)', () => {
  const r = (address: string) => ({ address, action: 'failed' as const, status: '5.1.1' });
  const notify: Record<string, string[]> = { 'never@x.test': ['NEVER'], 'fail@x.test': ['FAILURE'], 'delay@x.test': ['DELAY'], 'all@x.test': ['SUCCESS', 'FAILURE', 'DELAY'] };
  const all = ['default@x.test', 'never@x.test', 'fail@x.test', 'delay@x.test', 'all@x.test'].map(r);
  const who = (kind: ReportKind) => {
    const w = reportRecipients({ mailFrom: 'me@163.test', notify }, kind, all);
    return Array.isArray(w) ? w.map((x) => x.address) : w.step;
  };
  assert.deepEqual(who('failure'), ['default@x.test', 'fail@x.test', 'all@x.test'], 'failure: the default (absent NOTIFY) and FAILURE');
  assert.deepEqual(who('delay'), ['default@x.test', 'delay@x.test', 'all@x.test'], 'delay: the default and DELAY');
  assert.deepEqual(who('success'), ['all@x.test'], 'success: only when asked');
  const none = reportRecipients({ mailFrom: 'me@163.test', notify }, 'failure', [r('never@x.test')]);
  assert.deepEqual(none, { step: 'not reported', details: { why: 'NOTIFY parameter', kind: 'failure' } });
  const bounce = reportRecipients({ mailFrom: '', notify: {} }, 'failure', [r('a@x.test')]);
  assert.ok(!Array.isArray(bounce) && /null reverse-path/.test(String(bounce.details.why)));
  assert.equal(reportId('k3f9a.1', 'failure', '7-2'), 'k3f9a.1.bounce7-2');
});
