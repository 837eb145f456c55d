// The dashboard's session table and its same-origin check, without a server.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FastifyRequest } from 'fastify';
import { SessionTable, sameOrigin, sameToken } from '../../src/trace/web/session.js';

const user = { address: 'me@163.test', userId: 1, office: '163.test', admin: true };

test('sessions end after the idle time and after the absolute lifetime; ids and CSRF tokens are random', () => {
  const t = new SessionTable({ idleMs: 1000, maxAgeMs: 5000, maxSessions: 100 });
  const s = t.create(user, 0);
  assert.match(s.id, /^[\w-]{43}$/);
  assert.notEqual(s.id, s.csrf);
  assert.equal(t.get(s.id, 900), s);
  assert.equal(t.get(s.id, 1800), s, 'used at 900: still fresh at 1800');
  assert.equal(t.get(s.id, 2900), null, 'idle for 1100 ms');
  const u = t.create(user, 0);
  for (let now = 800; now < 5000; now += 800) assert.equal(t.get(u.id, now), u);
  assert.equal(t.get(u.id, 5001), null, 'past the absolute lifetime, however busy');
  assert.equal(t.get('nope'), null);
  assert.equal(t.get(undefined), null);
});

test('a flood of anonymous sessions (visits to /login) never pushes out a signed-in one', () => {
  const t = new SessionTable({ idleMs: 60_000, maxAgeMs: 60_000, maxSessions: 10 });
  const admin = t.create(user, 0);
  for (let i = 0; i < 1000; i++) t.create(null, 0);
  assert.equal(t.get(admin.id, 1), admin);
  assert.ok(t.size <= 11);
  // signed-in sessions have their own cap: the oldest goes
  const more = Array.from({ length: 10 }, () => t.create(user, 0));
  assert.equal(t.get(admin.id, 1), null);
  assert.equal(t.get(more[9].id, 1), more[9]);
  t.destroyUser('163.test', 'me@163.test');
  assert.equal(t.get(more[9].id, 1), null, 'ended after a password reset');
});

test('same origin: the Origin host:port must be the Host asked for; cross-site, null and missing origins are refused', () => {
  const req = (headers: Record<string, string>) => ({ headers: { host: 'dash.example:8080', ...headers } }) as unknown as FastifyRequest;
  assert.equal(sameOrigin(req({ origin: 'http://dash.example:8080', 'sec-fetch-site': 'same-origin' })), true);
  assert.equal(sameOrigin(req({ origin: 'https://dash.example:8080' })), true, 'a TLS proxy in front');
  assert.equal(sameOrigin(req({ 'sec-fetch-site': 'same-origin' })), true, 'a browser that sends only Sec-Fetch-Site');
  assert.equal(sameOrigin(req({ origin: 'http://evil.example:8080' })), false);
  assert.equal(sameOrigin(req({ origin: 'http://dash.example:8081' })), false);
  assert.equal(sameOrigin(req({ origin: 'http://dash.example:8080', 'sec-fetch-site': 'cross-site' })), false);
  assert.equal(sameOrigin(req({ origin: 'http://dash.example:8080', 'sec-fetch-site': 'same-site' })), false);
  assert.equal(sameOrigin(req({ origin: 'null' })), false);
  assert.equal(sameOrigin(req({})), false, 'neither header: not a browser form of ours');
  assert.equal(sameOrigin({ headers: { host: 'dash.example', origin: 'http://dash.example' } } as unknown as FastifyRequest), true);
  assert.equal(sameOrigin({ headers: { host: 'dash.example:80', origin: 'http://dash.example' } } as unknown as FastifyRequest), true, 'default port written out');
  assert.equal(sameToken('abc', 'abc'), true);
  assert.equal(sameToken('', ''), false, 'an empty token never matches');
  assert.equal(sameToken('abd', 'abc'), false);
});
