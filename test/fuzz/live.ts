// Helpers of the live fuzz tests: a byte reader on a socket (lines, literals, "until closed"),
// a lab tuned for fast runs, and the well-formedness checks of server replies.
import net from 'node:net';
import tls from 'node:tls';
import type { TestContext } from 'node:test';
import { startLab, type Lab } from '../helpers/lab.js';

/** Reads CRLF lines and counted bytes; never waits longer than asked. */
export class Wire {
  private buf: Buffer = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  closed = false;
  constructor(readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => { this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d; this.wake(); });
    sock.on('close', () => { this.closed = true; this.wake(); });
    sock.on('error', () => undefined);
  }

  static connect(port: number, secure: boolean): Promise<Wire> {
    return new Promise((resolve, reject) => {
      const s: net.Socket = secure
        ? tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => resolve(new Wire(s)))
        : net.connect({ host: '127.0.0.1', port }, () => resolve(new Wire(s)));
      s.once('error', reject);
    });
  }

  private wake(): void { const w = this.waiter; this.waiter = null; w?.(); }

  private async until<T>(take: () => T | null, ms: number): Promise<T | null> {
    const deadline = Date.now() + ms;
    for (;;) {
      const r = take();
      if (r !== null) return r;
      const left = deadline - Date.now();
      if (this.closed || left <= 0) return null;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => { clearTimeout(t); resolve(); };
      });
    }
  }

  /** The next line without its LF (and CR); null when closed or nothing came within `ms`. */
  line(ms = 5000): Promise<Buffer | null> {
    return this.until(() => {
      const lf = this.buf.indexOf(0x0a);
      if (lf < 0) return null;
      const end = lf > 0 && this.buf[lf - 1] === 0x0d ? lf - 1 : lf;
      const l = Buffer.from(this.buf.subarray(0, end));
      this.buf = this.buf.subarray(lf + 1);
      return l;
    }, ms);
  }

  /** Exactly n bytes (an IMAP literal). */
  bytes(n: number, ms = 5000): Promise<Buffer | null> {
    return this.until(() => {
      if (this.buf.length < n) return null;
      const b = Buffer.from(this.buf.subarray(0, n));
      this.buf = this.buf.subarray(n);
      return b;
    }, ms);
  }

  /** Bytes received but not yet read (a partial line). */
  get pending(): number { return this.buf.length; }

  write(b: Buffer | string): void {
    if (!this.sock.destroyed && this.sock.writable) this.sock.write(b);
  }

  close(): void { this.sock.destroy(); }
}

export const USERS = { 'alice@example.test': 'pw', 'bob@example.test': 'pw' };

/** A lab for fuzzing: plaintext auth on loopback, no greeting delay, small messages, fast failures. */
export async function fuzzLab(t: TestContext): Promise<Lab> {
  const lab = await startLab(t, {
    users: USERS,
    env: {
      POSTOFFICE_ALLOW_PLAINTEXT_LOOPBACK: 'true', POSTOFFICE_SMTP_GREET_DELAY_MS: '0', POSTOFFICE_MAX_MESSAGE_BYTES: '20000',
      POSTOFFICE_DNS_SERVERS: '127.0.0.1:9', POSTOFFICE_MAX_CONNECTIONS_PER_IP: '1000', POSTOFFICE_MAX_CONNECTIONS: '2000',
    },
  });
  // failed logins cost 250 ms, doubling, per IP: the fuzzer fails many on purpose
  Object.assign((lab.po.auth as unknown as { opts: Record<string, number> }).opts, { baseDelayMs: 1, maxDelayMs: 2 });
  return lab;
}

/** Text of a reply line for messages. */
export const show = (b: Buffer) => JSON.stringify(b.toString('latin1'));
