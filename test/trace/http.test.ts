// The lab's HTTP listener: health, a message's journey as JSON, and the autoconfiguration file
// that Thunderbird-like clients fetch to set an account up from the address alone.
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { probeAllowed } from '../../src/trace/http.js';
import { fixture, startLab } from '../helpers/lab.js';

test('GET /health, /api/trace/ID (with the bearer token), and Mozilla autoconfig with the listeners that are on', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' }, env: { POSTOFFICE_POP3_PORT: '0', POSTOFFICE_HTTP_TRACE_TOKEN: 's3cret' } });
  const base = `http://127.0.0.1:${lab.port('http')}`;
  const health = await fetch(`${base}/health`);
  assert.equal(health.status, 200);
  assert.equal(((await health.json()) as { status: string }).status, 'ok');

  const { msgId } = await lab.deliver('bob@example.test', fixture('plain.eml'));
  // a journey names users and client addresses: a signed-in admin or the token, even on loopback
  assert.equal((await fetch(`${base}/api/trace/${encodeURIComponent(msgId)}`)).status, 401);
  assert.equal((await fetch(`${base}/api/trace/${encodeURIComponent(msgId)}`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
  const auth = { headers: { authorization: 'Bearer s3cret' } };
  const trace = (await (await fetch(`${base}/api/trace/${encodeURIComponent(msgId)}`, auth)).json()) as { step: string; office: string }[];
  assert.ok(trace.some((r) => r.step === 'stored' && r.office === 'example.test'));
  assert.equal((await fetch(`${base}/api/trace/nope`, auth)).status, 404);

  for (const p of ['/mail/config-v1.1.xml?emailaddress=bob%40example.test', '/.well-known/autoconfig/mail/config-v1.1.xml']) {
    const r = await fetch(base + p);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^application\/xml/);
    const xml = await r.text();
    assert.match(xml, /<domain>example\.test<\/domain>/);
    const servers = [...xml.matchAll(/<(incoming|outgoing)Server type="(\w+)">\s*<hostname>([^<]+)<\/hostname>\s*<port>(\d+)<\/port>\s*<socketType>(\w+)<\/socketType>\s*<username>%EMAILADDRESS%<\/username>/g)]
      .map((m) => `${m[2]} ${m[3]}:${m[4]} ${m[5]}`);
    // implicit TLS first; plain POP3 (STLS) is off in this lab, so it is not offered
    assert.deepEqual(servers, [
      `imap mail.example.test:${lab.port('imaps')} SSL`, `imap mail.example.test:${lab.port('imap')} STARTTLS`,
      `pop3 mail.example.test:${lab.port('pop3s')} SSL`,
      `smtp mail.example.test:${lab.port('smtps')} SSL`, `smtp mail.example.test:${lab.port('submission')} STARTTLS`,
    ]);
  }
});

test('Outlook Autodiscover (POX): the POSTed address comes back as login name with every server; bad requests are refused', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  const url = `http://127.0.0.1:${lab.port('http')}/Autodiscover/Autodiscover.xml`;
  const body = '<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">' +
    '<Request><EMailAddress>bob@example.test</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>';
  const r = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'text/xml' } });
  assert.equal(r.status, 200);
  const xml = await r.text();
  const protocols = [...xml.matchAll(/<Protocol>\s*<Type>(\w+)<\/Type>\s*<Server>([^<]+)<\/Server>\s*<Port>(\d+)<\/Port>[^]*?<LoginName>([^<]+)<\/LoginName>[^]*?<(SSL|Encryption)>(\w+)<\/\5>[^]*?<\/Protocol>/g)]
    .map((m) => `${m[1]} ${m[3]} ${m[4]} ${m[5]}=${m[6]}`);
  assert.deepEqual(protocols, [
    `IMAP ${lab.port('imaps')} bob@example.test SSL=on`, `IMAP ${lab.port('imap')} bob@example.test Encryption=TLS`,
    `POP3 ${lab.port('pop3s')} bob@example.test SSL=on`, `POP3 ${lab.port('pop3')} bob@example.test Encryption=TLS`,
    `SMTP ${lab.port('smtps')} bob@example.test SSL=on`, `SMTP ${lab.port('submission')} bob@example.test Encryption=TLS`,
  ]);
  assert.equal((await fetch(url, { method: 'POST', body: '<Autodiscover/>' })).status, 400);
  assert.equal((await fetch(url, { method: 'POST', body: 'x'.repeat(100_000) }).catch(() => ({ status: 413 }))).status, 413);
});

test('/metrics and /healthz: loopback clients, others only with the bearer token (httpTraceToken)', () => {
  const req = (remoteAddress: string, authorization?: string) => ({ socket: { remoteAddress }, headers: authorization ? { authorization } : {} }) as unknown as IncomingMessage;
  assert.equal(probeAllowed(req('127.0.0.1'), ''), true);
  assert.equal(probeAllowed(req('::ffff:127.0.0.1'), ''), true);
  assert.equal(probeAllowed(req('::1'), ''), true);
  assert.equal(probeAllowed(req('203.0.113.9'), ''), false, 'no token configured: loopback only');
  assert.equal(probeAllowed(req('203.0.113.9', 'Bearer s3cret'), ''), false);
  assert.equal(probeAllowed(req('203.0.113.9'), 's3cret'), false);
  assert.equal(probeAllowed(req('203.0.113.9', 'Bearer wrong'), 's3cret'), false);
  assert.equal(probeAllowed(req('203.0.113.9', 'Bearer s3cret'), 's3cret'), true);
  assert.equal(probeAllowed(req('172.17.0.1', 'bearer s3cret'), 's3cret'), true);
});
