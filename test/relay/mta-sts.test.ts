// MTA-STS (RFC 8461) both ways. Relaying: remote domains publish `_mta-sts` TXT records (dns2) and
// policies the test serves over HTTPS with its own CA. In enforce mode an MX without STARTTLS gets
// no mail (deferred, then bounced; the journey and the DSN say why), an MX the policy does not name
// is not tried, and an MX with a certificate valid for its name gets the mail. Serving: our policy
// at https://mta-sts.DOMAIN/.well-known/mta-sts.txt matches the TXT record `postoffice dns` prints.
import assert from 'node:assert/strict';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { test, type TestContext } from 'node:test';
import forge from 'node-forge';
import { SMTPServer } from 'smtp-server';
import { parsePolicy, policyId, policyText } from '../../src/mail/mta-sts.js';
import { doctor } from '../../src/relay/doctor.js';
import { MtaStsResolver } from '../../src/relay/mta-sts.js';
import { Resolver } from '../../src/relay/mx.js';
import { recordsFor } from '../../src/relay/records.js';
import { genRsaKey } from '../../src/tls/tls.js';
import { formatTrace } from '../../src/trace/format.js';
import { startLab } from '../helpers/lab.js';
import type { Zone } from '../../src/lab/dns.js';
import { startDns } from './dns-server.js';
import { startSink } from './sink.js';
import { enqueue, inbox, waitFor } from './util.js';

interface Ca { cert: string; issue(names: string[]): Promise<{ cert: string; key: string }> }

/** A test CA (node-forge) and leaf certificates it signs. */
async function makeCa(): Promise<Ca> {
  const caKey = forge.pki.privateKeyFromPem(await genRsaKey()) as forge.pki.rsa.PrivateKey;
  const ca = forge.pki.createCertificate();
  ca.publicKey = forge.pki.setRsaPublicKey(caKey.n, caKey.e);
  ca.serialNumber = '01';
  ca.validity.notBefore = new Date(Date.now() - 60_000);
  ca.validity.notAfter = new Date(Date.now() + 86_400_000);
  const caName = [{ name: 'commonName', value: 'postoffice MTA-STS test CA' }];
  ca.setSubject(caName);
  ca.setIssuer(caName);
  ca.setExtensions([{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }, { name: 'subjectKeyIdentifier' }]);
  ca.sign(caKey, forge.md.sha256.create());
  let serial = 1;
  return {
    cert: forge.pki.certificateToPem(ca),
    async issue(names) {
      const keyPem = await genRsaKey();
      const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
      const c = forge.pki.createCertificate();
      c.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
      c.serialNumber = (++serial).toString(16).padStart(2, '0');
      c.validity.notBefore = new Date(Date.now() - 60_000);
      c.validity.notAfter = new Date(Date.now() + 86_400_000);
      c.setSubject([{ name: 'commonName', value: names[0] }]);
      c.setIssuer(caName);
      c.setExtensions([{ name: 'basicConstraints', cA: false }, { name: 'extKeyUsage', serverAuth: true }, { name: 'subjectAltName', altNames: names.map((value) => ({ type: 2, value })) }]);
      c.sign(caKey, forge.md.sha256.create());
      return { cert: forge.pki.certificateToPem(c), key: keyPem };
    },
  };
}

/** The remote domains' policy hosts: one HTTPS server answering by Host (mta-sts.DOMAIN). */
async function policyServer(t: TestContext, ca: Ca, policies: Record<string, string>): Promise<{ port: number; fetches: string[] }> {
  const pair = await ca.issue(Object.keys(policies).map((d) => `mta-sts.${d}`));
  const fetches: string[] = [];
  const server: HttpsServer = createHttpsServer(pair, (req, res) => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    fetches.push(`${host}${req.url}`);
    const body = policies[host.replace(/^mta-sts\./, '')];
    if (req.url !== '/.well-known/mta-sts.txt' || body === undefined) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }));
  return { port: (server.address() as AddressInfo).port, fetches };
}

/** An MX offering STARTTLS with a certificate the test CA issued for its name. */
async function tlsSink(t: TestContext, pair: { cert: string; key: string }): Promise<{ port: number; received: { rcpts: string[]; secure: boolean; raw?: Buffer }[] }> {
  const received: { rcpts: string[]; secure: boolean; raw?: Buffer }[] = [];
  const server = new SMTPServer({
    ...pair, disabledCommands: ['AUTH'], logger: false, banner: 'tls sink',
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const rcpts = session.envelope.rcptTo.map((r) => r.address);
        received.push({ rcpts, secure: session.secure, ...(rcpts.some((r) => r.startsWith('tlsrpt@')) ? { raw: Buffer.concat(chunks) } : {}) });
        cb();
      });
    },
  });
  server.on('error', () => { /* a client went away */ });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { port: (server.server.address() as AddressInfo).port, received };
}

