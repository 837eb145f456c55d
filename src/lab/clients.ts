// Lab: the friend's mail client (MUA) fetching the story's message, as small as can be: POP3 over
// implicit TLS (RFC 1939, RFC 8314) and IMAP over implicit TLS (RFC 9051), on the office's own
// self-signed certificate. Replies are read line by line with a bound on every buffer.
import tls from 'node:tls';

export interface MailServer { host: string; port: number; servername?: string; user: string; password: string; timeoutMs?: number }

/** Larger replies than this are refused (the lab's messages are small). */
const MAX_BYTES = 32 * 1024 * 1024;

class Conn {
  private buf: Buffer = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  private error: Error | null = null;
  private ended = false;

  private constructor(readonly sock: tls.TLSSocket, private readonly timeoutMs: number) {
    sock.on('data', (c: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, c]) : c;
      if (this.buf.length > MAX_BYTES) { this.error = new Error('reply too large'); sock.destroy(); }
      this.wake();
    });
    sock.on('error', (err) => { this.error = err; this.wake(); });
    sock.on('close', () => { this.ended = true; this.wake(); });
  }

  static open(s: MailServer): Promise<Conn> {
    return new Promise((resolve, reject) => {
      // the lab's certificates are self-signed: the client accepts them, as a learner would click "accept"
      const sock = tls.connect({ host: s.host, port: s.port, servername: s.servername, rejectUnauthorized: false }, () => { sock.off('error', reject); resolve(new Conn(sock, s.timeoutMs ?? 10_000)); });
      sock.once('error', reject);
      sock.setTimeout(s.timeoutMs ?? 10_000, () => sock.destroy(new Error(`no answer from ${s.host}:${s.port}`)));
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private async more(): Promise<void> {
    if (this.error) throw this.error;
    if (this.ended) throw new Error('the server closed the connection');
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.waiter = resolve;
      timer = setTimeout(() => { this.error = new Error('timed out waiting for the server'); resolve(); }, this.timeoutMs);
    });
    clearTimeout(timer);
    if (this.error) throw this.error;
  }

  /** One CRLF line, without its CRLF. */
  async line(): Promise<string> {
    for (;;) {
      const i = this.buf.indexOf('\n');
      if (i >= 0) {
        const l = this.buf.subarray(0, i).toString('latin1').replace(/\r$/, '');
        this.buf = this.buf.subarray(i + 1);
        return l;
      }
      await this.more();
    }
  }

  /** Exactly n bytes. */
  async bytes(n: number): Promise<Buffer> {
    if (n > MAX_BYTES) throw new Error('literal too large');
    while (this.buf.length < n) await this.more();
    const b = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return b;
  }

  write(s: string): void {
    this.sock.write(s);
  }

  close(): void {
    this.sock.end();
    this.sock.destroy();
  }
}

const messageIdOf = (head: string) => /^message-id:\s*(<[^>\r\n]*>)/im.exec(head.replace(/\r?\n[ \t]+/g, ' '))?.[1] ?? null;

/** POP3S: log in, find the message by its Message-ID (TOP n 0, newest first) and RETR it; QUIT keeps it on the server. */
export async function pop3Retrieve(s: MailServer, messageId: string): Promise<Buffer> {
  const c = await Conn.open(s);
  try {
    const ok = async (cmd: string | null) => {
      if (cmd) c.write(cmd + '\r\n');
      const l = await c.line();
      if (!l.startsWith('+OK')) throw new Error(`POP3 ${cmd?.split(' ')[0] ?? 'greeting'}: ${l}`);
      return l;
    };
    // RFC 1939 §3: a multi-line answer ends with "."; lines starting with "." are byte-stuffed
    const multi = async () => {
      const lines: string[] = [];
      for (;;) {
        const l = await c.line();
        if (l === '.') return lines;
        lines.push(l.startsWith('.') ? l.slice(1) : l);
      }
    };
    await ok(null);
    await ok(`USER ${s.user}`);
    await ok(`PASS ${s.password}`);
    const count = Number(/^\+OK (\d+)/.exec(await ok('STAT'))?.[1] ?? 0);
    const want = messageId.replace(/^<?/, '<').replace(/>?$/, '>');
    for (let n = count; n >= 1 && n > count - 50; n--) {
      await ok(`TOP ${n} 0`);
      if (messageIdOf((await multi()).join('\r\n')) !== want) continue;
      await ok(`RETR ${n}`);
      const raw = Buffer.from((await multi()).join('\r\n') + '\r\n', 'latin1');
      await ok('QUIT');
      return raw;
    }
    await ok('QUIT');
    throw new Error(`POP3: no message ${want} in the maildrop of ${s.user}`);
  } finally {
    c.close();
  }
}

/** IMAPS: LOGIN, SELECT INBOX, UID FETCH uid BODY[], LOGOUT. */
export async function imapFetch(s: MailServer, uid: number, mailbox = 'INBOX'): Promise<Buffer> {
  const c = await Conn.open(s);
  let n = 0;
  // RFC 9051 §4.3: a quoted string escapes only \ and "
  const q = (v: string) => `"${v.replace(/[\\"]/g, (m) => '\\' + m)}"`;
  const run = async (cmd: string): Promise<Buffer | null> => {
    const tag = `L${++n}`;
    c.write(`${tag} ${cmd}\r\n`);
    let literal: Buffer | null = null;
    for (;;) {
      const l = await c.line();
      // RFC 9051 §4.3: a literal {n} follows its line ending; the response goes on after it
      const lit = /\{(\d+)\}$/.exec(l);
      if (lit) {
        const b = await c.bytes(Number(lit[1]));
        if (l.startsWith('* ') && /BODY\[\] \{\d+\}$/.test(l)) literal = b;
        continue;
      }
      if (l.startsWith(`${tag} `)) {
        if (!l.startsWith(`${tag} OK`)) throw new Error(`IMAP ${cmd.split(' ')[0]}: ${l.slice(tag.length + 1)}`);
        return literal;
      }
    }
  };
  try {
    const greeting = await c.line();
    if (!greeting.startsWith('* OK')) throw new Error(`IMAP greeting: ${greeting}`);
    await run(`LOGIN ${q(s.user)} ${q(s.password)}`);
    await run(`SELECT ${q(mailbox)}`);
    const raw = await run(`UID FETCH ${uid} (BODY[])`);
    await run('LOGOUT').catch(() => null);
    if (!raw) throw new Error(`IMAP: no message with UID ${uid} in ${mailbox}`);
    return raw;
  } finally {
    c.close();
  }
}
