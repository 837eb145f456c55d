// A small raw IMAP client for tests that check what the server says, not just that it answers:
// tagged commands over a real socket, every untagged response parsed into a typed item (EXISTS,
// EXPUNGE, VANISHED, FETCH with UID/FLAGS/MODSEQ, SEARCH, FLAGS, response codes), and a
// transcript of both directions for failure messages. No literals in replies are expected
// (FETCH UID FLAGS MODSEQ, SEARCH): a reply literal fails loudly.
import net from 'node:net';

/** One untagged response (RFC 3501 §7), as far as the tests need it. */
export type Untagged =
  | { kind: 'exists'; n: number }
  | { kind: 'recent'; n: number }
  | { kind: 'expunge'; n: number }
  | { kind: 'vanished'; earlier: boolean; uids: number[] }
  | { kind: 'fetch'; seq: number; uid?: number; flags?: string[]; modseq?: number }
  | { kind: 'search'; nums: number[] }
  | { kind: 'flags'; flags: string[] }
  | { kind: 'status'; status: 'OK' | 'NO' | 'BAD' | 'BYE' | 'PREAUTH'; code: string | null; text: string }
  | { kind: 'other'; line: string };

export interface Reply {
  status: 'OK' | 'NO' | 'BAD';
  /** the [response code] of the tagged line, without brackets */
  code: string | null;
  text: string;
  untagged: Untagged[];
}

/** Nested parenthesized lists of atoms and quoted strings. */
export type SExp = string | SExp[];

/** RFC 3501 §9 parenthesized list: atoms (flags like \Seen included), quoted strings, NIL, nesting. */
export function parseList(s: string, start = 0): { value: SExp[]; end: number } {
  if (s[start] !== '(') throw new Error(`expected "(" at ${start} in ${JSON.stringify(s)}`);
  const out: SExp[] = [];
  let i = start + 1;
  for (;;) {
    while (s[i] === ' ') i++;
    if (i >= s.length) throw new Error(`unterminated list in ${JSON.stringify(s)}`);
    const c = s[i];
    if (c === ')') return { value: out, end: i + 1 };
    if (c === '(') { const r = parseList(s, i); out.push(r.value); i = r.end; continue; }
    if (c === '"') {
      let v = '';
      for (i++; i < s.length && s[i] !== '"'; i++) v += s[i] === '\\' ? s[++i] : s[i];
      if (i >= s.length) throw new Error(`unterminated string in ${JSON.stringify(s)}`);
      out.push(v);
      i++;
      continue;
    }
    if (c === '{') throw new Error(`literal in a reply the test did not expect: ${JSON.stringify(s)}`);
    let j = i;
    // an atom, with [...] sections kept whole (BODY[HEADER]...)
    while (j < s.length && s[j] !== ' ' && s[j] !== ')' && s[j] !== '(') {
      if (s[j] === '[') { const k = s.indexOf(']', j); j = k < 0 ? s.length : k + 1; } else j++;
    }
    out.push(s.slice(i, j));
    i = j;
  }
}

/** RFC 3501 §9 sequence-set of numbers only ("1:3,7"), expanded in the order written. */
export function expandSet(set: string): number[] {
  const out: number[] = [];
  for (const part of set.split(',')) {
    const m = /^(\d+)(?::(\d+))?$/.exec(part);
    if (!m) throw new Error(`bad uid set ${JSON.stringify(set)}`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b - a > 100_000 || a - b > 100_000) throw new Error(`uid set too large for a test: ${set}`);
    if (a <= b) for (let x = a; x <= b; x++) out.push(x);
    else for (let x = a; x >= b; x--) out.push(x);
  }
  return out;
}

const num = (s: string) => {
  if (!/^\d+$/.test(s)) throw new Error(`not a number: ${JSON.stringify(s)}`);
  return Number(s);
};

/** Parse one untagged line ("* ..."). Malformed known responses throw. */
export function parseUntagged(line: string): Untagged {
  let m = /^\* (\d+) (EXISTS|RECENT|EXPUNGE)$/i.exec(line);
  if (m) return { kind: m[2].toLowerCase() as 'exists' | 'recent' | 'expunge', n: Number(m[1]) };
  m = /^\* (\d+) FETCH (\(.*)$/i.exec(line);
  if (m) {
    const { value, end } = parseList(m[2]);
    if (end !== m[2].length) throw new Error(`text after FETCH data: ${JSON.stringify(line)}`);
    const f: Extract<Untagged, { kind: 'fetch' }> = { kind: 'fetch', seq: Number(m[1]) };
    for (let i = 0; i < value.length; i += 2) {
      const name = String(value[i]).toUpperCase();
      const v = value[i + 1];
      if (v === undefined) throw new Error(`FETCH item without value: ${JSON.stringify(line)}`);
      if (name === 'UID') f.uid = num(v as string);
      else if (name === 'FLAGS') {
        if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new Error(`bad FLAGS: ${JSON.stringify(line)}`);
        f.flags = v as string[];
      } else if (name === 'MODSEQ') {
        if (!Array.isArray(v) || v.length !== 1) throw new Error(`bad MODSEQ: ${JSON.stringify(line)}`);
        f.modseq = num(v[0] as string);
      }
    }
    return f;
  }
  m = /^\* SEARCH((?: \d+)*)(?: \(MODSEQ \d+\))?$/i.exec(line);
  if (m) return { kind: 'search', nums: m[1].trim() ? m[1].trim().split(' ').map(Number) : [] };
  m = /^\* VANISHED (\(EARLIER\) )?([\d:,]+)$/i.exec(line);
  if (m) return { kind: 'vanished', earlier: !!m[1], uids: expandSet(m[2]) };
  m = /^\* FLAGS (\(.*\))$/i.exec(line);
  if (m) return { kind: 'flags', flags: parseList(m[1]).value as string[] };
  m = /^\* (OK|NO|BAD|BYE|PREAUTH)(?: \[([^\]]*)\])?(?: (.*))?$/i.exec(line);
  if (m) return { kind: 'status', status: m[1].toUpperCase() as 'OK', code: m[2] ?? null, text: m[3] ?? '' };
  return { kind: 'other', line };
}

