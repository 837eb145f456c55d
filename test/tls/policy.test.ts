// TLS_POLICY on all seven TLS listeners, checked with Node's own client (so it holds even where
// testssl.sh is not installed): TLS 1.2 suites are ECDHE + AEAD only, and a client's request to
// renegotiate is refused (RFC 5746 secure renegotiation is signalled, but never carried out).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import tls from 'node:tls';
import type { Ports } from '../../src/config/config.js';
import { startLab, type Lab } from '../helpers/lab.js';

const LISTENERS: { name: keyof Ports; starttls?: 'smtp' | 'imap' | 'pop3' }[] = [
  { name: 'smtps' }, { name: 'imaps' }, { name: 'pop3s' },
  { name: 'smtp', starttls: 'smtp' }, { name: 'submission', starttls: 'smtp' },
  { name: 'imap', starttls: 'imap' }, { name: 'pop3', starttls: 'pop3' },
];

/** Read from a plain socket until re matches what came since the last call. */
function until(sock: net.Socket, re: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => { cleanup(); reject(new Error(`timed out waiting for ${re}, got ${JSON.stringify(buf)}`)); }, 10_000);
    const onData = (d: Buffer) => { buf += d.toString('latin1'); if (re.test(buf)) { cleanup(); resolve(); } };
    const onClose = () => { cleanup(); reject(new Error(`closed while waiting for ${re}, got ${JSON.stringify(buf)}`)); };
    const cleanup = () => { clearTimeout(timer); sock.off('data', onData); sock.off('close', onClose); };
    sock.on('data', onData);
    sock.once('close', onClose);
  });
}

/** A TLS 1.2 connection to a listener, through its STARTTLS dialogue where it has one (RFC 3207, RFC 3501 §6.2.1, RFC 2595 §4). */
async function connect(lab: Lab, l: (typeof LISTENERS)[number], opts: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  const base = { rejectUnauthorized: false, minVersion: 'TLSv1.2' as const, maxVersion: 'TLSv1.2' as const, ...opts };
  let socket: net.Socket | undefined;
  if (l.starttls) {
    socket = net.connect({ host: '127.0.0.1', port: lab.port(l.name) });
    await once(socket, 'connect');
    if (l.starttls === 'smtp') {
      await until(socket, /^220 .*\r\n/m);
      socket.write('EHLO client.example.test\r\n');
      await until(socket, /^250 .*\r\n/m);
      socket.write('STARTTLS\r\n');
      await until(socket, /^220 .*\r\n/m);
    } else if (l.starttls === 'imap') {
      await until(socket, /^\* OK .*\r\n/m);
      socket.write('a STARTTLS\r\n');
      await until(socket, /^a OK .*\r\n/m);
    } else {
      await until(socket, /^\+OK.*\r\n/m);
      socket.write('STLS\r\n');
      await until(socket, /^\+OK.*\r\n/m);
    }
  }
  const s = socket
    ? tls.connect({ ...base, socket })
    : tls.connect({ ...base, host: '127.0.0.1', port: lab.port(l.name) });
  await new Promise<void>((resolve, reject) => {
    s.once('secureConnect', () => { s.off('error', reject); resolve(); });
    s.once('error', reject);
  });
  return s;
}

test('TLS 1.2: only ECDHE with AEAD suites are accepted, on every TLS listener', async (t) => {
  const lab = await startLab(t);
  for (const l of LISTENERS) {
    // Mozilla "old"-profile suites a CBC-era client would offer: CBC with ECDHE, and static-RSA key exchange
    for (const ciphers of ['ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA384', 'AES128-GCM-SHA256:AES256-SHA', 'DHE-RSA-AES128-GCM-SHA256']) {
      await assert.rejects(connect(lab, l, { ciphers }), /handshake failure|no shared cipher|alert/i, `${l.name} accepted ${ciphers}`);
    }
    const s = await connect(lab, l, {});
    const c = s.getCipher();
    s.destroy();
    assert.match(c.name, /^ECDHE-(RSA|ECDSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/, `${l.name}: ${c.name}`);
  }
});

test('a client-initiated renegotiation is refused on every TLS listener', async (t) => {
  const lab = await startLab(t);
  for (const l of LISTENERS) {
    const s = await connect(lab, l, {});
    // the server's no_renegotiation alert surfaces as an 'error' on the client; a renegotiation
    // carried out would call back without one
    const outcome = await new Promise<Error | null>((resolve) => {
      s.once('error', resolve);
      if (!s.renegotiate({ rejectUnauthorized: false }, (err) => resolve(err ?? null))) resolve(new Error('renegotiate() refused locally'));
    });
    s.destroy();
    assert.ok(outcome, `${l.name}: the renegotiation was carried out`);
    assert.equal((outcome as NodeJS.ErrnoException).code, 'ERR_SSL_NO_RENEGOTIATION', `${l.name}: ${outcome.message}`);
  }
});