interface TlsReport {
  'organization-name': string;
  policies: { policy: Record<string, unknown>; summary: Record<string, number>; 'failure-details': Record<string, string>[] }[];
}
/** RFC 8460 §5.3: the gzipped JSON attachment of a report mail. */
function tlsReport(raw: Buffer): TlsReport {
  const text = raw.toString('latin1');
  assert.match(text, /^Subject: Report Domain: remote\.test Submitter: mx\.163\.test Report-ID: <[^>]+>\r$/m);
  assert.match(text, /^Content-Type: multipart\/report; report-type="tlsrpt"/m);
  const m = /Content-Type: application\/tlsrpt\+gzip\r\n(?:[^\r\n]+\r\n)*\r\n([A-Za-z0-9+/=\r\n]+?)\r\n\r\n--/.exec(text);
  assert.ok(m, 'a tlsrpt+gzip part');
  return JSON.parse(gunzipSync(Buffer.from(m[1].replace(/\r\n/g, ''), 'base64')).toString('utf8')) as TlsReport;
}

const ENFORCE = (mx: string) => `version: STSv1\r\nmode: enforce\r\nmx: ${mx}\r\nmax_age: 86400\r\n`;

async function setup(t: TestContext, relayPort: number, ca: Ca, policies: Record<string, string>, env: Record<string, string> = {}, more: { zones?: Record<string, Zone>; tlsRptRetryMs?: number[] } = {}) {
  const pol = await policyServer(t, ca, policies);
  const dns = await startDns({
    'remote.test': { MX: [[10, 'mx.remote.test']] },
    'mx.remote.test': { A: ['127.0.0.1'] },
    '_mta-sts.remote.test': { TXT: [['v=STSv1; id=20261201']] },
    'mta-sts.remote.test': { A: ['127.0.0.1'] },
    '_smtp._tls.remote.test': { TXT: [['v=TLSRPTv1; rua=mailto:tlsrpt@reports.test']] },
    'reports.test': { MX: [[10, 'mx.reports.test']] },
    'mx.reports.test': { A: ['127.0.0.1'] },
    'other.test': { MX: [[10, 'mx.other.test']] },
    'mx.other.test': { A: ['127.0.0.1'] },
    '_mta-sts.other.test': { TXT: [['v=STSv1; id=1']] },
    'mta-sts.other.test': { A: ['127.0.0.1'] },
    ...more.zones,
  });
  t.after(() => dns.close());
  const lab = await startLab(t, {
    users: { 'me@163.test': 'pw' },
    env: {
      POSTOFFICE_DOMAINS: '163.test', POSTOFFICE_HOSTNAME: 'mx.163.test', POSTOFFICE_DNS_SERVERS: dns.server,
      POSTOFFICE_RELAY_PORT: String(relayPort), POSTOFFICE_RELAY_POLL_MS: '50', POSTOFFICE_RELAY_RETRY_SCHEDULE: '500ms', ...env,
    },
    start: { relay: { tlsCa: [ca.cert], mtaStsHttpsPort: pol.port, ...(more.tlsRptRetryMs ? { tlsRptRetryMs: more.tlsRptRetryMs } : {}) } },
  });
  return { lab, pol };
}

