// TLS: a self-signed certificate made once and reused; operator certificates reloaded on change
// and on SIGHUP without dropping connections.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import tls from 'node:tls';
import { makeSelfSigned } from '../../src/tls/tls.js';
import { startLab } from '../helpers/lab.js';

function peerCert(port: number): Promise<{ sock: tls.TLSSocket; cn: string; protocol: string | null }> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve({ sock, cn: String(sock.getPeerCertificate().subject.CN), protocol: sock.getProtocol() });
    });
    sock.once('error', reject);
  });
}

test('first start makes a self-signed certificate (SAN hostname + localhost) and reuses it', async (t) => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-tls-'));
  const lab = await startLab(null, { dataDir, env: { POSTOFFICE_HOSTNAME: 'mail.lab.test' } });
  const pem = readFileSync(path.join(dataDir, 'tls', 'cert.pem'), 'utf8');
  const x = new X509Certificate(pem);
  assert.match(x.subjectAltName ?? '', /DNS:mail\.lab\.test/);
  assert.match(x.subjectAltName ?? '', /DNS:localhost/);
  const { sock, cn, protocol } = await peerCert(lab.port('smtps'));
  sock.destroy();
  assert.equal(cn, 'mail.lab.test');
  assert.match(protocol ?? '', /^TLSv1\.[23]$/);
  await lab.close();
  const again = await startLab(t, { dataDir });
  assert.equal(readFileSync(path.join(dataDir, 'tls', 'cert.pem'), 'utf8'), pem, 'the certificate is reused');
  await again.close();
});

test('TLS 1.0 and 1.1 are refused', async (t) => {
  const lab = await startLab(t);
  await assert.rejects(new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: lab.port('smtps'), rejectUnauthorized: false, maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }, () => resolve(s));
    s.once('error', reject);
  }));
});

test('POSTOFFICE_TLS_CERT/_KEY: reloaded when the files change and on SIGHUP, open connections stay up', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-tls-'));
  const cert = path.join(dir, 'fullchain.pem');
  const key = path.join(dir, 'privkey.pem');
  const a = await makeSelfSigned('first.example.test');
  writeFileSync(cert, a.cert); writeFileSync(key, a.key);
  const lab = await startLab(t, { env: { POSTOFFICE_TLS_CERT: cert, POSTOFFICE_TLS_KEY: key } });
  const first = await peerCert(lab.port('smtps'));
  assert.equal(first.cn, 'first.example.test');

  // an ACME client renews: new files renamed into place
  const b = await makeSelfSigned('second.example.test');
  writeFileSync(cert + '.new', b.cert); writeFileSync(key + '.new', b.key);
  renameSync(key + '.new', key); renameSync(cert + '.new', cert);
  const t0 = Date.now();
  let cn = '';
  while (Date.now() - t0 < 10_000) {
    const c = await peerCert(lab.port('smtps'));
    cn = c.cn;
    c.sock.destroy();
    if (cn === 'second.example.test') break;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.equal(cn, 'second.example.test', 'the renewed certificate is picked up without a restart');
  // SIGHUP path: the same reload, on demand
  writeFileSync(cert, a.cert); writeFileSync(key, a.key);
  lab.po.tls.reload('SIGHUP');
  const third = await peerCert(lab.port('smtps'));
  assert.equal(third.cn, 'first.example.test');
  third.sock.destroy();
  // the connection opened before both reloads still works
  const line = await new Promise<string>((resolve) => { first.sock.once('data', (d) => resolve(String(d))); first.sock.write('NOOP\r\n'); });
  assert.match(line, /^220 |^250 /);
  first.sock.destroy();
});
