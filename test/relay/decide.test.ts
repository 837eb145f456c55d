// relay/decide.ts: what one attempt means for a queue entry (retry, bounce, expiry, which RFC 3464
// reports, the next attempt), as a table: no sockets, no clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decide, type RetryPolicy } from '../../src/relay/decide.js';
import type { RcptResult } from '../../src/relay/smtp-client.js';
import type { QueueData, QueueRcpt } from '../../src/store/types.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);
const policy: RetryPolicy = { schedule: [5 * MIN, 30 * MIN, 60 * MIN], expireMs: 24 * 60 * MIN, delayWarningMs: 4 * 60 * MIN };

const ok = (reply = '250 2.0.0 Ok: queued as X'): RcptResult => ({ outcome: 'delivered', reply, status: '2.0.0', remoteMta: 'mx.remote.test' });
const temp = (reply = '451 4.7.1 greylisted'): RcptResult => ({ outcome: 'deferred', reply, status: '4.7.1', remoteMta: 'mx.remote.test' });
const perm = (reply = '550 5.1.1 no such user'): RcptResult => ({ outcome: 'bounced', reply, status: '5.1.1', remoteMta: 'mx.remote.test' });

interface Row {
  name: string;
  rcpts?: QueueRcpt[];
  attempts?: number;
  /** ms since the entry was queued */
  age: number;
  data?: QueueData;
  results: Record<string, RcptResult>;
  want: {
    delivered?: string[]; deferred?: string[]; bounced?: string[]; expired?: string[];
    /** ms after now, or null: finished */
    next: number | null;
    reports?: { success?: string[]; failure?: string[]; delay?: string[] };
    statuses: Record<string, QueueRcpt['status']>;
    warned?: boolean;
    lastReply?: string | null;
  };
}

const pending = (...a: string[]): QueueRcpt[] => a.map((address) => ({ address, status: 'pending' }));

const table: Row[] = [
  { name: 'all delivered: finished, no report (no NOTIFY=SUCCESS)', age: 0, rcpts: pending('a@r.test', 'b@r.test'), results: { 'a@r.test': ok(), 'b@r.test': ok() },
    want: { delivered: ['a@r.test', 'b@r.test'], next: null, statuses: { 'a@r.test': 'delivered', 'b@r.test': 'delivered' }, lastReply: '250 2.0.0 Ok: queued as X' } },
  { name: '4xx on the first attempt: retry after the first delay of the schedule', age: 0, rcpts: pending('a@r.test'), results: { 'a@r.test': temp() },
    want: { deferred: ['a@r.test'], next: 5 * MIN, statuses: { 'a@r.test': 'pending' } } },
  { name: '4xx on the third attempt: the third delay', age: 60 * MIN, attempts: 2, rcpts: pending('a@r.test'), results: { 'a@r.test': temp() },
    want: { deferred: ['a@r.test'], next: 60 * MIN, statuses: { 'a@r.test': 'pending' } } },
  { name: 'beyond the schedule the last delay repeats', age: 60 * MIN, attempts: 9, rcpts: pending('a@r.test'), results: { 'a@r.test': temp() },
    want: { deferred: ['a@r.test'], next: 60 * MIN, statuses: { 'a@r.test': 'pending' } } },
  { name: 'the next try is never after the expiry', age: 24 * 60 * MIN - 10 * MIN, attempts: 5, data: { warned: true }, rcpts: pending('a@r.test'), results: { 'a@r.test': temp() },
    want: { deferred: ['a@r.test'], next: 10 * MIN, statuses: { 'a@r.test': 'pending' } } },
  { name: 'nor sooner than a second from now', age: 24 * 60 * MIN - 10, attempts: 5, data: { warned: true }, rcpts: pending('a@r.test'), results: { 'a@r.test': temp() },
    want: { deferred: ['a@r.test'], next: 1000, statuses: { 'a@r.test': 'pending' } } },
  { name: 'a recipient without a result counts as deferred and keeps its state', age: 0, rcpts: pending('a@r.test'), results: {},
    want: { deferred: ['a@r.test'], next: 5 * MIN, statuses: { 'a@r.test': 'pending' } } },
  { name: '5xx: bounced, a failure report', age: 0, rcpts: pending('a@r.test'), results: { 'a@r.test': perm() },
    want: { bounced: ['a@r.test'], next: null, reports: { failure: ['a@r.test 5.1.1'] }, statuses: { 'a@r.test': 'bounced' } } },
  { name: 'mixed: one delivered, one bounced, one deferred: stays queued, a failure report for the one', age: 0, rcpts: pending('a@r.test', 'b@r.test', 'c@r.test'),
    results: { 'a@r.test': ok(), 'b@r.test': perm(), 'c@r.test': temp() },
    want: { delivered: ['a@r.test'], bounced: ['b@r.test'], deferred: ['c@r.test'], next: 5 * MIN, reports: { failure: ['b@r.test 5.1.1'] },
      statuses: { 'a@r.test': 'delivered', 'b@r.test': 'bounced', 'c@r.test': 'pending' } } },
  { name: 'recipients settled earlier are left as they were', age: 10 * MIN, attempts: 1,
    rcpts: [{ address: 'a@r.test', status: 'delivered', reply: '250 ok' }, { address: 'c@r.test', status: 'pending' }], results: { 'c@r.test': ok() },
    want: { delivered: ['c@r.test'], next: null, statuses: { 'a@r.test': 'delivered', 'c@r.test': 'delivered' } } },
  { name: 'deferred past relayDelayWarning: one delay report, and the entry remembers it', age: 5 * 60 * MIN, attempts: 4, rcpts: pending('a@r.test'), results: { 'a@r.test': temp() },
    want: { deferred: ['a@r.test'], next: 60 * MIN, reports: { delay: ['a@r.test 4.7.1'] }, statuses: { 'a@r.test': 'pending' }, warned: true } },
  { name: '...but only once', age: 6 * 60 * MIN, attempts: 5, data: { warned: true }, rcpts: pending('a@r.test'), results: { 'a@r.test': temp() },
    want: { deferred: ['a@r.test'], next: 60 * MIN, statuses: { 'a@r.test': 'pending' }, warned: true } },
  { name: 'a delay report without an enhanced 4.x.x status says 4.4.1', age: 5 * 60 * MIN, attempts: 4, rcpts: pending('a@r.test'), results: {},
    want: { deferred: ['a@r.test'], next: 60 * MIN, reports: { delay: ['a@r.test 4.4.1'] }, statuses: { 'a@r.test': 'pending' }, warned: true } },
  { name: 'still deferred at the expiry: bounced 4.4.7 (RFC 5321 §4.5.4.1), the last reply kept as the entry\'s', age: 24 * 60 * MIN, attempts: 7, data: { warned: true },
    rcpts: pending('a@r.test'), results: { 'a@r.test': temp() },
    want: { bounced: ['a@r.test'], expired: ['a@r.test'], next: null, reports: { failure: ['a@r.test 4.4.7'] }, statuses: { 'a@r.test': 'bounced' }, lastReply: '451 4.7.1 greylisted' } },
  { name: 'NOTIFY=SUCCESS: a "relayed" report for the delivered', age: 0, data: { notify: { 'a@r.test': ['SUCCESS'] } }, rcpts: pending('a@r.test'), results: { 'a@r.test': ok() },
    want: { delivered: ['a@r.test'], next: null, reports: { success: ['a@r.test 2.0.0'] }, statuses: { 'a@r.test': 'delivered' } } },
  { name: 'a 2xx status in a bounce becomes 5.0.0 (a DSN never says failed with 2.x.x)', age: 0, rcpts: pending('a@r.test'),
    results: { 'a@r.test': { outcome: 'bounced', reply: '250 but we refuse anyway', status: '2.0.0', remoteMta: null } },
    want: { bounced: ['a@r.test'], next: null, reports: { failure: ['a@r.test 5.0.0'] }, statuses: { 'a@r.test': 'bounced' } } },
];

