// Built-in ACME against Debian's pebble (the ACME test CA) on loopback: pebble resolves the
// server's name through a dns2 server (127.0.0.1) and fetches the HTTP-01 challenge from our HTTP
// listener. The certificate reaches SMTPS, IMAPS and POP3S without a restart (issuer: pebble's
// intermediate, chain verified against pebble's root); a forced renewal swaps it again while an
// IMAP session opened before keeps working; a name that DNS does not know fails with one line
// saying what to do, and the self-signed certificate keeps serving. With acmeChallenge tls-alpn-01
// (RFC 8737) and the HTTP listener off, pebble validates over the HTTPS listener's acme-tls/1 instead.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import tls from 'node:tls';
import { startDnsServer } from '../../src/lab/dns.js';
import { doctor } from '../../src/relay/doctor.js';
import { Resolver } from '../../src/relay/mx.js';
import { makeSelfSigned } from '../../src/tls/tls.js';
import { loadConfig } from '../../src/config/config.js';
import { labEnv, startLab, type Lab } from '../helpers/lab.js';

const HOST = 'mail.acme.test';
const havePebble = spawnSync('sh', ['-c', 'command -v pebble'], { encoding: 'utf8' }).status === 0;
const SKIP = havePebble ? false : 'pebble is not installed (apt-get install -y pebble; .ci/run does): the ACME test needs the ACME test CA';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
  });
}

function get(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https.get(url, { ca }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).once('error', reject);
  });
}

interface Pebble { directory: string; tlsCert: string; root: () => Promise<string>; intermediate: () => Promise<string>; proc: ChildProcess }

/** pebble on loopback with its own TLS certificate, validating HTTP-01 on httpPort (TLS-ALPN-01 on tlsPort), resolving names with dnsServer. */
async function startPebble(t: TestContext, httpPort: number, dnsServer: string, tlsPort?: number): Promise<Pebble> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pebble-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const own = await makeSelfSigned('localhost');
  writeFileSync(path.join(dir, 'cert.pem'), own.cert);
  writeFileSync(path.join(dir, 'key.pem'), own.key);
  const [port, mgmt] = [await freePort(), await freePort()];
  writeFileSync(path.join(dir, 'pebble.json'), JSON.stringify({
    pebble: {
      listenAddress: `127.0.0.1:${port}`, managementListenAddress: `127.0.0.1:${mgmt}`,
      certificate: path.join(dir, 'cert.pem'), privateKey: path.join(dir, 'key.pem'),
      httpPort, tlsPort: tlsPort ?? await freePort(), ocspResponderURL: '', externalAccountBindingRequired: false,
    },
  }));
  let output = '';
  const proc = spawn('pebble', ['-config', path.join(dir, 'pebble.json'), '-dnsserver', dnsServer], {
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_VA_ALWAYS_VALID: '0', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout!.on('data', (d: Buffer) => { output += d.toString(); });
  proc.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
  t.after(() => { proc.kill(); });
  const directory = `https://127.0.0.1:${port}/dir`;
  for (let i = 0; ; i++) {
    try {
      if ((await get(directory, own.cert)).status === 200) break;
    } catch { /* not listening yet */ }
    if (i > 100 || proc.exitCode !== null) throw new Error(`pebble did not start: ${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const mgmtGet = async (p: string) => (await get(`https://127.0.0.1:${mgmt}${p}`, own.cert)).body;
  return { directory, tlsCert: own.cert, proc, root: () => mgmtGet('/roots/0'), intermediate: () => mgmtGet('/intermediates/0') };
}

/** Implicit TLS, verified against ca for HOST: the leaf certificate and the open socket. */
function verified(port: number, ca: string): Promise<{ sock: tls.TLSSocket; cert: X509Certificate }> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: '127.0.0.1', port, servername: HOST, ca }, () => resolve({ sock, cert: sock.getPeerX509Certificate()! }));
    sock.once('error', reject);
  });
}

/** Write a line and read until re matches what came since. */
function ask(sock: net.Socket, line: string | null, re: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => { cleanup(); reject(new Error(`timed out waiting for ${re}, got ${JSON.stringify(buf)}`)); }, 15_000);
    const onData = (d: Buffer) => { buf += d.toString('latin1'); if (re.test(buf)) { cleanup(); resolve(buf); } };
    const onClose = () => { cleanup(); reject(new Error(`closed while waiting for ${re}, got ${JSON.stringify(buf)}`)); };
    const cleanup = () => { clearTimeout(timer); sock.off('data', onData); sock.off('close', onClose); };
    sock.on('data', onData);
    sock.once('close', onClose);
    if (line !== null) sock.write(line + '\r\n');
  });
}

