// A scripted remote MX for the relay tests (smtp-server on 127.0.0.1, ephemeral port): it keeps
// what it accepts, refuses recipients it is told to, and can go down and come back on its port.
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';

export interface Received { mailFrom: string; rcpts: string[]; raw: Buffer; user?: string }

export interface Sink {
  port: number;
  received: Received[];
  /** RCPT TO replies by address: e.g. { 'nobody@x': [550, '5.1.1 no such user'] } */
  rcptReplies: Record<string, [number, string]>;
  /** reply to the end of DATA, instead of 250 */
  dataReply: [number, string] | null;
  /** ms to wait before answering the end of DATA */
  dataDelayMs: number;
  /** SIZE announced (RFC 1870); takes effect after down() and up() */
  maxSize: number;
  connections: number;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startSink(opts: { port?: number; host?: string; auth?: { user: string; pass: string } } = {}): Promise<Sink> {
  const host = opts.host ?? '127.0.0.1';
  const sink = { received: [], rcptReplies: {}, dataReply: null, dataDelayMs: 0, maxSize: 50 * 1024 * 1024, connections: 0 } as unknown as Sink;
  let server: SMTPServer | null = null;
  const make = () => new SMTPServer({
    disabledCommands: opts.auth ? ['STARTTLS'] : ['AUTH', 'STARTTLS'], logger: false, banner: 'sink ready', size: sink.maxSize,
    authOptional: !opts.auth, allowInsecureAuth: true, authMethods: ['PLAIN', 'LOGIN'],
    onAuth(auth, _s, cb) {
      if (opts.auth && auth.username === opts.auth.user && auth.password === opts.auth.pass) return cb(null, { user: auth.username });
      cb(Object.assign(new Error('5.7.8 bad credentials'), { responseCode: 535 }));
    },
    onConnect(_s, cb) { sink.connections++; cb(); },
    onRcptTo(addr, _s, cb) {
      const r = sink.rcptReplies[addr.address];
      if (r) return cb(Object.assign(new Error(r[1]), { responseCode: r[0] }));
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => setTimeout(() => {
        if (sink.dataReply) return cb(Object.assign(new Error(sink.dataReply[1]), { responseCode: sink.dataReply[0] }));
        sink.received.push({ mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', rcpts: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks), user: session.user as string | undefined });
        cb(null, 'sunk');
      }, sink.dataDelayMs));
    },
  } as SMTPServerOptions);
  const listen = (port: number) => new Promise<number>((resolve, reject) => {
    server = make();
    server.on('error', () => { /* a client vanished (kill -9): nothing to do */ });
    server.server.once('error', reject);
    server.listen(port, host, () => resolve((server!.server.address() as AddressInfo).port));
  });
  sink.port = await listen(opts.port ?? 0);
  sink.down = () => new Promise<void>((r) => { const s = server; server = null; if (s) s.close(() => r()); else r(); });
  sink.up = async () => { if (!server) await listen(sink.port); };
  sink.close = sink.down;
  return sink;
}