test('MTA-STS enforce, MX without STARTTLS: no mail, deferred then bounced, the journey and the DSN say why', { timeout: 60_000 }, async (t) => {
  const ca = await makeCa();
  const sink = await startSink();
  t.after(() => sink.close());
  const { lab, pol } = await setup(t, sink.port, ca, { 'remote.test': ENFORCE('mx.remote.test') }, { POSTOFFICE_RELAY_EXPIRE: '3s' });
  const { msgId } = await enqueue(lab, 'me@163.test', ['you@remote.test']);
  const deferred = await waitFor('a deferred attempt', async () => (await lab.po.store.queue.list()).find((x) => x.attempts >= 1));
  assert.equal(deferred.rcpts[0].status, 'pending');
  const [dsn] = await waitFor('the bounce', async () => { const b = await inbox(lab.po.store, 'me@163.test'); return b.length ? b : null; });
  assert.equal(sink.received.length, 0, 'no mail over plaintext');
  const text = dsn.toString('latin1');
  assert.match(text, /^Final-Recipient: rfc822; you@remote\.test\r\nAction: failed\r\n/m);
  assert.match(text, /MTA-STS policy of remote\.test \(enforce, mx: mx\.remote\.test\) requires verified TLS/);
  // the bounce is committed before the queue entry's last update, which carries the attempt's journey steps
  await waitFor('the queue entry to go', async () => !(await lab.po.store.queue.list()).some((x) => x.msgId === msgId));
  const trace = formatTrace(await lab.po.store.journey.trace(msgId));
  assert.match(trace, /mta-sts\s+.*source=fetched.*mode=enforce/);
  assert.match(trace, /deferred\s+.*MTA-STS policy of remote\.test/);
  assert.match(trace, /bounced/);
  // fetched once, then cached for max_age (the TXT id did not change)
  assert.deepEqual(pol.fetches, ['mta-sts.remote.test/.well-known/mta-sts.txt']);
  // the cache survives a restart: with the TXT record gone (stripped, or DNS down) the policy still holds
  const after = new MtaStsResolver({ resolver: new Resolver({ servers: ['127.0.0.1:9'], timeoutMs: 300 }), file: path.join(lab.dataDir, 'mta-sts-policies.json') });
  const l = await after.lookup('remote.test');
  assert.equal(l.source, 'cached');
  assert.deepEqual([l.policy?.mode, l.policy?.mx], ['enforce', ['mx.remote.test']]);

  // RFC 8460: the day's TLS report goes to the rua of _smtp._tls.remote.test
  assert.equal((await lab.po.relay!.tlsReports!.flush(true)).length, 1);
  const mail = await waitFor('the TLS report', async () => sink.received.find((m) => m.rcpts.includes('tlsrpt@reports.test')));
  const report = tlsReport(mail.raw);
  assert.equal(report.policies[0].policy['policy-type'], 'sts');
  assert.equal(report.policies[0].policy['policy-domain'], 'remote.test');
  assert.deepEqual(report.policies[0].policy['mx-host'], ['mx.remote.test']);
  assert.equal(report.policies[0].summary['total-successful-session-count'], 0);
  assert.ok(report.policies[0].summary['total-failure-session-count'] >= 1);
  assert.deepEqual(report.policies[0]['failure-details'].map((f) => [f['result-type'], f['receiving-mx-hostname'], f['receiving-ip']]), [['starttls-not-supported', 'mx.remote.test', '127.0.0.1']]);
  assert.equal(report['organization-name'], 'mx.163.test');
});

