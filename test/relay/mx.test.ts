import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Resolver, systemServers } from '../../src/relay/mx.js';
import { startDns } from './dns-server.js';

test('RFC 5321 §5.1: MX sorted by preference, equal preferences shuffled, addresses resolved', { timeout: 60_000 }, async (t) => {
  const dns = await startDns({
    'example.test': { MX: [[20, 'backup.example.test'], [10, 'a.example.test'], [10, 'b.example.test'], [10, 'c.example.test']] },
    'a.example.test': { A: ['127.0.0.11'] },
    'b.example.test': { A: ['127.0.0.12'], AAAA: ['::1'] },
    'c.example.test': { A: ['127.0.0.13'] },
    'backup.example.test': { A: ['127.0.0.20'] },
  });
  t.after(() => dns.close());
  const r = new Resolver({ servers: [dns.server] });
  const firsts = new Set<string>();
  for (let i = 0; i < 30; i++) {
    r.clearCache();
    const got = await r.findTargets('example.test');
    assert.equal(got.kind, 'hosts');
    if (got.kind !== 'hosts') return;
    assert.deepEqual(got.hosts.map((h) => h.preference), [10, 10, 10, 20]);
    assert.equal(got.hosts[3].host, 'backup.example.test');
    assert.deepEqual(new Set(got.hosts.slice(0, 3).map((h) => h.host)), new Set(['a.example.test', 'b.example.test', 'c.example.test']));
    assert.deepEqual(got.hosts.find((h) => h.host === 'b.example.test')!.addresses, ['127.0.0.12', '::1']);
    firsts.add(got.hosts[0].host);
  }
  assert.ok(firsts.size > 1, 'equal preferences are randomised');
  const mxAnswer = (await r.findTargets('example.test')).exchanges.find((x) => x.type === 'MX')!;
  assert.equal(mxAnswer.cached, true, 'answers are cached for their TTL');
  assert.equal(mxAnswer.answers[0].ttl, 300);
});

test('no MX: the A record is the implicit MX; none at all is permanent', { timeout: 60_000 }, async (t) => {
  const dns = await startDns({ 'plain.test': { A: ['127.0.0.5'] }, 'empty.test': {} });
  t.after(() => dns.close());
  const r = new Resolver({ servers: [dns.server] });
  const got = await r.findTargets('plain.test');
  assert.equal(got.kind, 'hosts');
  if (got.kind === 'hosts') assert.deepEqual(got.hosts, [{ host: 'plain.test', preference: 0, addresses: ['127.0.0.5'], implicit: true }]);
  const none = await r.findTargets('empty.test');
  assert.equal(none.kind, 'permanent');
});

test('null MX (RFC 7505) and NXDOMAIN are permanent; SERVFAIL and timeouts are temporary', { timeout: 60_000 }, async (t) => {
  const dns = await startDns({
    'nullmx.test': { MX: [[0, '']] },
    'broken.test': { servfail: true },
    'slow.test': { silent: true },
    'badmx.test': { MX: [[10, 'gone.badmx.test']] },
  });
  t.after(() => dns.close());
  const r = new Resolver({ servers: [dns.server], timeoutMs: 300 });
  const nullmx = await r.findTargets('nullmx.test');
  assert.equal(nullmx.kind, 'permanent');
  if (nullmx.kind === 'permanent') assert.equal(nullmx.status, '5.1.10');
  const nx = await r.findTargets('nowhere.test');
  assert.equal(nx.kind, 'permanent');
  if (nx.kind === 'permanent') assert.equal(nx.status, '5.1.2');
  assert.equal((await r.findTargets('broken.test')).kind, 'temporary');
  const slow = await r.findTargets('slow.test');
  assert.equal(slow.kind, 'temporary');
  assert.match(slow.exchanges[0].error ?? '', /timed out/);
  // a listed MX whose name does not resolve: try again later, it may be a DNS hiccup
  assert.equal((await r.findTargets('badmx.test')).kind, 'temporary');
});

test('the system resolvers come from resolv.conf', () => {
  assert.ok(systemServers().length >= 1);
  assert.deepEqual(systemServers('/nonexistent'), ['127.0.0.1:53']);
});
