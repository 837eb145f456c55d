// Port 25 under attack: SPF (RFC 7208), DKIM (RFC 6376), DMARC (RFC 7489) checked against a real
// DNS server on loopback; verdicts in Authentication-Results (RFC 8601); DNS down never loses mail.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { generateKeyPairSync } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { dkimSign } from 'mailauth';
import { dkimTxt, txtStrings } from '../../src/relay/dkim.js';
import { startDns, type DnsFixture } from '../relay/dns-server.js';
import { inbox } from '../relay/util.js';
import { startLab, type Lab } from '../helpers/lab.js';
import { sendPort25 } from '../helpers/port25.js';

const USERS = { 'alice@example.test': 'alice-pw' };
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });

function zones(): Parameters<typeof startDns>[0] {
  return {
    // a well-run sender: SPF allows 127.0.0.1, DKIM key published, DMARC p=reject
    'sender.test': { TXT: [['v=spf1 ip4:127.0.0.1 -all']] },
    'sel._domainkey.sender.test': { TXT: [txtStrings(dkimTxt(privateKey))] },
    '_dmarc.sender.test': { TXT: [['v=DMARC1; p=reject']] },
    // our own domain: only 192.0.2.1 may send for it
    'example.test': { TXT: [['v=spf1 ip4:192.0.2.1 -all']] },
    // a bank with p=reject, and an attacker whose own SPF passes (but is not aligned with the bank)
    'bank.test': { TXT: [['v=spf1 ip4:192.0.2.7 -all']] },
    '_dmarc.bank.test': { TXT: [['v=DMARC1; p=reject']] },
    'evil.test': { TXT: [['v=spf1 ip4:127.0.0.1 -all']] },
    // a shop that asks for failing mail to be quarantined
    'shop.test': { TXT: [['v=spf1 ip4:192.0.2.9 -all']] },
    '_dmarc.shop.test': { TXT: [['v=DMARC1; p=quarantine']] },
  };
}

/** RFC 6376: sign as sender.test, selector "sel" (mailauth's types miss the signatureData form) */
function sign(raw: Buffer): Promise<{ signatures: string; errors: unknown[] }> {
  return dkimSign(raw, { signatureData: [{ signingDomain: 'sender.test', selector: 'sel', privateKey }] } as unknown as Parameters<typeof dkimSign>[1]) as Promise<{ signatures: string; errors: unknown[] }>;
}

function message(from: string, subject: string, extra = ''): Buffer {
  return Buffer.from([
    `From: <${from}>`, 'To: <alice@example.test>', `Subject: ${subject}`, `Message-ID: <${subject.replace(/\W/g, '')}.${Date.now()}@test>`,
    `Date: ${new Date().toUTCString()}`, ...(extra ? [extra] : []), '', `body of ${subject}`, '',
  ].join('\r\n'));
}

const send = (lab: Lab, mailFrom: string, raw: Buffer, helo = 'mx.sender.test') => sendPort25(lab, mailFrom, 'alice@example.test', raw, helo);

function head(raw: Buffer): string {
  return raw.subarray(0, raw.indexOf('\r\n\r\n')).toString('latin1');
}

async function lab(t: Parameters<typeof startLab>[0], dns: DnsFixture | string, env: Record<string, string> = {}): Promise<Lab> {
  return startLab(t, { users: USERS, env: { POSTOFFICE_DNS_SERVERS: typeof dns === 'string' ? dns : dns.server, POSTOFFICE_INBOUND_AUTH: 'true', ...env } });
}

test('SPF, DKIM and DMARC pass: Authentication-Results under our Received:, verdicts in the journey; forged results removed', { timeout: 20_000 }, async (t) => {
  const dns = await startDns(zones());
  t.after(() => dns.close());
  const l = await lab(t, dns);
  const forged = 'Authentication-Results: mail.example.test; spf=pass; dkim=pass; dmarc=pass (forged by the sender)';
  const plain = message('news@sender.test', 'signed news', forged);
  const signed = await sign(plain);
  assert.deepEqual(signed.errors, []);
  const r = await send(l, 'bounces@sender.test', Buffer.concat([Buffer.from(signed.signatures), plain]));
  assert.ok(r.ok, JSON.stringify(r));
  const [stored] = await inbox(l.po.store, 'alice@example.test');
  const h = head(stored);
  // RFC 8601 §2.2: authserv-id, then the results; ours sits beside our Received:
  const ar = /^Authentication-Results: mail\.example\.test;[^]*?(?=\r\n\S)/m.exec(h)?.[0] ?? '';
  assert.match(ar, /spf=pass/);
  assert.match(ar, /dkim=pass[^;]*header\.(i|d)=@?sender\.test/);
  assert.match(ar, /dmarc=pass/);
  assert.match(h, /^Return-Path: <bounces@sender\.test>\r\nReceived: from mx\.sender\.test[^]*?\r\nAuthentication-Results: mail\.example\.test;/);
  assert.equal(h.match(/^Authentication-Results:/gm)?.length, 1, 'the forged Authentication-Results is gone');
  assert.doesNotMatch(h, /forged by the sender/);
  // the journey holds the verdicts
  const msgId = /queued as (\S+)/.exec(r.response)![1];
  const rows = await l.po.store.journey.trace(msgId);
  const received = rows.find((e) => e.agent === 'MTA in' && e.step === 'received');
  assert.deepEqual((received?.details.auth as Record<string, unknown>) && { spf: (received!.details.auth as Record<string, unknown>).spf, dkim: (received!.details.auth as Record<string, unknown>).dkim, dmarc: (received!.details.auth as Record<string, unknown>).dmarc },
    { spf: 'pass', dkim: 'pass', dmarc: 'pass' });
});