async function waitFor(what: string, ok: () => boolean, lab: Lab): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(lab.po.acme?.info())}`);
}

test('ACME with pebble: HTTP-01 on the HTTP listener, every TLS listener switches without a restart, forced renewal keeps IMAP sessions', { skip: SKIP }, async (t) => {
  const dns = await startDnsServer({ [HOST]: { A: ['127.0.0.1'] } }, { ttl: 0 });
  t.after(() => dns.close());
  const httpPort = await freePort();
  const pebble = await startPebble(t, httpPort, dns.server);
  const lab = await startLab(t, {
    users: { 'bob@acme.test': 'pw' },
    env: {
      POSTOFFICE_HOSTNAME: HOST, POSTOFFICE_DOMAINS: 'acme.test', POSTOFFICE_ACME: '1', POSTOFFICE_HTTPS_PORT: '443',
      POSTOFFICE_ACME_EMAIL: 'postmaster@acme.test', POSTOFFICE_ACME_DIRECTORY: pebble.directory,
    },
    start: { bindPorts: { http: httpPort }, acme: { directoryCa: pebble.tlsCert, backoffMs: [1000] } },
  });
  assert.equal(lab.port('http'), httpPort);

  // the self-signed certificate serves until the first ACME certificate arrives
  await waitFor('the first ACME certificate', () => lab.po.tls.source === 'acme', lab);
  const [root, intermediate] = [await pebble.root(), await pebble.intermediate()];
  const issuer = new X509Certificate(intermediate).subject;
  const first = new X509Certificate(lab.po.tls.current.cert);
  assert.equal(first.issuer, issuer);
  assert.match(first.subjectAltName ?? '', /DNS:mail\.acme\.test/);
  for (const f of ['account.key', 'cert.pem', 'key.pem']) {
    assert.equal(statSync(path.join(lab.dataDir, 'acme', f)).mode & 0o777, 0o600, `acme/${f} is 0600`);
  }

  // SMTPS, IMAPS, POP3S: the chain verifies against pebble's root for the hostname
  for (const [name, greeting] of [['smtps', /^220 /m], ['imaps', /^\* OK/m], ['pop3s', /^\+OK/m]] as const) {
    const { sock, cert } = await verified(lab.port(name), root);
    assert.equal(cert.fingerprint256, first.fingerprint256, `${name} presents the ACME certificate`);
    assert.equal(cert.issuer, issuer, `${name}: issuer is pebble's intermediate`);
    await ask(sock, null, greeting);
    sock.destroy();
  }

  // an IMAP session opened before the renewal
  const before = await verified(lab.port('imaps'), root);
  await ask(before.sock, null, /^\* OK.*\r\n/m);
  await ask(before.sock, 'a1 LOGIN bob@acme.test pw', /^a1 OK.*\r\n/m);
  await lab.deliver('bob@acme.test', Buffer.from('From: a@acme.test\r\nTo: bob@acme.test\r\nSubject: before\r\n\r\nhello\r\n'));

  assert.equal(await lab.po.acme!.renew('forced by the test'), true);
  const second = new X509Certificate(lab.po.tls.current.cert);
  assert.notEqual(second.fingerprint256, first.fingerprint256);
  assert.equal(second.issuer, issuer);
  for (const name of ['smtps', 'imaps', 'pop3s', 'https'] as const) {
    const { sock, cert } = await verified(lab.port(name), root);
    assert.equal(cert.fingerprint256, second.fingerprint256, `${name} presents the renewed certificate`);
    sock.destroy();
  }
  // the old session still has its old certificate and still works
  assert.equal(before.cert.fingerprint256, first.fingerprint256);
  const sel = await ask(before.sock, 'a2 SELECT INBOX', /^a2 (OK|NO|BAD).*\r\n/m);
  assert.match(sel, /^\* 1 EXISTS/m);
  assert.match(sel, /^a2 OK/m);
  await ask(before.sock, 'a3 LOGOUT', /^a3 OK.*\r\n/m);
  before.sock.destroy();

  // the next renewal is planned at two thirds of the lifetime
  const from = Date.parse(second.validFrom), to = Date.parse(second.validTo);
  const next = Date.parse(lab.po.acme!.info().nextAttempt!);
  assert.ok(Math.abs(next - (from + (to - from) * 2 / 3)) < 5000, `renewal planned at 2/3 of the lifetime: ${lab.po.acme!.info().nextAttempt}`);
  const health = await fetch(`http://127.0.0.1:${httpPort}/health`).then((r) => r.json()) as { certificate: { source: string; daysLeft: number } };
  assert.equal(health.certificate.source, 'acme');
  assert.ok(health.certificate.daysLeft > 14);
  const metrics = await fetch(`http://127.0.0.1:${httpPort}/metrics`).then((r) => r.text());
  assert.match(metrics, /^postoffice_tls_certificate_days_left\{hostname="mail\.acme\.test",source="acme"\} \d+$/m);
  // postoffice doctor judges the ACME certificate (not the self-signed one beside it)
  const tlsFindings = (await doctor(lab.config, { domains: [], probe: null, resolver: new Resolver({ servers: [dns.server], timeoutMs: 2000 }) })).filter((f) => f.check === 'TLS');
  assert.deepEqual(tlsFindings.map((f) => f.level), ['ok'], JSON.stringify(tlsFindings));
  assert.match(tlsFindings[0].message, /^certificate for mail\.acme\.test valid until /);

  // a restart serves the stored certificate at once, without a new order (the acme/ files, in a new data dir)
  await lab.po.close();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-acme-restart-'));
  cpSync(path.join(lab.dataDir, 'acme'), path.join(dataDir, 'acme'), { recursive: true });
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const again = await startLab(t, {
    dataDir,
    env: { POSTOFFICE_HOSTNAME: HOST, POSTOFFICE_DOMAINS: 'acme.test', POSTOFFICE_ACME: '1', POSTOFFICE_ACME_DIRECTORY: pebble.directory },
    start: { acme: { directoryCa: pebble.tlsCert, backoffMs: [1000] } },
  });
  assert.equal(again.po.tls.source, 'acme');
  assert.equal(new X509Certificate(again.po.tls.current.cert).fingerprint256, second.fingerprint256);
  assert.equal(again.po.acme!.info().state, 'valid');
  const { sock, cert } = await verified(again.port('imaps'), root);
  assert.equal(cert.fingerprint256, second.fingerprint256);
  sock.destroy();
});

