import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/config.js';

test('defaults: the dev lab on 127.0.0.1 with example.test', () => {
  const c = loadConfig({});
  assert.equal(c.hostname, 'mail.example.test');
  assert.deepEqual(c.domains, ['example.test']);
  assert.equal(c.listen, '127.0.0.1');
  assert.deepEqual({ ...c.ports }, { smtp: 2525, smtps: 2465, submission: 2587, imap: 2143, imaps: 2993, pop3: 2110, pop3s: 2995, http: 8080, https: 0 });
  assert.equal(c.maxMessageBytes, 26214400);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.ports));
});

test('every key is overridable by its env var', () => {
  const c = loadConfig({
    POSTOFFICE_HOSTNAME: 'mx.163.test', POSTOFFICE_DOMAINS: '163.test, Sina.test', POSTOFFICE_SMTP_PORT: '25', POSTOFFICE_IMAP_PORT: '0',
    POSTOFFICE_DNS_SERVERS: '127.0.0.1:5353', POSTOFFICE_SMARTHOST: 'relay.example:587', POSTOFFICE_MAX_MESSAGE_BYTES: '1000',
    POSTOFFICE_LOG_LEVEL: 'debug', POSTOFFICE_ALLOW_PLAINTEXT_LOOPBACK: 'false',
  });
  assert.equal(c.hostname, 'mx.163.test');
  assert.deepEqual(c.domains, ['163.test', 'sina.test']);
  assert.equal(c.ports.smtp, 25);
  assert.equal(c.ports.imap, 0);
  assert.deepEqual(c.dnsServers, ['127.0.0.1:5353']);
  assert.equal(c.smarthost, 'relay.example:587');
  assert.equal(c.maxMessageBytes, 1000);
  assert.equal(c.logLevel, 'debug');
  assert.equal(c.allowPlaintextAuthOnLoopback, false);
});

test('invalid config: one line naming the key', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ POSTOFFICE_SMTP_PORT: '70000' }, /^invalid config: ports\.smtp \(POSTOFFICE_SMTP_PORT\): expected a port number/],
    [{ POSTOFFICE_DOMAINS: 'not a domain' }, /^invalid config: domains \(POSTOFFICE_DOMAINS\): not a domain name/],
    [{ POSTOFFICE_LOG_LEVEL: 'loud' }, /^invalid config: logLevel/],
    [{ POSTOFFICE_TLS_CERT: '/x.pem' }, /^invalid config: tlsCert\/tlsKey/],
    [{ POSTOFFICE_MAX_MESSAGE_BYTES: '-1' }, /^invalid config: maxMessageBytes/],
  ];
  for (const [env, re] of cases) {
    assert.throws(() => loadConfig(env), (e: Error) => e instanceof ConfigError && re.test(e.message) && !e.message.includes('\n'));
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-cfg-'));
  const file = path.join(dir, 'c.json');
  writeFileSync(file, '{"hostname": "x", "smtpPorts": 1}');
  assert.throws(() => loadConfig({ POSTOFFICE_CONFIG: file }), /^ConfigError: invalid config: smtpPorts .*unknown key$|invalid config: smtpPorts/);
  writeFileSync(file, '{"hostname": "mx.own.test", "ports": {"smtp": 25}}');
  const own = loadConfig({ POSTOFFICE_CONFIG: file });
  assert.equal(own.hostname, 'mx.own.test', 'a partial config file overlays the defaults');
  assert.equal(own.ports.smtp, 25);
  assert.equal(own.ports.imap, 2143);
  writeFileSync(file, '{ not json');
  assert.throws(() => loadConfig({ POSTOFFICE_CONFIG: file }), /is not valid JSON/);
});