test('a stranger claiming one of our domains (SPF -all fails) is refused 550 5.7.23', { timeout: 20_000 }, async (t) => {
  const dns = await startDns(zones());
  t.after(() => dns.close());
  const l = await lab(t, dns);
  const r = await send(l, 'ceo@example.test', message('ceo@example.test', 'wire the money'), 'evil.test');
  assert.equal(r.ok, false);
  assert.ok(!r.ok && r.code === 550 && /^550 5\.7\.23 /.test(r.response), JSON.stringify(r));
  assert.equal((await inbox(l.po.store, 'alice@example.test')).length, 0);
  // the switches turn it off: then it is only recorded (localSenderOnPort25=spf is the behaviour
  // before issue 13; the default, reject, refuses a local sender SPF does not pass whatever the switch)
  const off = await lab(t, dns, { POSTOFFICE_SPF_REJECT_LOCAL_DOMAINS: 'false', POSTOFFICE_DMARC_REJECT: 'false', POSTOFFICE_LOCAL_SENDER_ON_PORT25: 'spf' });
  const r2 = await send(off, 'ceo@example.test', message('ceo@example.test', 'wire the money again'), 'evil.test');
  assert.ok(r2.ok, JSON.stringify(r2));
  assert.match(head((await inbox(off.po.store, 'alice@example.test'))[0]), /spf=fail/);
});

test('DMARC p=reject: From: a bank, SPF passing only for the attacker\'s own domain -> 550 5.7.1', { timeout: 20_000 }, async (t) => {
  const dns = await startDns(zones());
  t.after(() => dns.close());
  const l = await lab(t, dns);
  const r = await send(l, 'phish@evil.test', message('security@bank.test', 'verify your account'), 'evil.test');
  assert.ok(!r.ok && r.code === 550 && /^550 5\.7\.1 .*DMARC/.test(r.response), JSON.stringify(r));
  // a DKIM signature by the attacker's domain does not align with the bank either
  const plain = message('security@bank.test', 'verify your account, signed');
  const signed = await sign(plain);
  const r2 = await send(l, 'phish@evil.test', Buffer.concat([Buffer.from(signed.signatures), plain]), 'evil.test');
  assert.ok(!r2.ok && r2.code === 550, JSON.stringify(r2));
  assert.equal((await inbox(l.po.store, 'alice@example.test')).length, 0);
  // a tampered body breaks the sender's DKIM; with SPF not covering the host (HELO/MAIL FROM of bank) DMARC fails
  const good = message('news@sender.test', 'tampered');
  const sig = await sign(good);
  const tampered = Buffer.concat([Buffer.from(sig.signatures), Buffer.from(good.toString('latin1').replace('body of', 'PAY NOW, body of'), 'latin1')]);
  const r3 = await send(l, 'phish@bank.test', tampered, 'evil.test');
  assert.ok(!r3.ok && r3.code === 550 && /DMARC/.test(r3.response), JSON.stringify(r3));
});

test('DNS down: mail is accepted with temperror, fast, and still carries Authentication-Results', { timeout: 20_000 }, async (t) => {
  // a resolver that never answers
  const silent = dgram.createSocket('udp4');
  await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
  t.after(() => silent.close());
  // localSenderOnPort25=spf: with the default (reject) a local sender whose SPF cannot be checked
  // gets 451 4.4.3 (deferred, not dropped): test/smtp/local-sender.test.ts
  const l = await lab(t, `127.0.0.1:${(silent.address() as AddressInfo).port}`, { POSTOFFICE_INBOUND_AUTH_TIMEOUT_MS: '500', POSTOFFICE_LOCAL_SENDER_ON_PORT25: 'spf' });
  let started = Date.now();
  // even one claiming our own domain: a DNS failure is never a reason to drop mail
  const r = await send(l, 'bob@example.test', message('bob@example.test', 'offline lab'));
  assert.ok(r.ok, JSON.stringify(r));
  assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
  const h = head((await inbox(l.po.store, 'alice@example.test'))[0]);
  assert.match(h, /^Authentication-Results: mail\.example\.test;[^]*spf=temperror/m);
  // the resolver is now known to be out of reach: the next message does not wait at all
  started = Date.now();
  const r2 = await send(l, 'news@sender.test', message('news@sender.test', 'offline lab 2'));
  assert.ok(r2.ok, JSON.stringify(r2));
  assert.ok(Date.now() - started < 400, `second message took ${Date.now() - started} ms`);
});

