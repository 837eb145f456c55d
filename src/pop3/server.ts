// MUA access: the POP3 listeners. "pop3" (110) starts in plaintext and offers STLS (RFC 2595);
// "pop3s" (995) is implicit TLS (RFC 8314). The maildrop locks live in the store (every node's sessions share them).
import net from 'node:net';
import tls from 'node:tls';
import type { Authenticator } from '../auth/authenticate.js';
import type { ConnectionLimiter } from '../auth/limits.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/log.js';
import { countConnection } from '../log/metrics.js';
import type { Store } from '../store/index.js';
import { TLS_POLICY, type TlsManager, type TlsMaterial } from '../tls/tls.js';
import { Pop3Session } from './session.js';

export interface Pop3Options {
  /** RFC 1939 §3: the autologout timer, at least 10 minutes */
  idleTimeoutMs: number;
  /** commands allowed before a successful login */
  maxAuthorizationCommands: number;
  /** failed logins before the connection is closed */
  maxAuthFailures: number;
  /** RFC 1939 §8: how long the maildrop lock lives unless the session renews it (a node that dies lets go after this) */
  lockTtlMs: number;
}

export const DEFAULT_POP3_OPTIONS: Pop3Options = { idleTimeoutMs: 10 * 60_000, maxAuthorizationCommands: 20, maxAuthFailures: 3, lockTtlMs: 120_000 };

export interface Pop3Context {
  config: Config;
  store: Store;
  auth: Authenticator;
  tls: TlsManager;
  log: Logger;
  limiter?: ConnectionLimiter;
  opts: Pop3Options;
  sessions: Set<Pop3Session>;
}

export interface Pop3ListenerHandle { name: 'pop3' | 'pop3s'; port: number; close(): Promise<void> }

/** The POP3 service: one context, any number of listeners. */
export class Pop3Server {
  readonly ctx: Pop3Context;

  constructor(deps: { config: Config; store: Store; auth: Authenticator; tls: TlsManager; log: Logger; limiter?: ConnectionLimiter }, opts: Partial<Pop3Options> = {}) {
    this.ctx = { ...deps, opts: { ...DEFAULT_POP3_OPTIONS, ...opts }, sessions: new Set() };
  }

  async listen(name: 'pop3' | 'pop3s', port: number, host: string): Promise<Pop3ListenerHandle> {
    const { ctx } = this;
    const accept = (sock: net.Socket) => {
      const slot = ctx.limiter?.acquire(sock.remoteAddress ?? '');
      if (typeof slot === 'string') {
        // RFC 2449 §8.1.2 SYS/TEMP: a transient problem; the client may try again later
        sock.on('error', () => undefined);
        sock.end(`-ERR [SYS/TEMP] too many connections${slot === 'per-ip' ? ' from your address' : ''}, try again later\r\n`);
        // read (and drop) what the client sends, so its FIN is seen and the socket closes; never longer than 2 s
        sock.resume();
        setTimeout(() => sock.destroy(), 2000).unref();
        return;
      }
      if (slot) sock.once('close', () => slot.release());
      sock.once('close', countConnection(ctx.config.hostname, name));
      const s = new Pop3Session(ctx, name, sock);
      // a session still in the AUTHORIZATION state may be closed to make room (RFC 2449 §8.1.2 SYS/TEMP)
      if (slot) {
        s.slot = slot;
        slot.attach({
          evictable: () => s.state === 'authorization',
          evict: (why) => { s.log.info({ why }, 'evicted by the connection limits'); s.drop(`-ERR [SYS/TEMP] ${why}, try again later`); },
        });
      }
    };
    let server: net.Server;
    let onReload: ((m: TlsMaterial) => void) | null = null;
    if (name === 'pop3s') {
      const s = tls.createServer({ ...ctx.tls.serverOptions(), ...ctx.tls.current, handshakeTimeout: 30_000 }, accept);
      s.on('tlsClientError', (err) => ctx.log.debug({ err: err.message, listener: name }, 'pop3s handshake failed'));
      onReload = (m) => s.setSecureContext({ ...m, ...TLS_POLICY });
      ctx.tls.on('reload', onReload);
      server = s;
    } else {
      server = net.createServer(accept);
    }
    server.on('error', (err) => ctx.log.warn({ err: err.message, listener: name }, 'pop3 listener error'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    return {
      name,
      port: typeof addr === 'object' && addr ? addr.port : port,
      close: () => new Promise<void>((resolve) => {
        if (onReload) ctx.tls.off('reload', onReload);
        server.close(() => resolve());
        for (const s of [...ctx.sessions]) if (s.listener === name) s.destroy();
      }),
    };
  }
}