let tagSeq = 0;

/** A logged-in (or not) connection speaking raw IMAP lines. */
export class RawImap {
  private buf = '';
  private lines: string[] = [];
  private waiter: (() => void) | null = null;
  private closed = false;
  /** every line sent (C:) and received (S:), newest last; bounded */
  readonly transcript: string[] = [];

  private constructor(private readonly sock: net.Socket, readonly name: string) {
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      this.buf += d;
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        this.lines.push(this.buf.slice(0, i).replace(/\r$/, ''));
        this.buf = this.buf.slice(i + 1);
      }
      if (this.buf.length > 1_000_000) this.sock.destroy(new Error('line too long'));
      this.wake();
    });
    sock.on('close', () => { this.closed = true; this.wake(); });
    sock.on('error', () => undefined);
  }

  /** Connect to 127.0.0.1:port, read the greeting, LOGIN if a user is given. */
  static async open(port: number, name: string, user?: string, pass = 'pw'): Promise<RawImap> {
    const sock = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
      s.once('error', reject);
    });
    const c = new RawImap(sock, name);
    const greeting = await c.line();
    if (!/^\* OK/.test(greeting)) throw new Error(`${name}: greeting ${JSON.stringify(greeting)}`);
    if (user) await c.ok(`LOGIN ${user} ${pass}`);
    return c;
  }

  private wake(): void { const w = this.waiter; this.waiter = null; w?.(); }

  private note(l: string): void {
    this.transcript.push(l);
    if (this.transcript.length > 400) this.transcript.splice(0, 100);
  }

  /** The next server line; throws when the connection closes or nothing comes for `ms`. */
  async line(ms = 10_000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const l = this.lines.shift();
      if (l !== undefined) { this.note('S: ' + l); return l; }
      if (this.closed) throw new Error(`${this.name}: connection closed\n${this.tail()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: no reply within ${ms} ms\n${this.tail()}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => { clearTimeout(t); resolve(); };
      });
    }
  }

  /**
   * Send a command (the tag is added; `literal` goes after the line as a LITERAL+ {n+}, RFC 7888)
   * and collect the untagged responses up to the tagged one.
   */
  async cmd(line: string, literal?: Buffer): Promise<Reply> {
    const tag = `m${++tagSeq}`;
    if (literal) {
      this.note(`C: ${tag} ${line} {${literal.length}+} <${literal.length} octets>`);
      this.sock.write(Buffer.concat([Buffer.from(`${tag} ${line} {${literal.length}+}\r\n`, 'latin1'), literal, Buffer.from('\r\n')]));
    } else {
      this.note(`C: ${tag} ${line}`);
      this.sock.write(`${tag} ${line}\r\n`);
    }
    const untagged: Untagged[] = [];
    for (;;) {
      const l = await this.line();
      if (l.startsWith('* ')) {
        try {
          untagged.push(parseUntagged(l));
        } catch (err) {
          throw new Error(`${this.name}: malformed response ${JSON.stringify(l)}: ${(err as Error).message}\n${this.tail()}`);
        }
        continue;
      }
      if (l.startsWith('+')) throw new Error(`${this.name}: unexpected continuation ${JSON.stringify(l)}\n${this.tail()}`);
      const m = /^(\S+) (OK|NO|BAD)(?: \[([^\]]*)\])?(?: (.*))?$/i.exec(l);
      if (!m || m[1] !== tag) throw new Error(`${this.name}: unexpected line ${JSON.stringify(l)} (waiting for ${tag})\n${this.tail()}`);
      return { status: m[2].toUpperCase() as Reply['status'], code: m[3] ?? null, text: m[4] ?? '', untagged };
    }
  }

  /** cmd() that must end OK. */
  async ok(line: string, literal?: Buffer): Promise<Reply> {
    const r = await this.cmd(line, literal);
    if (r.status !== 'OK') throw new Error(`${this.name}: ${line} -> ${r.status} ${r.code ? `[${r.code}] ` : ''}${r.text}\n${this.tail()}`);
    return r;
  }

  /** The last n transcript lines, for failure messages. */
  tail(n = 30): string {
    return this.transcript.slice(-n).map((l) => `  ${this.name} ${l}`).join('\n');
  }

  close(): void { this.sock.destroy(); }
}
