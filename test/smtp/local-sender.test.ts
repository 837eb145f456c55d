// Issue 13 part 3: our own domains cannot be spoofed on port 25 (config localSenderOnPort25).
// Before: with no SPF record published (the default, and every lab), "MAIL FROM:<ceo@example.test>"
// or a header "From: ceo@example.test" from any stranger was delivered to our users.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { generateKeyPairSync } from 'node:crypto';
import { dkimSign } from 'mailauth';
import nodemailer from 'nodemailer';
import { dkimTxt, txtStrings } from '../../src/relay/dkim.js';
import { startDns, type DnsFixture } from '../relay/dns-server.js';
import { inbox } from '../relay/util.js';
import { startLab, type Lab } from '../helpers/lab.js';
import { sendPort25 } from '../helpers/port25.js';

const USERS = { 'alice@example.test': 'alice-pw', 'bob@example.test': 'bob-pw' };

function message(from: string, subject: string): Buffer {
  return Buffer.from([`From: <${from}>`, 'To: <bob@example.test>', `Subject: ${subject}`, `Message-ID: <${subject.replace(/\W/g, '')}.${Date.now()}@test>`,
    `Date: ${new Date().toUTCString()}`, '', `body of ${subject}`, ''].join('\r\n'));
}

const send = (lab: Lab, mailFrom: string, raw: Buffer, helo = 'mx.remote.test') => sendPort25(lab, mailFrom, 'bob@example.test', raw, helo);

async function lab(t: Parameters<typeof startLab>[0], dns: DnsFixture | string | null, env: Record<string, string> = {}): Promise<Lab> {
  return startLab(t, { users: USERS, env: { ...(dns ? { POSTOFFICE_DNS_SERVERS: typeof dns === 'string' ? dns : dns.server, POSTOFFICE_INBOUND_AUTH: 'true' } : {}), ...env } });
}

/** The journey row of the newest refused transaction. */
async function lastRefusal(l: Lab): Promise<Record<string, unknown>> {
  const [newest] = await l.po.store.journey.recent({ limit: 1 });
  assert.equal(newest?.lastStep, 'refused');
  const rows = await l.po.store.journey.trace(newest.msgId);
  return rows.find((r) => r.step === 'refused')!.details;
}

test('port 25, no SPF published: MAIL FROM:<ceo@example.test> gets 550 5.7.1, a header From: <ceo@example.test> behind a foreign MAIL FROM gets 550 5.7.1 at DATA; the journey says why; bob gets nothing', { timeout: 30_000 }, async (t) => {
  const dns = await startDns({ 'remote.test': { TXT: [['v=spf1 ip4:127.0.0.1 -all']] } });
  t.after(() => dns.close());
  const l = await lab(t, dns);
  const r = await send(l, 'ceo@example.test', message('ceo@example.test', 'wire the money'));
  assert.ok(!r.ok && /^550 5\.7\.1 sender <ceo@example\.test>: example\.test is a domain of this server; mail from it is accepted on port 25 only from hosts its SPF record permits/.test(r.response), JSON.stringify(r));
  const why = await lastRefusal(l);
  assert.equal(why.mailFrom, 'ceo@example.test');
  assert.equal(why.spf, 'none');
  assert.match(String(why.why), /localSenderOnPort25/);
  // the envelope is the attacker's own (SPF passes for remote.test), the header claims our CEO
  const r2 = await send(l, 'x@remote.test', message('ceo@example.test', 'wire the money, header only'));
  assert.ok(!r2.ok && /^550 5\.7\.1 header From <ceo@example\.test>: example\.test is a domain of this server/.test(r2.response), JSON.stringify(r2));
  const why2 = await lastRefusal(l);
  assert.equal(why2.headerFrom, 'ceo@example.test');
  assert.equal(why2.cmd, 'DATA');
  assert.equal((await inbox(l.po.store, 'bob@example.test')).length, 0);
  // ordinary mail from elsewhere still arrives, and a bounce (null sender) too
  assert.ok((await send(l, 'x@remote.test', message('x@remote.test', 'hello bob'))).ok);
  assert.ok((await send(l, '', message('mailer-daemon@remote.test', 'undeliverable'))).ok);
  assert.equal((await inbox(l.po.store, 'bob@example.test')).length, 2);
});