test('TLS-RPT to an https: rua (RFC 8460 §5.4): the gzipped report is POSTed as application/tlsrpt+gzip, retried after a failure (§5.5), beside the mailto: one', { timeout: 60_000 }, async (t) => {
  const ca = await makeCa();
  const sink = await startSink();
  t.after(() => sink.close());
  // the report endpoint: answers 503 to the first POST, 201 to the next; its certificate is the test CA's
  const posts: { method: string; url: string; headers: Record<string, string | string[] | undefined>; body: Buffer }[] = [];
  const endpoint: HttpsServer = createHttpsServer(await ca.issue(['tlsrpt.reports.test']), (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      posts.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(posts.length === 1 ? 503 : 201).end();
    });
  });
  await new Promise<void>((r) => endpoint.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => { endpoint.close(() => r()); endpoint.closeAllConnections(); }));
  const port = (endpoint.address() as AddressInfo).port;
  const { lab } = await setup(t, sink.port, ca, { 'remote.test': ENFORCE('mx.remote.test') }, {}, {
    zones: {
      '_smtp._tls.remote.test': { TXT: [[`v=TLSRPTv1; rua=https://tlsrpt.reports.test:${port}/v1/tlsrpt?d=remote,mailto:tlsrpt@reports.test`]] },
      'tlsrpt.reports.test': { A: ['127.0.0.1'] },
    },
    tlsRptRetryMs: [300],
  });
  await enqueue(lab, 'me@163.test', ['you@remote.test']);
  await waitFor('a deferred attempt', async () => (await lab.po.store.queue.list()).find((x) => x.attempts >= 1));

  const reporter = lab.po.relay!.tlsReports!;
  const [id] = await reporter.flush(true);
  assert.ok(id, 'one report');
  // the first POST failed (503) and is retried after the wait; the second is accepted
  await waitFor('the retried POST', async () => posts.length === 2 && reporter.httpsResults.length === 2);
  const url = `https://tlsrpt.reports.test:${port}/v1/tlsrpt?d=remote`;
  assert.deepEqual(reporter.httpsResults.map((r) => [r.url, r.reportId, r.status, r.attempt]), [[url, id, 503, 1], [url, id, 201, 2]]);
  assert.equal(reporter.httpsResults[0].error, 'HTTP 503');
  for (const p of posts) {
    assert.equal(p.method, 'POST');
    assert.equal(p.url, '/v1/tlsrpt?d=remote');
    assert.equal(p.headers['content-type'], 'application/tlsrpt+gzip');
    assert.equal(p.headers['content-length'], String(p.body.length));
  }
  assert.deepEqual(posts[1].body, posts[0].body, 'the same report both times');
  const report = JSON.parse(gunzipSync(posts[1].body).toString('utf8')) as TlsReport & { 'report-id': string };
  assert.equal(report['report-id'], id);
  assert.equal(report['organization-name'], 'mx.163.test');
  assert.equal(report.policies[0].policy['policy-domain'], 'remote.test');
  assert.deepEqual(report.policies[0]['failure-details'].map((f) => [f['result-type'], f['receiving-mx-hostname']]), [['starttls-not-supported', 'mx.remote.test']]);
  // the mailto: address gets the same report by mail
  const mail = await waitFor('the TLS report mail', async () => sink.received.find((m) => m.rcpts.includes('tlsrpt@reports.test')));
  assert.equal(tlsReport(mail.raw)['organization-name'], 'mx.163.test');
  assert.match(mail.raw.toString('latin1'), new RegExp(`Report-ID: <${id.replace(/[.]/g, '\\.')}>`));
});

test('TLS-RPT to an https: rua whose certificate the sender cannot verify: not posted, retried, then given up', { timeout: 60_000 }, async (t) => {
  const ca = await makeCa();
  const other = await makeCa();
  const sink = await startSink();
  t.after(() => sink.close());
  let posts = 0;
  const endpoint: HttpsServer = createHttpsServer(await other.issue(['tlsrpt.reports.test']), (req, res) => { posts++; req.resume(); res.writeHead(200).end(); });
  await new Promise<void>((r) => endpoint.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => { endpoint.close(() => r()); endpoint.closeAllConnections(); }));
  const port = (endpoint.address() as AddressInfo).port;
  const { lab } = await setup(t, sink.port, ca, { 'remote.test': ENFORCE('mx.remote.test') }, {}, {
    zones: { '_smtp._tls.remote.test': { TXT: [[`v=TLSRPTv1; rua=https://tlsrpt.reports.test:${port}/r`]] }, 'tlsrpt.reports.test': { A: ['127.0.0.1'] } },
    tlsRptRetryMs: [100],
  });
  await enqueue(lab, 'me@163.test', ['you@remote.test']);
  await waitFor('a deferred attempt', async () => (await lab.po.store.queue.list()).find((x) => x.attempts >= 1));
  const reporter = lab.po.relay!.tlsReports!;
  assert.equal((await reporter.flush(true)).length, 1);
  await waitFor('the retry', async () => reporter.httpsResults.length === 2);
  assert.deepEqual(reporter.httpsResults.map((r) => [r.status, r.attempt]), [[null, 1], [null, 2]]);
  assert.match(reporter.httpsResults[1].error!, /^cannot POST to https:\/\/tlsrpt\.reports\.test:\d+\/r: .*(certificate|issuer)/i);
  assert.equal(posts, 0, 'nothing reached an endpoint whose certificate does not verify');
  assert.equal(sink.received.filter((m) => m.rcpts.includes('tlsrpt@reports.test')).length, 0, 'no mailto: rua, no report mail');
});

