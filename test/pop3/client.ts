// A small POP3 client for the tests: lines, multi-line responses (raw, still byte-stuffed), STLS.
import net from 'node:net';
import tls from 'node:tls';

export class Pop3Client {
  private buf: Buffer = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  private closed = false;
  private onData = (d: Buffer) => {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    this.wake();
  };
  private onClose = () => {
    this.closed = true;
    this.wake();
  };

  constructor(public sock: net.Socket, private readonly timeoutMs = 10_000) {
    this.attach(sock);
  }

  static connect(port: number, opts: { tls?: boolean } = {}): Promise<Pop3Client> {
    return new Promise((resolve, reject) => {
      const s: net.Socket = opts.tls
        ? tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => resolve(new Pop3Client(s)))
        : net.connect({ host: '127.0.0.1', port }, () => resolve(new Pop3Client(s)));
      s.once('error', reject);
    });
  }

  private attach(sock: net.Socket): void {
    this.sock = sock;
    sock.on('data', this.onData);
    sock.on('close', this.onClose);
    sock.on('error', () => undefined);
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private async waitFor<T>(take: () => T | null): Promise<T> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const r = take();
      if (r !== null) return r;
      if (this.closed) throw new Error('connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for the server');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => { clearTimeout(t); resolve(); };
      });
    }
  }

  /** One reply line without CRLF. */
  line(): Promise<string> {
    return this.waitFor(() => {
      const i = this.buf.indexOf('\r\n');
      if (i < 0) return null;
      const l = this.buf.toString('latin1', 0, i);
      this.buf = this.buf.subarray(i + 2);
      return l;
    });
  }

  /** The body of a multi-line response up to and including the final ".CRLF" (still byte-stuffed). */
  multi(): Promise<Buffer> {
    return this.waitFor(() => {
      let end = -1;
      if (this.buf.subarray(0, 3).equals(Buffer.from('.\r\n'))) end = 3;
      else {
        const i = this.buf.indexOf('\r\n.\r\n');
        if (i >= 0) end = i + 5;
      }
      if (end < 0) return null;
      const body = this.buf.subarray(0, end);
      this.buf = this.buf.subarray(end);
      return body;
    });
  }

  write(text: string): void {
    this.sock.write(text);
  }

  /** Send a command line and read the status line. */
  async cmd(text: string): Promise<string> {
    this.sock.write(text + '\r\n');
    return this.line();
  }

  /** Send a command, read the status line and (on +OK) the multi-line body, unstuffed, as lines. */
  async lines(text: string): Promise<{ status: string; lines: string[] }> {
    const status = await this.cmd(text);
    if (!status.startsWith('+OK')) return { status, lines: [] };
    const body = (await this.multi()).toString('latin1');
    const lines = body.split('\r\n').slice(0, -2).map((l) => (l.startsWith('.') ? l.slice(1) : l));
    return { status, lines };
  }

  /** RFC 2595 STLS, then TLS on the same connection. */
  async stls(): Promise<string> {
    const status = await this.cmd('STLS');
    if (!status.startsWith('+OK')) return status;
    const plain = this.sock;
    plain.off('data', this.onData);
    plain.off('close', this.onClose);
    this.buf = Buffer.alloc(0);
    const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ socket: plain, rejectUnauthorized: false }, () => resolve(s));
      s.once('error', reject);
    });
    this.attach(secure);
    return status;
  }

  async login(user: string, pass: string): Promise<string> {
    const u = await this.cmd(`USER ${user}`);
    if (!u.startsWith('+OK')) return u;
    return this.cmd(`PASS ${pass}`);
  }

  /** Resolves when the server has closed the connection. */
  closedByServer(): Promise<void> {
    return this.waitFor(() => (this.closed ? true : null)).then(() => undefined);
  }

  close(): void {
    this.sock.destroy();
  }
}

/** Unstuff a multi-line body (as returned by multi()) back into the message bytes. */
export function unstuff(body: Buffer): Buffer {
  const text = body.subarray(0, body.length - 3); // drop ".\r\n"
  const out: Buffer[] = [];
  let start = 0;
  let atStart = true;
  for (let i = 0; i <= text.length; i++) {
    if (atStart && text[i] === 0x2e) { out.push(text.subarray(start, i)); start = i + 1; }
    atStart = text[i] === 0x0a;
  }
  out.push(text.subarray(start));
  return Buffer.concat(out);
}