test('ACME with pebble: a name DNS does not know fails with one line saying what to do; the self-signed certificate stays', { skip: SKIP }, async (t) => {
  const dns = await startDnsServer({ [HOST]: { A: ['127.0.0.1'] } }, { ttl: 0 });
  t.after(() => dns.close());
  const httpPort = await freePort();
  const pebble = await startPebble(t, httpPort, dns.server);
  const lab = await startLab(t, {
    env: {
      POSTOFFICE_HOSTNAME: HOST, POSTOFFICE_DOMAINS: 'acme.test', POSTOFFICE_ACME: '1', POSTOFFICE_ACME_NAMES: 'autoconfig.nowhere.test',
      POSTOFFICE_ACME_DIRECTORY: pebble.directory,
    },
    start: { bindPorts: { http: httpPort }, acme: { directoryCa: pebble.tlsCert, backoffMs: [3_600_000] } },
  });
  await waitFor('the first failure', () => lab.po.acme!.info().state === 'failing', lab);
  const st = lab.po.acme!.info();
  assert.match(st.lastError!, /^ACME: DNS of mail\.acme\.test, autoconfig\.nowhere\.test does not point here: .*Publish A\/AAAA records/);
  assert.doesNotMatch(st.lastError!, /\n/);
  assert.equal(lab.po.tls.source, 'self-signed');
  assert.ok(Date.parse(st.nextAttempt!) > Date.now() + 3_000_000, 'retried after the backoff');
  const tlsFindings = (await doctor(lab.config, { domains: [], probe: null, resolver: new Resolver({ servers: [dns.server], timeoutMs: 2000 }) })).filter((f) => f.check === 'TLS');
  assert.ok(tlsFindings.some((f) => f.level === 'warn' && /^ACME is on but no certificate has arrived yet/.test(f.message)), JSON.stringify(tlsFindings));
});

/** A handshake offering only acme-tls/1: the negotiated protocol and certificate, or the error. */
function alpnHandshake(port: number, servername: string): Promise<{ alpn: string | false | null; cert: X509Certificate } | Error> {
  return new Promise((resolve) => {
    const sock = tls.connect({ host: '127.0.0.1', port, servername, ALPNProtocols: ['acme-tls/1'], rejectUnauthorized: false }, () => {
      resolve({ alpn: sock.alpnProtocol, cert: sock.getPeerX509Certificate()! });
      sock.destroy();
    });
    sock.once('error', (err) => resolve(err));
  });
}

