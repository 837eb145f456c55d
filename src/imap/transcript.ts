// IMAP transcripts: the bytes each way, cut into lines and literals as RFC 3501 §4.3 frames them
// ({n}, {n+} and RFC 3516 ~{n} at the end of a line announce n octets), and redacted here, before
// they reach the recorder: LOGIN's password (RFC 3501 §6.2.3) and AUTHENTICATE's initial and
// continuation responses (§6.2.2, RFC 4959) become ***; literals show their first lines and a
// byte count. Used only when transcripts are on; the session does not call it otherwise.
import { recordMessage, type Recorder } from '../log/transcript.js';

/** bytes of a line kept (the recorder clips what it stores further) */
const MAX_LINE = 4096;
/** bytes of a literal looked at for its excerpt */
const LITERAL_HEAD = 8192;
const LITERAL_AT_END = /~?\{(\d{1,20})\+?\}$/;

/** Splits a byte stream into lines and literals; keeps bounded copies only. */
class Framer {
  private line: Buffer[] = [];
  private lineLen = 0;
  /** the end of a line longer than MAX_LINE, where its literal announcement would be */
  private tail = '';
  private litLeft = -1;
  private litHead: Buffer[] = [];
  private litHeadLen = 0;
  private litTotal = 0;

  constructor(private readonly onLine: (text: string, literalFollows: boolean) => void, private readonly onLiteral: (head: Buffer, total: number) => void) {}

  push(b: Buffer): void {
    let i = 0;
    while (i < b.length || this.litLeft === 0) {
      if (this.litLeft >= 0) {
        const take = Math.min(this.litLeft, b.length - i);
        const keep = Math.min(take, LITERAL_HEAD - this.litHeadLen);
        if (keep > 0) { this.litHead.push(Buffer.from(b.subarray(i, i + keep))); this.litHeadLen += keep; }
        this.litLeft -= take;
        i += take;
        if (this.litLeft > 0) return;
        const head = Buffer.concat(this.litHead);
        const total = this.litTotal;
        this.litLeft = -1;
        this.litHead = [];
        this.litHeadLen = 0;
        this.onLiteral(head, total);
        continue;
      }
      const lf = b.indexOf(0x0a, i);
      const end = lf < 0 ? b.length : lf;
      const keep = Math.min(end - i, MAX_LINE - this.lineLen);
      if (keep > 0) { this.line.push(Buffer.from(b.subarray(i, i + keep))); this.lineLen += keep; }
      if (keep < end - i || this.tail) {
        // past what is kept: follow the line's last bytes (seeded with the end of the kept part)
        if (!this.tail) this.tail = Buffer.concat(this.line).toString('latin1').slice(-32) || ' ';
        this.tail = (this.tail + b.toString('latin1', Math.max(i + keep, end - 32), end)).slice(-32);
      }
      if (lf < 0) return;
      i = lf + 1;
      const text = Buffer.concat(this.line).toString('utf8').replace(/\r$/, '');
      const last = this.tail ? this.tail.replace(/\r$/, '') : text;
      this.line = [];
      this.lineLen = 0;
      this.tail = '';
      const m = LITERAL_AT_END.exec(last);
      this.onLine(text, !!m);
      if (m) {
        this.litLeft = Number(m[1]);
        this.litTotal = this.litLeft;
      }
    }
  }

  /** The literal just announced will not come (NO [TOOBIG] before a synchronizing literal). */
  cancelLiteral(): void {
    this.litLeft = -1;
    this.litHead = [];
    this.litHeadLen = 0;
  }
}

/** The client's command in progress, for redaction across its lines and literals. */
interface Command { tag: string; verb: string; args: number }

export class ImapTranscript {
  private readonly input: Framer;
  private readonly output: Framer;
  private cmd: Command | null = null;
  /** an AUTHENTICATE runs: every client line is a SASL response until its tagged reply */
  private authTag: string | null = null;

