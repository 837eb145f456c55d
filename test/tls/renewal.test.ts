// The self-signed certificate lives about a year and is renewed before it ends: at start when
// it is due (or was issued for 10 years by an earlier version), and by the daily check while the
// server runs, swapped in on every listener without dropping open connections. Each renewal is
// a warning naming the old and the new SHA-256 fingerprint (mail clients pin them).
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import tls from 'node:tls';
import { pino } from 'pino';
import type { Ports } from '../../src/config/config.js';
import { makeSelfSigned, type Renewal } from '../../src/tls/tls.js';
import { lineReader, startLab } from '../helpers/lab.js';

const DAY_MS = 86_400_000;

/** A pino logger whose lines the test reads back. */
function capturingLog() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info', base: undefined }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); } });
  return { log, lines, warnings: () => lines.filter((l) => l.level === 40) };
}

/** Implicit TLS: the certificate the listener presents, and the open socket. */
function implicit(port: number): Promise<{ sock: tls.TLSSocket; fingerprint: string; cert: X509Certificate }> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const cert = sock.getPeerX509Certificate()!;
      resolve({ sock, fingerprint: cert.fingerprint256, cert });
    });
    sock.once('error', reject);
  });
}

/** Read from a plain socket until re matches what came since the last call (the STARTTLS dialogue). */
function until(sock: net.Socket, re: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => { cleanup(); reject(new Error(`timed out waiting for ${re}, got ${JSON.stringify(buf)}`)); }, 10_000);
    const onData = (d: Buffer) => { buf += d.toString('latin1'); if (re.test(buf)) { cleanup(); resolve(buf); } };
    const onClose = () => { cleanup(); reject(new Error(`closed while waiting for ${re}, got ${JSON.stringify(buf)}`)); };
    const cleanup = () => { clearTimeout(timer); sock.off('data', onData); sock.off('close', onClose); };
    sock.on('data', onData);
    sock.once('close', onClose);
  });
}

/** RFC 3207 STARTTLS (SMTP), RFC 3501 §6.2.1 STARTTLS (IMAP), RFC 2595 §4 STLS (POP3): the certificate after the upgrade. */
async function upgraded(port: number, proto: 'smtp' | 'imap' | 'pop3'): Promise<string> {
  const sock = net.connect({ host: '127.0.0.1', port });
  await once(sock, 'connect');
  if (proto === 'smtp') {
    await until(sock, /^220 .*\r\n/m);
    sock.write('EHLO client.example.test\r\n');
    await until(sock, /^250 .*\r\n/m);
    sock.write('STARTTLS\r\n');
    await until(sock, /^220 .*\r\n/m);
  } else if (proto === 'imap') {
    await until(sock, /^\* OK .*\r\n/m);
    sock.write('a STARTTLS\r\n');
    await until(sock, /^a OK .*\r\n/m);
  } else {
    await until(sock, /^\+OK.*\r\n/m);
    sock.write('STLS\r\n');
    await until(sock, /^\+OK.*\r\n/m);
  }
  const secure = tls.connect({ socket: sock, rejectUnauthorized: false, servername: 'localhost' });
  await once(secure, 'secureConnect');
  const fp = secure.getPeerX509Certificate()!.fingerprint256;
  secure.destroy();
  return fp;
}

test('a new self-signed certificate is valid for at most 397 days', async (t) => {
  const lab = await startLab(t);
  const { sock, cert } = await implicit(lab.port('imaps'));
  sock.destroy();
  const days = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / DAY_MS;
  assert.ok(days > 396 && days <= 397.01, `issued for ${days} days`);
});

for (const c of [
  { name: 'with fewer than 30 days left', days: 10, reason: /^expires on .*fewer than 30 days/ },
  { name: 'issued for 10 years by an earlier version', days: 3650, reason: /^issued for 3650 days, more than 397/ },
  { name: 'that has expired', days: -1, reason: /^expired on / },
]) {
  test(`at start, a self-signed certificate ${c.name} is renewed, with a warning naming both fingerprints`, async (t) => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-renew-'));
    mkdirSync(path.join(dataDir, 'tls'));
    const old = await makeSelfSigned('mail.example.test', c.days);
    writeFileSync(path.join(dataDir, 'tls', 'key.pem'), old.key);
    writeFileSync(path.join(dataDir, 'tls', 'cert.pem'), old.cert);
    const oldFp = new X509Certificate(old.cert).fingerprint256;
    const { log, warnings } = capturingLog();
    const lab = await startLab(t, { dataDir, log });

    const { sock, fingerprint, cert } = await implicit(lab.port('pop3s'));
    sock.destroy();
    assert.notEqual(fingerprint, oldFp, 'the listener presents the renewed certificate');
    assert.ok(Date.parse(cert.validTo) - Date.now() > 396 * DAY_MS);
    assert.equal(new X509Certificate(readFileSync(path.join(dataDir, 'tls', 'cert.pem'))).fingerprint256, fingerprint, 'and it is kept in the data dir');
    const w = warnings().find((l) => l.oldFingerprint === oldFp);
    assert.ok(w, `a warning with the old fingerprint; got ${JSON.stringify(warnings())}`);
    assert.equal(w.newFingerprint, fingerprint);
    assert.match(String(w.reason), c.reason);
    assert.match(String(w.msg), new RegExp(`${oldFp} -> ${fingerprint}`));
  });
}

