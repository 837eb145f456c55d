// Lab: the wire in front of a post office's MX port. It listens where the MX is published
// (e.g. 127.0.0.3:2525) and forwards each connection to the office's real SMTP listener,
// connecting from the client's own address so the receiver (and its SPF check) sees the real
// sender. Armed faults misbehave like a broken network or a broken server would:
//   down        nothing listens for a while (connection refused); live connections are cut
//   slow        the 220 greeting is held back longer than the client waits for it (RFC 5321 §4.5.3.2.1)
//   tls-broken  STARTTLS is offered and answered 220, then garbage comes instead of a ServerHello (RFC 3207)
import net from 'node:net';
import type { Logger } from '../log/log.js';

export type WireFault = { kind: 'slow'; delayMs: number } | { kind: 'tls-broken' };

export interface WireOptions {
  /** where the MX is published */
  host: string;
  port: number;
  /** the office's real port-25 listener */
  target: { host: string; port: number };
  log: Logger;
}

/** a STARTTLS command line, and the 220 reply that lets the handshake start */
const STARTTLS = /^STARTTLS\r?$/i;
const REPLY_220 = /^220[ \r]/;
/** longest line looked at before the TLS handshake; SMTP command lines are far shorter (RFC 5321 §4.5.3.1.4) */
const MAX_LINE = 4096;

export class Wire {
  private server: net.Server | null = null;
  private readonly live = new Set<net.Socket>();
  private readonly armed: { fault: WireFault; from: string | null }[] = [];
  private downTimer: NodeJS.Timeout | null = null;
  private downUntil = 0;
  private closed = false;
  /** connections forwarded, and faults applied (for the tests and the dashboard) */
  readonly stats = { connections: 0, faults: 0 };

  constructor(private readonly opts: WireOptions) {}

  get address(): string {
    return `${this.opts.host}:${this.opts.port}`;
  }

  get isDown(): boolean {
    return this.downUntil > Date.now();
  }

  async start(): Promise<void> {
    const server = net.createServer((sock) => this.accept(sock));
    server.on('error', (err) => this.opts.log.warn({ err: err.message, wire: this.address }, 'lab wire error'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => { server.off('error', reject); resolve(); });
    });
    this.server = server;
  }

  /** Apply `fault` to the next connection (from the address `from`, or any when null); one per arming. */
  arm(fault: WireFault, from: string | null = null): void {
    this.armed.push({ fault, from });
    if (this.armed.length > 100) this.armed.shift(); // bounded: faults never reached do not pile up
    // a pooled session of the relay (relay/smtp-client.ts ConnectionCache) would never open a new
    // connection for the fault to act on: cut them, as a restarting server would
    this.cut();
  }

  /** Nothing listens for `ms`: connections are refused, the live ones are cut. */
  async down(ms: number): Promise<void> {
    this.downUntil = Date.now() + ms;
    if (this.downTimer) clearTimeout(this.downTimer);
    this.downTimer = setTimeout(() => { this.downTimer = null; void this.up(); }, ms);
    this.downTimer.unref();
    const s = this.server;
    this.server = null;
    this.cut();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  private async up(): Promise<void> {
    if (this.closed || this.server) return;
    this.downUntil = 0;
    try {
      await this.start();
    } catch (err) {
      this.opts.log.error({ err, wire: this.address }, 'lab wire could not listen again');
    }
  }

  /** Close every forwarded connection. */
  cut(): void {
    for (const s of this.live) s.destroy();
    this.live.clear();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.downTimer) clearTimeout(this.downTimer);
    this.cut();
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  private take(from: string): WireFault | null {
    const i = this.armed.findIndex((a) => a.from === null || a.from === from);
    if (i < 0) return null;
    const [a] = this.armed.splice(i, 1);
    this.stats.faults++;
    return a.fault;
  }

  private track(s: net.Socket): void {
    this.live.add(s);
    s.once('close', () => this.live.delete(s));
    s.on('error', () => undefined);
  }

  private accept(client: net.Socket): void {
    this.stats.connections++;
    this.track(client);
    const from = (client.remoteAddress ?? '').replace(/^::ffff:/, '');
    const fault = this.take(from);
    const connect = () => {
      if (client.destroyed) return;
      // from the client's own address, so that the office sees (and SPF checks) the real sender
      const upstream = net.connect({ host: this.opts.target.host, port: this.opts.target.port, localAddress: net.isIPv4(from) ? from : undefined });
      this.track(upstream);
      upstream.once('close', () => client.destroy());
      client.once('close', () => upstream.destroy());
      if (fault?.kind === 'tls-broken') this.breakTls(client, upstream);
      else {
        client.pipe(upstream);
        upstream.pipe(client);
      }
    };
    if (fault?.kind === 'slow') {
      // the server is "busy": its greeting comes only after delayMs, if the client still waits
      const t = setTimeout(connect, fault.delayMs);
      client.once('close', () => clearTimeout(t));
    } else connect();
  }

  /** Forward until the server's 220 to STARTTLS, then answer the client's ClientHello with garbage. */
  private breakTls(client: net.Socket, upstream: net.Socket): void {
    let asked = false;
    let broken = false;
    let cline = '';
    let held: Buffer = Buffer.alloc(0);
    // written by hand (bytes are inspected): the reader is paused while the writer is full
    const send = (to: net.Socket, from: net.Socket, b: Buffer) => {
      if (!to.write(b)) { from.pause(); to.once('drain', () => from.resume()); }
    };
    client.on('data', (c: Buffer) => {
      if (broken) {
        // RFC 8446 §5.1: this is no TLS record; the client's handshake fails on it
        client.end('this is not TLS: the lab broke the handshake\r\n');
        upstream.destroy();
        return;
      }
      send(upstream, client, c);
      if (asked) return;
      cline += c.toString('latin1');
      let i;
      while ((i = cline.indexOf('\n')) >= 0) {
        if (STARTTLS.test(cline.slice(0, i))) asked = true;
        cline = cline.slice(i + 1);
      }
      if (cline.length > MAX_LINE) cline = '';
    });
    upstream.on('data', (c: Buffer) => {
      if (broken) return;
      if (!asked) { send(client, upstream, c); return; }
      // the reply to STARTTLS: passed on up to its last line; a 220 starts the (broken) handshake
      held = Buffer.concat([held, c]);
      let start = 0;
      let i;
      while ((i = held.indexOf('\n', start)) >= 0) {
        const line = held.subarray(start, i).toString('latin1');
        start = i + 1;
        if (/^\d{3}[ \r]/.test(line) || /^\d{3}$/.test(line)) {
          send(client, upstream, held.subarray(0, start));
          const rest = held.subarray(start);
          held = Buffer.alloc(0);
          if (REPLY_220.test(line)) { broken = true; return; }
          asked = false; // refused (e.g. 454): there is no handshake to break
          if (rest.length) send(client, upstream, rest);
          return;
        }
      }
      if (held.length > MAX_LINE) { send(client, upstream, held); held = Buffer.alloc(0); asked = false; }
    });
  }
}
