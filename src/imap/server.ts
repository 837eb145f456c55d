// MUA access: the IMAP listeners. "imap" speaks plaintext until STARTTLS (RFC 3501 §6.2.1);
// "imaps" is implicit TLS (RFC 8314 §3.2). Each connection gets an ImapSession.
import net from 'node:net';
import tls from 'node:tls';
import { countConnection } from '../log/metrics.js';
import { TLS_POLICY } from '../tls/tls.js';
import { MailboxHub } from './hub.js';
import { DEFAULT_OPTIONS, ImapSession, type ImapContext, type ImapOptions } from './session.js';

export interface ImapListenerHandle { name: 'imap' | 'imaps'; port: number; close(): Promise<void> }

export async function startImap(ctx: Omit<ImapContext, 'options' | 'hub'> & { options?: Partial<ImapOptions> }, port: number, host: string): Promise<ImapListenerHandle> {
  const hub = new MailboxHub(ctx.store);
  const full: ImapContext = { ...ctx, hub, options: { ...DEFAULT_OPTIONS, ...ctx.options } };
  const sockets = new Set<net.Socket>();
  const sessions = new Set<ImapSession>();
  const onConnection = (sock: net.Socket) => {
    const slot = ctx.limiter?.acquire(sock.remoteAddress ?? '');
    if (typeof slot === 'string') {
      // RFC 3501 §7.1.5: BYE at greeting time refuses the connection
      sock.on('error', () => undefined);
      sock.end(`* BYE [UNAVAILABLE] too many connections${slot === 'per-ip' ? ' from your address' : ''}, try again later\r\n`);
      // read (and drop) what the client sends, so its FIN is seen and the socket closes; never longer than 2 s
      sock.resume();
      setTimeout(() => sock.destroy(), 2000).unref();
      return;
    }
    if (slot) sock.once('close', () => slot.release());
    sock.once('close', countConnection(ctx.config.hostname, ctx.listener));
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    sock.setNoDelay(true);
    const s = new ImapSession(full, sock, sock.remoteAddress ?? 'unknown');
    sessions.add(s);
    // RFC 3501 §7.1.5 BYE: a connection that has not logged in may be closed to make room for a newcomer
    if (slot) {
      s.slot = slot;
      slot.attach({
        evictable: () => s.state === 'not-authenticated',
        evict: (why) => { s.log.info({ why }, 'evicted by the connection limits'); s.bye(`[UNAVAILABLE] ${why}, try again later`); },
      });
    }
    sock.on('close', () => sessions.delete(s));
    s.start();
  };
  const server: net.Server = ctx.listener === 'imaps'
    ? tls.createServer({ ...ctx.tls.serverOptions(), ...ctx.tls.current }, onConnection)
    : net.createServer(onConnection);
  server.on('error', (err) => ctx.log.error({ err }, 'imap listener error'));
  if (ctx.listener === 'imaps') (server as tls.Server).on('tlsClientError', (err) => ctx.log.debug({ err: err.message }, 'TLS handshake failed'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => { hub.close(); reject(err); });
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  const reload = () => { if (ctx.listener === 'imaps') (server as tls.Server).setSecureContext({ ...TLS_POLICY, ...ctx.tls.current }); };
  ctx.tls.on('reload', reload);
  const addr = server.address() as net.AddressInfo;
  ctx.log.info({ port: addr.port }, `${ctx.listener} listening`);
  return {
    name: ctx.listener,
    port: addr.port,
    async close() {
      ctx.tls.off('reload', reload);
      hub.close();
      for (const s of sessions) s.bye('server shutting down');
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        setTimeout(() => { for (const sock of sockets) sock.destroy(); }, 500).unref();
      });
    },
  };
}