test('an operator certificate close to its end is only warned about, never replaced', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-renew-'));
  const m = await makeSelfSigned('mail.operator.test', 10);
  writeFileSync(path.join(dir, 'cert.pem'), m.cert);
  writeFileSync(path.join(dir, 'key.pem'), m.key);
  const { log, warnings } = capturingLog();
  const lab = await startLab(t, { log, env: { POSTOFFICE_TLS_CERT: path.join(dir, 'cert.pem'), POSTOFFICE_TLS_KEY: path.join(dir, 'key.pem') } });
  const { sock, fingerprint } = await implicit(lab.port('smtps'));
  sock.destroy();
  assert.equal(fingerprint, new X509Certificate(m.cert).fingerprint256);
  assert.equal(await lab.po.tls.renewIfDue(), false);
  assert.ok(warnings().some((l) => /POSTOFFICE_TLS_CERT\) expires on /.test(String(l.msg))), JSON.stringify(warnings()));
  assert.equal(readFileSync(path.join(dir, 'cert.pem'), 'utf8'), m.cert);
});

test('while running, a due certificate is renewed by the periodic check and every listener swaps it in; open connections stay up', async (t) => {
  const { log, warnings } = capturingLog();
  // a short-lived certificate: valid 40 s, due when fewer than 30 s remain, checked every 200 ms
  const lab = await startLab(t, { log, start: { tls: { validityDays: 40 / 86_400, renewBeforeDays: 30 / 86_400, checkEveryMs: 200 } } });
  const renewed = once(lab.po.tls, 'renewed') as Promise<[Renewal]>;
  const first = await implicit(lab.port('imaps'));
  const firstReader = lineReader(first.sock);
  assert.match(await firstReader.next(), /^\* OK /);
  const smtps = await implicit(lab.port('smtps'));
  const smtpsReader = lineReader(smtps.sock);
  assert.match(await smtpsReader.next(), /^220 /);

  const [r] = await renewed;
  lab.po.tls.close(); // one renewal is enough: stop the checks (the listeners keep the new context)
  assert.equal(r.oldFingerprint, first.fingerprint, 'the connections above were made with the first certificate');
  assert.notEqual(r.newFingerprint, r.oldFingerprint);
  assert.equal(lab.po.tls.info().fingerprint, r.newFingerprint);

  // every listener, implicit TLS and STARTTLS, hands out the new certificate
  const seen: Partial<Record<keyof Ports, string>> = {};
  for (const name of ['smtps', 'imaps', 'pop3s'] as const) {
    const c = await implicit(lab.port(name));
    c.sock.destroy();
    seen[name] = c.fingerprint;
  }
  seen.smtp = await upgraded(lab.port('smtp'), 'smtp');
  seen.submission = await upgraded(lab.port('submission'), 'smtp');
  seen.imap = await upgraded(lab.port('imap'), 'imap');
  seen.pop3 = await upgraded(lab.port('pop3'), 'pop3');
  for (const [name, fp] of Object.entries(seen)) assert.equal(fp, r.newFingerprint, `${name} presents the renewed certificate`);

  // the connections opened before the renewal still answer
  first.sock.write('a NOOP\r\n');
  assert.match(await firstReader.next(), /^a OK /);
  smtps.sock.write('NOOP\r\n');
  assert.match(await smtpsReader.next(), /^250 /);
  first.sock.destroy();
  smtps.sock.destroy();

  const w = warnings().find((l) => l.newFingerprint === r.newFingerprint);
  assert.ok(w, JSON.stringify(warnings()));
  assert.equal(w.oldFingerprint, r.oldFingerprint);
  assert.equal(w.when, 'scheduled check');
});
