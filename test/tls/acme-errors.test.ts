// ACME failures as one line with what to do: the problem details Let's Encrypt sends (RFC 8555
// §6.7) for DNS, port 80 (443 with TLS-ALPN-01) and rate limits, as acme-client passes them on; and the
// expiry warning.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after as t_after, test } from 'node:test';
import { pino } from 'pino';
import { explainAcmeError } from '../../src/tls/acme.js';
import { makeSelfSigned, TlsManager } from '../../src/tls/tls.js';

test('explainAcmeError: DNS, port 80, a foreign web server, rate limits, the CA unreachable', () => {
  const names = ['mail.example.org'];
  const dir = 'https://acme-v02.api.letsencrypt.org/directory';
  const cases: [string, RegExp][] = [
    ['DNS problem: NXDOMAIN looking up A for mail.example.org - check that a DNS record exists for this domain', /^ACME: DNS of mail\.example\.org does not point here: .*Publish A\/AAAA records/],
    ['DNS problem: query timed out looking up A for mail.example.org', /^ACME: DNS of mail\.example\.org does not point here/],
    ['203.0.113.5: Fetching http://mail.example.org/.well-known/acme-challenge/x1: Timeout during connect (likely firewall problem)', /^ACME: the CA could not reach port 80 of mail\.example\.org: .*Open TCP port 80/],
    ['203.0.113.5: Fetching http://mail.example.org/.well-known/acme-challenge/x1: Connection refused', /^ACME: the CA could not reach port 80/],
    ['203.0.113.5: Invalid response from http://mail.example.org/.well-known/acme-challenge/x1: 404', /^ACME: port 80 of mail\.example\.org answered, but not with our challenge: .*forward \/\.well-known\/acme-challenge\//],
    ['too many certificates (5) already issued for this exact set of domains in the last 168 hours: mail.example.org, retry after 2026-12-03T10:00:00Z: see https://letsencrypt.org/docs/rate-limits/', /^ACME rate limit reached for mail\.example\.org: .*retry after 2026-12-03.*POSTOFFICE_ACME_STAGING=1/],
    ['getaddrinfo ENOTFOUND acme-v02.api.letsencrypt.org', /^ACME: cannot talk to the CA at https:\/\/acme-v02\.api\.letsencrypt\.org\/directory: .*outbound HTTPS/],
  ];
  for (const [detail, re] of cases) {
    const line = explainAcmeError(new Error(detail), names, dir);
    assert.match(line, re, detail);
    assert.doesNotMatch(line, /\n/);
  }
});

test('explainAcmeError with TLS-ALPN-01: port 443 unreachable, a proxy or another server answering, DNS as before', () => {
  const names = ['mail.example.org'];
  const dir = 'https://acme-v02.api.letsencrypt.org/directory';
  const cases: [string, RegExp][] = [
    ['203.0.113.5: Timeout during connect (likely firewall problem)', /^ACME: the CA could not reach port 443 of mail\.example\.org: .*Open TCP port 443 to this server's HTTPS listener/],
    ['203.0.113.5: Connection refused', /^ACME: the CA could not reach port 443/],
    ['Cannot negotiate ALPN protocol "acme-tls/1" for tls-alpn-01 challenge', /^ACME: port 443 of mail\.example\.org answered, but not with our TLS-ALPN-01 certificate: .*TLS-terminating proxy.*acmeChallenge http-01/],
    ['Incorrect validation certificate for tls-alpn-01 challenge. Requested mail.example.org from 203.0.113.5:443. Received 1 certificate(s), first certificate had names "proxy.example.net"', /^ACME: port 443 of mail\.example\.org answered, but not with our TLS-ALPN-01 certificate/],
    ['DNS problem: query timed out looking up A for mail.example.org', /^ACME: DNS of mail\.example\.org does not point here/],
    ['DNS problem: NXDOMAIN looking up A for mail.example.org', /^ACME: DNS of mail\.example\.org does not point here/],
  ];
  for (const [detail, re] of cases) {
    const line = explainAcmeError(new Error(detail), names, dir, 'tls-alpn-01');
    assert.match(line, re, detail);
    assert.doesNotMatch(line, /\n|port 80/);
  }
});

test('a certificate in use that expires within 14 days is a log warning (an ACME one that failed to renew)', async () => {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info', base: undefined }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); } });
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-expiry-'));
  const m = await TlsManager.create({ dataDir, hostname: 'mail.example.org', cert: null, key: null, log });
  t_after(() => { m.close(); rmSync(dataDir, { recursive: true, force: true }); });
  assert.equal(await m.renewIfDue('check'), false);
  assert.equal(lines.filter((l) => l.level === 40).length, 0, 'a fresh certificate: no warning');
  m.install(await makeSelfSigned('mail.example.org', 10), 'acme', 'test');
  assert.equal(m.daysLeft(), 9);
  assert.equal(await m.renewIfDue('check'), false, 'ACME renews its own certificate');
  const warn = lines.find((l) => l.level === 40);
  assert.match(String(warn?.msg), /^TLS certificate expires in 9 days \(the ACME certificate: its renewal is failing, the ACME_FAILED log lines say why\)$/);
  assert.equal(warn?.source, 'acme');
});
