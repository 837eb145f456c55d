// The sentences of the two journey steps issue 13 adds: a policy refusal on the way in, and an
// outbound refusal that names a blocklist.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OfficeRow } from '../../src/trace/journey.js';
import { explain } from '../../src/trace/story.js';

const row = (agent: OfficeRow['agent'], step: string, details: Record<string, unknown>): OfficeRow =>
  ({ id: 1, office: 'example.test', msgId: 'k1.1', messageId: null, agent, step, details, time: 0 });

test('explain: "refused" says which policy and the answer; "blocklisted" names the list and where to delist', () => {
  assert.match(explain(row('MTA in', 'refused', { why: 'one of our own domains claimed on port 25 (localSenderOnPort25)', client: '192.0.2.9', mailFrom: 'ceo@example.test', spf: 'none', reply: '550 5.7.1 sender <ceo@example.test>: example.test is a domain of this server' })),
    /^example\.test's MTA refused the message from 192\.0\.2\.9: one of our own domains claimed on port 25 \(localSenderOnPort25\)\. It answered "550 5\.7\.1 sender <ceo@example\.test>.*", a permanent refusal/);
  assert.match(explain(row('MTA in', 'refused', { why: 'submission limit', user: 'alice@example.test', limit: 'messages per hour', used: 200, max: 200, reply: '451 4.7.1 submission limit reached' })),
    /refused the message from alice@example\.test: submission limit \(messages per hour: 200 of 200\)\. It answered "451 4\.7\.1 submission limit reached", a temporary refusal/);
  assert.match(explain(row('MTA out', 'blocklisted', { rcpt: 'you@outlook.test', host: 'mx.outlook.test', list: 'Microsoft Outlook.com block list (S3140)', delist: 'https://olcsupport.office.com/' })),
    /^mx\.outlook\.test refused you@outlook\.test because the address of example\.test's server is on Microsoft Outlook\.com block list \(S3140\).*delisting at https:\/\/olcsupport\.office\.com\/\.$/);
});
