// The journey picture from journey rows (no server): which boxes, which hops, what is red; and the
// HTML template escapes what it is given.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OfficeRow } from '../../src/trace/journey.js';
import { html, esc } from '../../src/trace/web/html.js';
import { journeyPath, renderPath } from '../../src/trace/web/picture.js';

const offices = [
  { name: '163.test', hostname: 'mx.163.test', listeners: [{ name: 'submission', port: 587, state: 'listening' }, { name: 'smtp', port: 25, state: 'listening' }] },
  { name: 'sina.test', hostname: 'mx.sina.test', listeners: [{ name: 'smtp', port: 25, state: 'listening' }] },
];
let id = 0;
const row = (office: string, msgId: string, agent: OfficeRow['agent'], step: string, time: number, details: Record<string, unknown> = {}): OfficeRow =>
  ({ id: ++id, office, msgId, messageId: '<m@163.test>', agent, step, time, details });
const link = (office: string, sid: string) => `/sessions/${office}/${sid}`;

const start = [
  row('163.test', 'aaa.1', 'MUA', 'submitted', 0, { user: 'me@163.test', listener: 'submission', client: '127.0.0.1' }),
  row('163.test', 'aaa.1', 'MTA in', 'received', 0, { listener: 'submission', client: '127.0.0.1', tls: 'TLSv1.3 TLS_AES_256_GCM_SHA384', reply: '250 2.6.0 Ok' }),
  row('163.test', 'aaa.1', 'MTA out', 'queued', 1, { queueId: 1 }),
];

test('relayed after a greylisting: MUA, MTA, MTA, MDA, MUA; the first attempt red, the second not', () => {
  const rows = [
    ...start,
    row('163.test', 'aaa.1', 'MTA out', 'attempt', 2, { attempt: 1 }),
    row('163.test', 'aaa.1', 'MTA out', 'connected', 3, { host: 'mx.sina.test', ip: '127.0.0.3', port: 25, tls: 'TLSv1.3 X', sid: 'r1' }),
    row('163.test', 'aaa.1', 'MTA out', 'deferred', 4, { reply: '451 4.7.1 greylisted', sid: 'r1' }),
    row('163.test', 'aaa.1', 'MTA out', 'attempt', 1000, { attempt: 2 }),
    row('163.test', 'aaa.1', 'MTA out', 'connected', 1001, { host: 'mx.sina.test', ip: '127.0.0.3', port: 25, tls: null, sid: 'r2' }),
    row('sina.test', 'bbb.1', 'MTA in', 'received', 1002, { listener: 'smtp', client: '127.0.0.2', helo: 'mx.163.test', tls: null, reply: '250 ok' }),
    row('sina.test', 'bbb.1', 'MDA', 'stored', 1002, { user: 'friend@sina.test', mailbox: 'INBOX', uid: 1 }),
    row('163.test', 'aaa.1', 'MTA out', 'delivered', 1003, { rcpt: 'friend@sina.test', reply: '250 2.6.0 queued', sid: 'r2' }),
    { ...row('sina.test', 'bbb.1', 'MUA access', 'fetched', 2000, { user: 'friend@sina.test', session: 'i1', client: 'Thunderbird' }), id: 0 },
  ];
  const p = journeyPath(rows, offices, link);
  assert.deepEqual(p.stations.map((s) => `${s.role} ${s.name}`), ['MUA me@163.test', 'MTA mx.163.test', 'MTA mx.sina.test', 'MDA mx.sina.test', 'MUA friend@sina.test']);
  assert.deepEqual(p.hops.map((h) => h.attempts.map((a) => `${a.proto}${a.failed ? ' (failed)' : ''} ${a.href ?? '-'}`)), [
    ['SMTP submission /sessions/163.test/aaa'],
    ['SMTP attempt 1 (failed) /sessions/163.test/r1', 'SMTP attempt 2 /sessions/163.test/r2'],
    ['local delivery -'],
    ['IMAP FETCH /sessions/sina.test/i1'],
  ]);
  assert.deepEqual(p.hops[1].attempts.map((a) => a.lines), [['port 25', 'TLSv1.3', '451 deferred'], ['port 25', 'no TLS', '250 delivered']]);
  assert.deepEqual(p.hops[0].attempts[0].lines, ['port 587', 'TLSv1.3', '250 accepted']);
  const out = renderPath(p).value;
  assert.equal((out.match(/class="attempt failed"/g) ?? []).length, 1);
  assert.equal((out.match(/class="station /g) ?? []).length, 5);
});

test('refused by the next MTA: its box is red and says so; the bounce goes back to the sender', () => {
  const rows = [
    ...start,
    row('163.test', 'aaa.1', 'MTA out', 'attempt', 2, { attempt: 1 }),
    row('163.test', 'aaa.1', 'MTA out', 'connected', 3, { host: 'mx.sina.test', ip: '127.0.0.3', port: 25, tls: 'TLSv1.3 X' }),
    row('163.test', 'aaa.1', 'MTA out', 'bounced', 4, { rcpt: 'nobody@sina.test', reply: '550 5.1.1 no such user' }),
    row('163.test', 'aaa.1', 'MTA out', 'bounce sent', 5, { dsn: 'aaa.1.bounce', to: 'me@163.test' }),
  ];
  const p = journeyPath(rows, offices, link, new Map(), (x) => `/messages/${x}`);
  assert.deepEqual(p.stations.map((s) => `${s.role} ${s.name}${s.failed ? ' (failed)' : ''}`), ['MUA me@163.test', 'MTA mx.163.test', 'MTA mx.sina.test (failed)', 'MDA mx.163.test']);
  assert.deepEqual(p.stations[2].sub, ['sina.test: receiving MTA', 'refused it (550)']);
  assert.equal(p.hops[2].attempts[0].href, '/messages/aaa.1.bounce');
});

test('nobody listening: the MX is "not reached"', () => {
  const rows = [
    ...start,
    row('163.test', 'aaa.1', 'MTA out', 'attempt', 2, { attempt: 1 }),
    row('163.test', 'aaa.1', 'MTA out', 'connect failed', 3, { host: 'mx.down.test', ip: '127.0.0.9', port: 25, error: 'ECONNREFUSED' }),
    row('163.test', 'aaa.1', 'MTA out', 'deferred', 4, { reply: 'connect ECONNREFUSED' }),
  ];
  const p = journeyPath(rows, offices, link);
  assert.deepEqual(p.stations.at(-1), { role: 'MTA', name: 'mx.down.test', sub: ['receiving MTA', 'not reached'], failed: true });
  assert.deepEqual(p.hops.at(-1)!.attempts[0].lines, ['port 25', 'no connection', 'deferred']);
});

test('html`` escapes text and attribute values; Html pieces and arrays go in as they are', () => {
  const evil = `<img src=x onerror="alert(1)">'&`;
  assert.equal(esc(evil), '&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&#39;&amp;');
  assert.equal(html`<a title="${evil}">${evil}</a>`.value, `<a title="${esc(evil)}">${esc(evil)}</a>`);
  assert.equal(html`<ul>${['<a>', 'b'].map((x) => html`<li>${x}</li>`)}</ul>`.value, '<ul><li>&lt;a&gt;</li><li>b</li></ul>');
  assert.equal(html`${null}${undefined}${false}${0}`.value, '0');
  // a station name from the wire (a HELO, a user) cannot inject markup into the picture
  const p = journeyPath([row('163.test', 'x.1', 'MTA in', 'received', 0, { listener: 'smtp', helo: '<script>alert(1)</script>', client: '203.0.113.9' })], offices, link);
  assert.ok(!renderPath(p).value.includes('<script>'));
});
