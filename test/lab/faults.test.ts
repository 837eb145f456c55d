// The lab's faults: the names and counts `lab send --fault` accepts, and how the RCPT and DNS
// faults are used up, attempt by attempt, for the envelope or domain they were armed for.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Faults, parseFault, describeFault } from '../../src/lab/faults.js';
import { SmtpReply } from '../../src/mail/errors.js';

test('parseFault: names, counts and their limits', () => {
  const table: [string, { name: string; n: number } | RegExp][] = [
    ['greylist', { name: 'greylist', n: 1 }],
    ['tempfail', { name: 'tempfail', n: 2 }],
    ['tempfail:3', { name: 'tempfail', n: 3 }],
    ['TLS-Broken', { name: 'tls-broken', n: 1 }],
    ['down', { name: 'down', n: 12 }],
    ['down:30', { name: 'down', n: 30 }],
    ['null-mx', { name: 'null-mx', n: 1 }],
    ['dns-servfail:2', { name: 'dns-servfail', n: 2 }],
    ['tempfail:0', /out of range 1-10/],
    ['tempfail:11', /out of range 1-10/],
    ['greylist:2', /out of range 1-1/],
    ['explode', /unknown fault "explode": use one of greylist, tempfail, reject, slow, tls-broken, down, null-mx, dns-servfail/],
    ['tempfail:x', /unknown fault/],
  ];
  for (const [input, want] of table) {
    if (want instanceof RegExp) assert.throws(() => parseFault(input), want, input);
    else assert.deepEqual(parseFault(input), want, input);
  }
  assert.match(describeFault(parseFault('tempfail:3'), 'friend@sina.test'), /"451 4\.3\.0" 3 time\(s\)/);
});

test('RCPT faults: port 25 only, for their envelope, used up one attempt at a time', async () => {
  const f = new Faults();
  f.armRcpt('tempfail', 'me@163.test', 'friend@sina.test', 2);
  f.armRcpt('reject', 'me@163.test', 'other@sina.test', 1);
  const rcpt = (rcptTo: string, listener: 'smtp' | 'submission' = 'smtp', mailFrom = 'me@163.test') => f.rcptPolicy({ listener, sid: 's', client: '127.0.0.2', mailFrom, rcptTo });
  assert.equal(await rcpt('friend@sina.test', 'submission'), null, 'not on submission');
  assert.equal(await rcpt('friend@sina.test', 'smtp', 'someone@163.test'), null, 'not for another sender');
  const first = await rcpt('Friend@Sina.test');
  assert.ok(first instanceof SmtpReply);
  assert.equal(first.wire, '4.3.0 <Friend@Sina.test>: temporary failure 1 of 2, try again later (lab fault)');
  assert.equal((await rcpt('friend@sina.test'))?.code, 451);
  assert.equal(await rcpt('friend@sina.test'), null, 'accepted at the third attempt');
  const rej = await rcpt('other@sina.test');
  assert.equal(rej?.code, 550);
  assert.equal(rej?.enhanced, '5.1.1');
  assert.equal(f.pending, 0);
  assert.deepEqual(f.applied.map((a) => a.name), ['tempfail', 'tempfail', 'reject']);
});

test('DNS faults: the MX question of the domain, null MX (RFC 7505) or SERVFAIL, then the real zone', () => {
  const f = new Faults();
  f.armDns('dns-servfail', 'sina.test', 2);
  f.armDns('null-mx', '163.test', 1);
  assert.equal(f.dnsOverride({ name: 'sina.test', type: 'A' }), undefined, 'only the MX question');
  assert.equal(f.dnsOverride({ name: 'mx.sina.test', type: 'MX' }), undefined, 'only that name');
  assert.deepEqual(f.dnsOverride({ name: 'sina.test', type: 'MX' }), { servfail: true });
  assert.deepEqual(f.dnsOverride({ name: 'sina.test', type: 'MX' }), { servfail: true });
  assert.equal(f.dnsOverride({ name: 'sina.test', type: 'MX' }), undefined);
  assert.deepEqual(f.dnsOverride({ name: '163.test', type: 'MX' }), { MX: [[0, '.']] });
  assert.equal(f.dnsOverride({ name: '163.test', type: 'MX' }), undefined);
});
