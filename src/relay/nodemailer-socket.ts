// The one thing the relay reads from inside nodemailer's SMTP client: its socket. nodemailer has no
// public way to reach the TLS socket it makes on STARTTLS, and the relay needs it for the
// transcript's TLS line (protocol, cipher), our local address, and RFC 8460 TLS reports (whether
// the MX certificate verified, and why not). Whether a connection is still usable is nodemailer's
// public `destroyed` flag.
//
// test/relay/library-internals.test.ts fails, naming `_socket`, if an update changes this;
// package.json pins the version this was written against (10.6.0).
import type net from 'node:net';
import type { TLSSocket } from 'node:tls';
import type SMTPConnection from 'nodemailer/lib/smtp-connection';

/** The member of nodemailer's SMTPConnection read here (not public API). */
export const NODEMAILER_INTERNALS = ['_socket'] as const;

/** The client's current socket: the TLS socket after STARTTLS (or on implicit TLS), else the TCP one; null before connect. */
export function socketOf(conn: SMTPConnection): TLSSocket | net.Socket | null {
  const s = (conn as unknown as { _socket?: TLSSocket | net.Socket | false })._socket;
  return s || null;
}

/** The socket, when it is a TLS one. */
export function tlsSocketOf(conn: SMTPConnection): TLSSocket | null {
  const s = socketOf(conn);
  return s && 'getProtocol' in s ? s : null;
}
