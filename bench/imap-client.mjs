// A minimal IMAP client for the benchmarks (bench/imap-fetch-split.mjs, bench/ceiling/light.mjs):
// tagged commands, responses read as they come, literals skipped by count, FETCH responses counted.
import net from 'node:net';

/** A minimal IMAP client: sends tagged commands, reads responses (literals skipped by count). */
export class Client {
  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.n = 0;
    this.waiting = null; // { tag, resolve, reject, fetches }
    this.literal = 0;
    sock.on('data', (d) => this.onData(d));
    sock.on('error', (e) => this.waiting?.reject(e));
  }

  static connect(host, port) {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host, port: Number(port) });
      sock.once('error', reject);
      const c = new Client(sock);
      c.waiting = { tag: '*', resolve: () => resolve(c), reject, fetches: 0 };
    });
  }

  onData(d) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    let pos = 0;
    for (;;) {
      if (this.literal) {
        const take = Math.min(this.literal, this.buf.length - pos);
        this.literal -= take;
        pos += take;
        if (this.literal) break;
      }
      const lf = this.buf.indexOf(10, pos);
      if (lf < 0) break;
      const line = this.buf.toString('latin1', pos, Math.min(lf + 1, pos + 200));
      // a literal announced at the end of the line: {n}CRLF
      if (this.buf[lf - 2] === 0x7d) {
        const open = this.buf.lastIndexOf(0x7b, lf);
        this.literal = Number(this.buf.toString('latin1', open + 1, lf - 2));
      }
      pos = lf + 1;
      const w = this.waiting;
      if (!w) continue;
      if (line.startsWith('* ') && / FETCH \(/.test(line)) w.fetches++;
      if (w.tag === '*' && line.startsWith('* OK')) { this.waiting = null; w.resolve(w.fetches); continue; }
      if (line.startsWith(w.tag + ' ')) {
        this.waiting = null;
        if (line.startsWith(w.tag + ' OK')) w.resolve(w.fetches);
        else w.reject(new Error(`${w.tag}: ${line.trim()}`));
      } else if (line.startsWith('+ ') && w.cont) {
        const next = w.cont;
        w.cont = null;
        next();
      }
    }
    this.buf = pos >= this.buf.length ? Buffer.alloc(0) : this.buf.subarray(pos);
  }

  cmd(text, literal) {
    const tag = `a${++this.n}`;
    return new Promise((resolve, reject) => {
      this.waiting = { tag, resolve, reject, fetches: 0, cont: null };
      if (literal) {
        // a synchronizing literal: send the bytes once the server says "+"
        this.waiting.cont = () => this.sock.write(Buffer.concat([literal, Buffer.from('\r\n')]));
        this.sock.write(`${tag} ${text} {${literal.length}}\r\n`);
      } else {
        this.sock.write(`${tag} ${text}\r\n`);
      }
    });
  }

  close() { this.sock.destroy(); }
}