test('decide(): attempt results -> delivered / deferred (next attempt) / bounced, and the reports to send', () => {
  for (const row of table) {
    const entry = { rcpts: row.rcpts ?? pending('a@r.test'), attempts: row.attempts ?? 0, created: T0, lastReply: null, data: row.data ?? {} };
    const now = T0 + row.age;
    const d = decide(entry, new Map(Object.entries(row.results)), now, policy);
    const w = row.want;
    assert.deepEqual(d.delivered, w.delivered ?? [], `${row.name}: delivered`);
    assert.deepEqual(d.deferred, w.deferred ?? [], `${row.name}: deferred`);
    assert.deepEqual(d.bounced, w.bounced ?? [], `${row.name}: bounced`);
    assert.deepEqual(d.expired, w.expired ?? [], `${row.name}: expired`);
    assert.equal(d.nextAttempt === null ? null : d.nextAttempt - now, w.next, `${row.name}: next attempt`);
    assert.equal(d.attempt, entry.attempts + 1, `${row.name}: attempt`);
    const reports = Object.fromEntries(Object.entries(d.reports).filter(([, v]) => v).map(([k, v]) => [k, v!.map((r) => `${r.address} ${r.status}`)]));
    assert.deepEqual(reports, w.reports ?? {}, `${row.name}: reports`);
    assert.deepEqual(Object.fromEntries(d.rcpts.map((r) => [r.address, r.status])), w.statuses, `${row.name}: recipients`);
    assert.equal(!!d.data.warned, w.warned ?? !!row.data?.warned, `${row.name}: warned`);
    if (w.lastReply !== undefined) assert.equal(d.lastReply, w.lastReply, `${row.name}: last reply`);
    assert.notEqual(d.data, entry.data, `${row.name}: the entry's data is not changed in place`);
  }
});

test('decide(): an expired recipient\'s reply says how many attempts and the last reply', () => {
  const d = decide({ rcpts: pending('a@r.test'), attempts: 6, created: T0, lastReply: '451 earlier', data: {} },
    new Map([['a@r.test', temp('421 4.4.2 busy')]]), T0 + policy.expireMs, policy);
  const x = d.results.get('a@r.test')!;
  assert.equal(x.outcome, 'bounced');
  assert.equal(x.status, '4.4.7');
  assert.equal(x.reply, 'delivery time expired after 7 attempt(s); last reply: 421 4.4.2 busy');
  assert.equal(d.rcpts[0].reply, x.reply);
  assert.equal(d.reports.failure![0].diagnostic, x.reply);
});
