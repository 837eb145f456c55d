// src/relay/nodemailer-socket.ts reads nodemailer's private `_socket` (no public way reaches the
// TLS socket made on STARTTLS). If a nodemailer update changes it, this fails and says so,
// instead of the transcripts losing their TLS line and TLS reports their verdicts quietly.
// A real smtp-server with STARTTLS on 127.0.0.1 and nodemailer's real SMTP client.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { SMTPServer } from 'smtp-server';
import { NODEMAILER_INTERNALS, socketOf, tlsSocketOf } from '../../src/relay/nodemailer-socket.js';
import { makeSelfSigned } from '../../src/tls/tls.js';

const HINT = `nodemailer internals changed (${NODEMAILER_INTERNALS.join(', ')}): read src/relay/nodemailer-socket.ts against the new nodemailer source before updating the pinned version`;

test('after STARTTLS, the client\'s socket is the TLS one (protocol, cipher, verification verdict); `destroyed` is public and set on close', { timeout: 60_000 }, async (t) => {
  const { key, cert } = await makeSelfSigned('mx.remote.test');
  const server = new SMTPServer({ key, cert, logger: false, authOptional: true, disabledCommands: ['AUTH'], closeTimeout: 100 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.server.address() as AddressInfo).port;

  const conn = new SMTPConnection({ host: '127.0.0.1', port, name: 'client.test', opportunisticTLS: true, tls: { rejectUnauthorized: false }, socketCloseTimeout: 0 });
  conn.on('error', () => undefined);
  assert.equal(socketOf(conn), null, 'no socket before connect');
  await new Promise<void>((resolve, reject) => conn.connect((err) => (err ? reject(err) : resolve())));
  assert.equal(conn.secure, true, 'STARTTLS was taken');
  const sock = socketOf(conn);
  assert.ok(sock, `${HINT}: no socket after connect`);
  assert.equal(typeof sock.localPort, 'number', HINT);
  const tls = tlsSocketOf(conn);
  assert.ok(tls, `${HINT}: the socket after STARTTLS is not a TLSSocket`);
  assert.match(tls.getProtocol() ?? '', /^TLSv1\.[23]$/, HINT);
  assert.ok(tls.getCipher()?.name, HINT);
  assert.equal(tls.authorized, false, 'a self-signed certificate does not verify');
  assert.match(String(tls.authorizationError), /SELF_SIGNED|self.signed/i);

  assert.equal(conn.destroyed, false, 'nodemailer\'s public `destroyed` flag (ConnectionCache.take relies on it)');
  const ended = new Promise<void>((resolve) => conn.once('end', () => resolve()));
  conn.close();
  await ended;
  assert.equal(conn.destroyed, true, 'nodemailer\'s public `destroyed` flag is set when the connection ends');
});