test('SPF passes for example.test (ip4:127.0.0.1): a second server of our own domain is accepted on port 25, MAIL FROM and header From alike; SPF -all fail keeps its 550 5.7.23', { timeout: 30_000 }, async (t) => {
  const ok = await startDns({ 'example.test': { TXT: [['v=spf1 ip4:127.0.0.1 -all']] } });
  t.after(() => ok.close());
  const l = await lab(t, ok);
  const r = await send(l, 'alice@example.test', message('alice@example.test', 'from our other server'));
  assert.ok(r.ok, JSON.stringify(r));
  // a foreign envelope whose header From is ours: SPF for the From: domain itself passes for this client
  const r2 = await send(l, 'list@remote.test', message('alice@example.test', 'through a list on our server'));
  assert.ok(r2.ok, JSON.stringify(r2));
  assert.equal((await inbox(l.po.store, 'bob@example.test')).length, 2);

  const fail = await startDns({ 'example.test': { TXT: [['v=spf1 ip4:192.0.2.1 -all']] } });
  t.after(() => fail.close());
  const l2 = await lab(t, fail);
  const r3 = await send(l2, 'alice@example.test', message('alice@example.test', 'forged'));
  assert.ok(!r3.ok && /^550 5\.7\.23 SPF validation failed: this host may not send mail from example\.test/.test(r3.response), JSON.stringify(r3));
});

test('our own DKIM signature verifies: mail of ours forwarded back to us (foreign envelope, From: alice@example.test, d=example.test) is accepted; a tampered copy is not', { timeout: 30_000 }, async (t) => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const dns = await startDns({ 'postoffice._domainkey.example.test': { TXT: [txtStrings(dkimTxt(privateKey))] }, 'remote.test': { TXT: [['v=spf1 ip4:127.0.0.1 -all']] } });
  t.after(() => dns.close());
  const l = await lab(t, dns);
  const plain = message('alice@example.test', 'forwarded back');
  const signed = (await dkimSign(plain, { signatureData: [{ signingDomain: 'example.test', selector: 'postoffice', privateKey }] } as unknown as Parameters<typeof dkimSign>[1])) as unknown as { signatures: string };
  const r = await send(l, 'fwd@remote.test', Buffer.concat([Buffer.from(signed.signatures), plain]));
  assert.ok(r.ok, JSON.stringify(r));
  const tampered = Buffer.concat([Buffer.from(signed.signatures), Buffer.from(plain.toString('latin1').replace('body of', 'PAY NOW, body of'), 'latin1')]);
  const r2 = await send(l, 'fwd@remote.test', tampered);
  assert.ok(!r2.ok && /^550 5\.7\.1 header From <alice@example\.test>/.test(r2.response), JSON.stringify(r2));
});

test('DNS out of reach: a local sender gets 451 4.4.3 (RFC 7208 §8.6: try later), not 550; inboundAuth off: 550 5.7.1 (nothing can pass)', { timeout: 30_000 }, async (t) => {
  const silent = dgram.createSocket('udp4');
  await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
  t.after(() => silent.close());
  const l = await lab(t, `127.0.0.1:${(silent.address() as AddressInfo).port}`, { POSTOFFICE_INBOUND_AUTH_TIMEOUT_MS: '300' });
  const r = await send(l, 'alice@example.test', message('alice@example.test', 'offline'));
  assert.ok(!r.ok && /^451 4\.4\.3 sender <alice@example\.test>: cannot check the SPF record of example\.test now; try again later/.test(r.response), JSON.stringify(r));
  const off = await lab(t, null);
  const r2 = await send(off, 'alice@example.test', message('alice@example.test', 'no checks'));
  assert.ok(!r2.ok && /^550 5\.7\.1 /.test(r2.response), JSON.stringify(r2));
});

test('localSenderOnPort25=spf keeps the behaviour before (accepted without SPF), allow accepts; submission on 465 is untouched', { timeout: 30_000 }, async (t) => {
  for (const mode of ['spf', 'allow']) {
    const l = await lab(t, null, { POSTOFFICE_LOCAL_SENDER_ON_PORT25: mode });
    const r = await send(l, 'ceo@example.test', message('ceo@example.test', `mode ${mode}`));
    assert.ok(r.ok, `${mode}: ${JSON.stringify(r)}`);
  }
  const l = await lab(t, null);
  const tr = nodemailer.createTransport({ host: '127.0.0.1', port: l.port('smtps'), secure: true, tls: { rejectUnauthorized: false }, auth: { user: 'alice@example.test', pass: 'alice-pw' } });
  t.after(() => tr.close());
  const info = await tr.sendMail({ envelope: { from: 'alice@example.test', to: ['bob@example.test'] }, raw: message('alice@example.test', 'submitted') });
  assert.match(info.response, /^250 /);
});

test('a bad value of localSenderOnPort25 is a one-line config error', async () => {
  await assert.rejects(startLab(null, { env: { POSTOFFICE_LOCAL_SENDER_ON_PORT25: 'maybe' } }), /invalid config: localSenderOnPort25 \(POSTOFFICE_LOCAL_SENDER_ON_PORT25\): expected reject, spf or allow, got "maybe"/);
});