  constructor(private readonly rec: Recorder) {
    this.input = new Framer((l, lit) => this.clientLine(l, lit), (h, n) => this.clientLiteral(h, n));
    this.output = new Framer((l) => this.serverLine(l), (h, n) => this.serverLiteral(h, n));
  }

  /** Bytes read from the client (after TLS and COMPRESS are undone). */
  read(b: Buffer): void {
    this.input.push(b);
  }

  /** A piece of what the session writes. */
  wrote(piece: string | Buffer): void {
    this.output.push(typeof piece === 'string' ? Buffer.from(piece, 'utf8') : piece);
  }

  /** The server refused the synchronizing literal the client announced. */
  literalRefused(): void {
    this.input.cancelLiteral();
    this.cmd = null;
  }

  private clientLine(text: string, literalNext: boolean): void {
    const continued = this.cmd;
    if (!continued && this.authTag) {
      // RFC 3501 §6.2.2: a base64 SASL response, or "*" to cancel
      this.rec.client(text === '*' ? '*' : '***');
      return;
    }
    if (!continued) {
      const m = /^(\S+) (?:UID )?([A-Za-z]+)(?: (.*))?$/i.exec(text);
      if (!m) { this.rec.client(text); return; } // DONE, or a bad line: shown as it came
      const cmd: Command = { tag: m[1], verb: m[2].toUpperCase(), args: 0 };
      const prefix = text.slice(0, text.length - (m[3]?.length ?? 0));
      if (cmd.verb === 'AUTHENTICATE') {
        // RFC 4959: an initial response after the mechanism
        const parts = (m[3] ?? '').split(' ');
        this.rec.client(parts.length > 1 ? `${prefix}${parts[0]} ***` : text);
        this.authTag = cmd.tag;
      } else if (cmd.verb === 'LOGIN') {
        this.rec.client(prefix + this.redactLogin(cmd, m[3] ?? ''));
      } else this.rec.client(text);
      this.cmd = literalNext ? cmd : null;
      return;
    }
    // the rest of the line after a literal (often nothing but its CRLF)
    if (text !== '') this.rec.client(continued.verb === 'LOGIN' ? this.redactLogin(continued, text) : text);
    if (!literalNext) this.cmd = null;
  }

  /** LOGIN userid password: the first argument is shown, everything after it is ***. */
  private redactLogin(cmd: Command, text: string): string {
    if (cmd.args >= 1) return text.trim() === '' ? text : ' ***';
    let i = 0;
    while (text[i] === ' ') i++;
    const lead = text.slice(0, i);
    const rest = text.slice(i);
    if (rest === '') return text;
    if (/^~?\{\d{1,20}\+?\}$/.test(rest)) return text; // the userid comes as a literal
    let end: number;
    if (rest[0] === '"') {
      end = 1;
      while (end < rest.length && rest[end] !== '"') end += rest[end] === '\\' ? 2 : 1;
      end = Math.min(end + 1, rest.length);
    } else {
      end = rest.indexOf(' ');
      if (end < 0) end = rest.length;
    }
    cmd.args = 1;
    return lead + rest.slice(0, end) + (end < rest.length ? ' ***' : '');
  }

  private clientLiteral(head: Buffer, total: number): void {
    const cmd = this.cmd;
    if (cmd?.verb === 'LOGIN') {
      if (cmd.args === 0) { cmd.args = 1; this.rec.client(head.toString('utf8')); } else this.rec.client('***');
      return;
    }
    if (cmd?.verb === 'APPEND') recordMessage(this.rec, 'C', head, 'the message', { total });
    else recordMessage(this.rec, 'C', head, 'the literal', { header: false, bodyLines: 2, total });
  }

  private serverLine(text: string): void {
    if (this.authTag && text.startsWith(`${this.authTag} `)) this.authTag = null;
    this.rec.server(text);
  }

  private serverLiteral(head: Buffer, total: number): void {
    // FETCH BODY[]/RFC822/BINARY: the first lines, then how much was left out
    recordMessage(this.rec, 'S', head, 'the literal', { header: false, bodyLines: 2, total });
  }
}