test('a sender whose own DNS is silent gets temperror but cannot switch the checks off for the next spoof', { timeout: 20_000 }, async (t) => {
  const dns = await startDns({ ...zones(), 'ghost.test': { silent: true }, '_dmarc.ghost.test': { silent: true } });
  t.after(() => dns.close());
  const l = await lab(t, dns, { POSTOFFICE_INBOUND_AUTH_TIMEOUT_MS: '500' });
  const r = await send(l, 'x@ghost.test', message('x@ghost.test', 'silent dns'), 'ghost.test');
  assert.ok(r.ok, JSON.stringify(r));
  assert.match(head((await inbox(l.po.store, 'alice@example.test'))[0]), /spf=temperror/);
  // our resolver did answer about our own domain, so the very next spoof is still checked and refused
  const r2 = await send(l, 'ceo@example.test', message('ceo@example.test', 'wire the money'), 'ghost.test');
  assert.ok(!r2.ok && /^550 5\.7\.23 /.test(r2.response), JSON.stringify(r2));
});

test('a bounce (MAIL FROM:<>) is checked as postmaster@HELO, never by a Return-Path: it carries', { timeout: 20_000 }, async (t) => {
  const dns = await startDns(zones());
  t.after(() => dns.close());
  const l = await lab(t, dns);
  const r = await send(l, '', message('mailer-daemon@evil.test', 'undeliverable', 'Return-Path: <ceo@example.test>'), 'evil.test');
  assert.ok(r.ok, JSON.stringify(r));
  const h = head((await inbox(l.po.store, 'alice@example.test'))[0]);
  assert.match(h, /spf=pass[^;]*smtp\.mailfrom=postmaster@evil\.test/);
});

test('inboundAuth off: no checks, no header', { timeout: 20_000 }, async (t) => {
  const dns = await startDns(zones());
  t.after(() => dns.close());
  // localSenderOnPort25=spf: with the default a local sender is refused when SPF cannot pass (no checks: never)
  const l = await lab(t, dns, { POSTOFFICE_INBOUND_AUTH: 'off', POSTOFFICE_LOCAL_SENDER_ON_PORT25: 'spf' });
  const r = await send(l, 'ceo@example.test', message('ceo@example.test', 'unchecked'), 'evil.test');
  assert.ok(r.ok, JSON.stringify(r));
  assert.doesNotMatch(head((await inbox(l.po.store, 'alice@example.test'))[0]), /Authentication-Results/);
  assert.equal(dns.queries.length, 0);
});

test('DMARC p=quarantine: accepted, filed into the recipient\'s Junk (whatever it is called now); p=reject not refused goes there too', { timeout: 30_000 }, async (t) => {
  const dns = await startDns(zones());
  t.after(() => dns.close());
  const l = await lab(t, dns);
  const alice = (await l.po.store.users.get('alice@example.test'))!;
  // the user renamed Junk: the special use still finds it
  await l.po.store.mailboxes.rename(alice.id, 'Junk', 'Spam');
  const r = await send(l, 'deals@evil.test', message('deals@shop.test', 'cheap watches'), 'evil.test');
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal((await inbox(l.po.store, 'alice@example.test')).length, 0, 'not in INBOX');
  const spam = await inbox(l.po.store, 'alice@example.test', 'Spam');
  assert.equal(spam.length, 1);
  assert.match(head(spam[0]), /dmarc=fail/);
  const id = /queued as (\S+)/.exec(r.response)![1];
  const trace = await l.po.store.journey.trace(id);
  assert.equal(trace.find((e) => e.step === 'received')!.details.quarantined, 'DMARC');
  assert.equal(trace.find((e) => e.step === 'stored')!.details.mailbox, 'Spam');
  // a mail that passes still goes to INBOX
  const plain = message('news@sender.test', 'newsletter');
  const signed = await sign(plain);
  assert.ok((await send(l, 'news@sender.test', Buffer.concat([Buffer.from(signed.signatures), plain]))).ok);
  assert.equal((await inbox(l.po.store, 'alice@example.test')).length, 1);

  // refusals off: p=reject is quarantined instead; quarantine off: INBOX
  const noReject = await lab(t, dns, { POSTOFFICE_DMARC_REJECT: 'false' });
  assert.ok((await send(noReject, 'phish@evil.test', message('security@bank.test', 'verify'), 'evil.test')).ok);
  assert.equal((await inbox(noReject.po.store, 'alice@example.test', 'Junk')).length, 1);
  const off = await lab(t, dns, { POSTOFFICE_DMARC_QUARANTINE: 'false' });
  assert.ok((await send(off, 'deals@evil.test', message('deals@shop.test', 'cheap watches again'), 'evil.test')).ok);
  assert.equal((await inbox(off.po.store, 'alice@example.test')).length, 1);
  assert.equal((await inbox(off.po.store, 'alice@example.test', 'Junk')).length, 0);
});