test('ACME with pebble: TLS-ALPN-01 on the HTTPS listener alone (HTTP listener off), then every listener serves the certificate', { skip: SKIP }, async (t) => {
  const dns = await startDnsServer({ [HOST]: { A: ['127.0.0.1'] }, 'mta-sts.acme.test': { A: ['127.0.0.1'] } }, { ttl: 0 });
  t.after(() => dns.close());
  // pebble's HTTP-01 port has no listener: only the TLS-ALPN-01 challenge on the HTTPS listener can succeed
  const [unused, httpsPort] = [await freePort(), await freePort()];
  const pebble = await startPebble(t, unused, dns.server, httpsPort);
  const lab = await startLab(t, {
    users: { 'bob@acme.test': 'pw' },
    env: {
      POSTOFFICE_HOSTNAME: HOST, POSTOFFICE_DOMAINS: 'acme.test', POSTOFFICE_ACME: '1', POSTOFFICE_ACME_CHALLENGE: 'tls-alpn-01',
      POSTOFFICE_HTTP_PORT: '0', POSTOFFICE_HTTPS_PORT: '443', POSTOFFICE_MTA_STS: 'testing',
      POSTOFFICE_ACME_DIRECTORY: pebble.directory,
    },
    start: { bindPorts: { https: httpsPort }, acme: { directoryCa: pebble.tlsCert, backoffMs: [1000] } },
  });
  assert.equal(lab.po.listeners.find((l) => l.name === 'http')?.state, 'disabled', 'the HTTP listener is off');
  assert.equal(lab.port('https'), httpsPort);

  await waitFor('the first ACME certificate', () => lab.po.tls.source === 'acme', lab);
  const [root, intermediate] = [await pebble.root(), await pebble.intermediate()];
  const issuer = new X509Certificate(intermediate).subject;
  const cert = new X509Certificate(lab.po.tls.current.cert);
  assert.equal(cert.issuer, issuer);
  // mtaSts on: the certificate names mta-sts.acme.test too, each proven by its own TLS-ALPN-01 challenge
  assert.match(cert.subjectAltName ?? '', /DNS:mail\.acme\.test/);
  assert.match(cert.subjectAltName ?? '', /DNS:mta-sts\.acme\.test/);

  for (const [name, greeting] of [['https', null], ['smtps', /^220 /m], ['imaps', /^\* OK/m], ['pop3s', /^\+OK/m]] as const) {
    const v = await verified(lab.port(name), root);
    assert.equal(v.cert.fingerprint256, cert.fingerprint256, `${name} presents the ACME certificate`);
    if (greeting) await ask(v.sock, null, greeting);
    v.sock.destroy();
  }
  // the HTTPS listener serves the routes without the HTTP listener: the MTA-STS policy, verified for mta-sts.acme.test
  const policy = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    https.get({ host: '127.0.0.1', port: httpsPort, path: '/.well-known/mta-sts.txt', servername: 'mta-sts.acme.test', headers: { host: 'mta-sts.acme.test' }, ca: root }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).once('error', reject);
  });
  assert.equal(policy.status, 200);
  assert.match(policy.body, /^version: STSv1\r?\nmode: testing\r?\n/);

  // no challenge open: a handshake offering only acme-tls/1 is refused (RFC 8737 §6.2: no_application_protocol), not answered with a challenge certificate
  const refused = await alpnHandshake(httpsPort, HOST);
  assert.ok(refused instanceof Error, `acme-tls/1 without an open challenge is refused: ${JSON.stringify(refused)}`);
  assert.match(refused.message, /no.application.protocol|alert/i);

  // a forced renewal goes through TLS-ALPN-01 again and reaches the HTTPS listener
  assert.equal(await lab.po.acme!.renew('forced by the test'), true);
  const renewed = new X509Certificate(lab.po.tls.current.cert);
  assert.notEqual(renewed.fingerprint256, cert.fingerprint256);
  const v = await verified(httpsPort, root);
  assert.equal(v.cert.fingerprint256, renewed.fingerprint256);
  v.sock.destroy();
});

test('ACME: tls-alpn-01 without the HTTPS listener, http-01 without the HTTP listener: one line saying what to set', async (t) => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-acme-config-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  await assert.rejects(startLab(null, { dataDir, env: { POSTOFFICE_HOSTNAME: HOST, POSTOFFICE_DOMAINS: 'acme.test', POSTOFFICE_ACME: '1', POSTOFFICE_ACME_CHALLENGE: 'tls-alpn-01', POSTOFFICE_HTTPS_PORT: '0' } }),
    /acmeChallenge tls-alpn-01 \(POSTOFFICE_ACME_CHALLENGE\) needs the HTTPS listener: set ports\.https/);
  await assert.rejects(startLab(null, { dataDir, env: { POSTOFFICE_HOSTNAME: HOST, POSTOFFICE_DOMAINS: 'acme.test', POSTOFFICE_ACME: '1', POSTOFFICE_HTTP_PORT: '0' } }),
    /needs the HTTP listener for its HTTP-01 challenge/);
  assert.throws(() => loadConfig(labEnv(dataDir, { POSTOFFICE_DOMAINS: 'acme.test', POSTOFFICE_ACME_CHALLENGE: 'dns-01' })), /acmeChallenge \(POSTOFFICE_ACME_CHALLENGE\): expected http-01 or tls-alpn-01, got "dns-01"/);
});
