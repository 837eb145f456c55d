// The shared connection limiter (src/auth/limits.ts) on its own: which connection a newcomer
// evicts, in what order, and when it is refused. The listeners' part is tested over real sockets
// in eviction.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clientKey, ConnectionLimiter, type Slot } from '../../src/auth/limits.js';

function take(l: ConnectionLimiter, ip: string, gone: string[], name: string, extra: { evictable?: () => boolean } = {}): Slot {
  const s = l.acquire(ip);
  assert.ok(typeof s !== 'string', `${name}: refused ${String(s)}`);
  return s.attach({ ...extra, evict: (why) => gone.push(`${name}: ${why}`) });
}

test('per-address limit: the newcomer evicts the least recently active connection that has not logged in; a touch moves one to the back; logged-in and busy ones are skipped; then per-ip refusal', () => {
  const l = new ConnectionLimiter(100, 3);
  const gone: string[] = [];
  const a = take(l, '10.0.0.1', gone, 'a');
  const b = take(l, '10.0.0.1', gone, 'b');
  const c = take(l, '10.0.0.1', gone, 'c');
  a.touch(); // a spoke last: b is now the longest idle
  take(l, '10.0.0.1', gone, 'd');
  assert.deepEqual(gone, ['b: too many connections from your address; the longest idle one is closed to make room']);
  assert.equal(l.openFrom('10.0.0.1'), 3);
  c.authenticated();
  a.busy(true);
  // c logged in, a busy: d is the only candidate
  take(l, '10.0.0.1', gone, 'e');
  assert.match(gone[1], /^d: /);
  // a, c, e: e is a candidate only while its holder says so
  const full = new ConnectionLimiter(100, 2);
  const g2: string[] = [];
  take(full, '10.0.0.2', g2, 'x').authenticated();
  take(full, '10.0.0.2', g2, 'y', { evictable: () => false });
  assert.equal(full.acquire('10.0.0.2'), 'per-ip');
  assert.deepEqual(g2, []);
  assert.equal(full.stats.refused, 1);
  // another address is not affected by 10.0.0.2's limit
  assert.ok(typeof full.acquire('10.0.0.3') !== 'string');
});

test('total limit: the longest idle connection of any address is evicted; released slots free their place at once; eviction releases before the holder closes', () => {
  const l = new ConnectionLimiter(3, 10);
  const gone: string[] = [];
  take(l, '10.0.0.1', gone, 'one');
  const two = take(l, '10.0.0.2', gone, 'two');
  take(l, '10.0.0.3', gone, 'three');
  take(l, '10.0.0.4', gone, 'four');
  assert.deepEqual(gone, ['one: server busy; the longest idle connection is closed to make room']);
  assert.equal(l.open, 3);
  two.release();
  two.release(); // idempotent
  assert.equal(l.open, 2);
  take(l, '10.0.0.5', gone, 'five');
  assert.equal(gone.length, 1, 'a free place needs no eviction');
});

test('stress: over 70% of a limit, acquire closes the connections silent for longer than stressPreauthTimeoutMs; the preauth time-out shrinks only then', async () => {
  const l = new ConnectionLimiter(100, 10, { stressPreauthTimeoutMs: 50 });
  const gone: string[] = [];
  for (let i = 0; i < 3; i++) take(l, '10.0.0.1', gone, `old${i}`);
  assert.equal(l.preauthTimeoutMs('10.0.0.1', 60_000), 60_000);
  await new Promise((r) => setTimeout(r, 80));
  for (let i = 0; i < 5; i++) take(l, '10.0.0.1', gone, `new${i}`);
  assert.equal(l.preauthTimeoutMs('10.0.0.1', 60_000), 60_000, '8 of 10 before the sweep, 5 after: no pressure left');
  assert.deepEqual(gone, ['old0', 'old1', 'old2'].map((n) => `${n}: idle too long before logging in while the server is busy`));
  for (let i = 0; i < 3; i++) take(l, '10.0.0.1', gone, `more${i}`);
  assert.equal(l.preauthTimeoutMs('10.0.0.1', 60_000), 50);
  l.close();
});

test('an IPv6 /64 counts as one client (RFC 6177: a site gets a /64); IPv4-mapped addresses count as their IPv4', () => {
  assert.equal(clientKey('192.0.2.1'), '192.0.2.1');
  assert.equal(clientKey('::ffff:192.0.2.1'), '192.0.2.1');
  assert.equal(clientKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(clientKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
  assert.equal(clientKey('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(clientKey('::1'), '0:0:0:0::/64');
  assert.equal(clientKey(clientKey('2001:db8:1:2::9')), '2001:db8:1:2::/64');
  const l = new ConnectionLimiter(100, 2);
  const gone: string[] = [];
  take(l, '2001:db8:1:2::1', gone, 'a').authenticated();
  take(l, '2001:db8:1:2::2', gone, 'b').authenticated();
  assert.equal(l.acquire('2001:db8:1:2::3'), 'per-ip', 'a third address of the same /64 is the same client');
  assert.ok(typeof l.acquire('2001:db8:1:3::1') !== 'string', 'the next /64 is another client');
  assert.equal(l.openFrom('2001:db8:1:2::ffff'), 2);
});