test('MTA-STS enforce: an MX the policy does not name is not tried; one with a valid certificate gets the mail', { timeout: 60_000 }, async (t) => {
  const ca = await makeCa();
  const mx = await tlsSink(t, await ca.issue(['mx.remote.test', 'mx.other.test']));
  const { lab } = await setup(t, mx.port, ca, { 'remote.test': ENFORCE('*.remote.test'), 'other.test': ENFORCE('mail.other.test') });
  const good = await enqueue(lab, 'me@163.test', ['you@remote.test']);
  await waitFor('delivery', async () => mx.received.length === 1);
  assert.deepEqual(mx.received[0], { rcpts: ['you@remote.test'], secure: true });
  await waitFor('the queue entry to go', async () => !(await lab.po.store.queue.list()).some((e) => e.msgId === good.msgId));
  const trace = formatTrace(await lab.po.store.journey.trace(good.msgId));
  assert.match(trace, /mta-sts\s+.*mode=enforce/);
  assert.match(trace, /delivered/);
  await lab.po.relay!.tlsReports!.flush(true);
  const mail = await waitFor('the TLS report', async () => mx.received.find((m) => m.rcpts.includes('tlsrpt@reports.test')));
  const report = tlsReport(mail.raw!);
  assert.equal(report.policies[0].summary['total-successful-session-count'], 1);
  assert.equal(report.policies[0].summary['total-failure-session-count'], 0);

  const bad = await enqueue(lab, 'me@163.test', ['them@other.test']);
  const e = await waitFor('a deferred attempt', async () => (await lab.po.store.queue.list()).find((x) => x.msgId === bad.msgId && x.attempts >= 1));
  assert.equal(e.rcpts[0].status, 'pending');
  assert.equal(mx.received.filter((m) => !m.rcpts.includes('tlsrpt@reports.test')).length, 1, 'nothing went to mx.other.test');
  const badTrace = formatTrace(await lab.po.store.journey.trace(bad.msgId));
  assert.match(badTrace, /mta-sts mx refused\s+.*mx\.other\.test/);
  assert.match(badTrace, /none of the MX hosts \(mx\.other\.test\) is named by the policy/);
});

test('our MTA-STS policy: served over HTTPS for mta-sts.DOMAIN, its id in the TXT record postoffice dns prints', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { env: { POSTOFFICE_DOMAINS: 'example.test', POSTOFFICE_MTA_STS: 'enforce', POSTOFFICE_HTTPS_PORT: '443' } });
  const get = (port: number, proto: 'http' | 'https', host: string) => new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
    void import(`node:${proto}`).then((m: typeof import('node:https')) => {
      m.get({ host: '127.0.0.1', port, path: '/.well-known/mta-sts.txt', headers: { host }, rejectUnauthorized: false }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => { body += d.toString(); });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
      }).once('error', reject);
    });
  });
  const r = await get(lab.port('https'), 'https', 'mta-sts.example.test');
  assert.equal(r.status, 200);
  assert.match(r.type, /^text\/plain/);
  assert.equal(r.body, policyText({ mode: 'enforce', mx: ['mail.example.test'], maxAge: 604800 }));
  assert.deepEqual(parsePolicy(r.body), { mode: 'enforce', mx: ['mail.example.test'], maxAge: 604800 });
  assert.equal((await get(lab.port('http'), 'http', 'mta-sts.example.test')).body, r.body, 'the HTTP listener serves it too (behind a TLS proxy)');
  assert.equal((await get(lab.port('https'), 'https', 'mta-sts.elsewhere.test')).status, 404);
  const txt = recordsFor(lab.config, 'example.test').find((x) => x.name === '_mta-sts.example.test');
  assert.equal(txt?.value, `v=STSv1; id=${policyId(r.body)}`);
  assert.ok(recordsFor(lab.config, 'example.test').some((x) => x.name === 'mta-sts.example.test' && x.type === 'CNAME'));

  // postoffice doctor: the published id must be the served policy's
  const dns = await startDns({ '_mta-sts.example.test': { TXT: [[txt!.value]] }, 'mta-sts.example.test': { A: ['127.0.0.1'] }, '_mta-sts.stale.test': { TXT: [['v=STSv1; id=old1']] } });
  t.after(() => dns.close());
  const resolver = new Resolver({ servers: [dns.server], timeoutMs: 1000 });
  const sts = async (d: string) => (await doctor(lab.config, { domains: [d], probe: null, resolver })).filter((f) => f.check === 'MTA-STS');
  assert.deepEqual((await sts('example.test')).map((f) => f.level), ['ok']);
  const stale = await sts('stale.test');
  assert.equal(stale[0].level, 'warn');
  assert.match(stale[0].message, /^_mta-sts\.stale\.test says "v=STSv1; id=old1", but our policy's id is \w+: publish "v=STSv1; id=\w+"/);
  assert.match((await sts('none.test'))[0].message, /^_mta-sts\.none\.test has no TXT record/);
});
