// RFC 1939 §3 / RFC 2449 §4: POP3 commands are lines of a case-insensitive keyword and arguments
// separated by single spaces, ended by CRLF. Bytes in, typed commands out; no socket here.
import { Pop3Err } from './errors.js';

export type Pop3Cmd =
  | { verb: 'USER'; name: string }
  | { verb: 'PASS'; pass: string }
  | { verb: 'AUTH'; mechanism: string | null; initial: string | null }
  | { verb: 'STLS' }
  | { verb: 'CAPA' }
  | { verb: 'QUIT' }
  | { verb: 'STAT' }
  | { verb: 'LIST'; msg: number | null }
  | { verb: 'RETR'; msg: number }
  | { verb: 'DELE'; msg: number }
  | { verb: 'NOOP' }
  | { verb: 'RSET' }
  | { verb: 'TOP'; msg: number; lines: number }
  | { verb: 'UIDL'; msg: number | null };

export type Pop3Verb = Pop3Cmd['verb'];

/** Returned when the buffer holds no complete line yet. */
export const needMore = Symbol('needMore');
export type NeedMore = typeof needMore;

/** RFC 2449 §4: commands up to 255 octets; SASL responses (RFC 5034 §4) may be longer. */
export const MAX_LINE = 8192;

const NUM = /^[0-9]{1,9}$/;

function msgNumber(arg: string | undefined, what = 'message number'): number {
  if (arg === undefined || !NUM.test(arg)) throw new Pop3Err(`invalid ${what}`);
  return Number(arg);
}

function noArgs(verb: Pop3Verb, args: string[]): void {
  if (args.length) throw new Pop3Err(`${verb} takes no arguments`);
}

/** One command line (without CRLF) -> a typed command. Throws Pop3Err on bad syntax. */
export function parseCommand(line: string): Pop3Cmd {
  const sp = line.indexOf(' ');
  const keyword = (sp < 0 ? line : line.slice(0, sp)).toUpperCase();
  const rest = sp < 0 ? '' : line.slice(sp + 1);
  const args = rest === '' ? [] : rest.split(' ');
  switch (keyword) {
    case 'USER':
      if (rest === '') throw new Pop3Err('USER needs a name');
      return { verb: 'USER', name: rest };
    case 'PASS':
      // RFC 1939 §7: the password may contain spaces; it is the rest of the line
      if (rest === '') throw new Pop3Err('PASS needs a password');
      return { verb: 'PASS', pass: rest };
    case 'AUTH':
      // "AUTH" alone lists the mechanisms; "AUTH  x" (empty mechanism) is not that
      if (args.length > 2 || (args.length > 0 && args[0] === '')) throw new Pop3Err('AUTH mechanism [initial-response]');
      return { verb: 'AUTH', mechanism: args[0] ? args[0].toUpperCase() : null, initial: args[1] ?? null };
    case 'STLS': case 'CAPA': case 'QUIT': case 'STAT': case 'NOOP': case 'RSET':
      noArgs(keyword, args);
      return { verb: keyword };
    case 'LIST': case 'UIDL':
      if (args.length > 1) throw new Pop3Err(`${keyword} takes at most one argument`);
      return { verb: keyword, msg: args.length ? msgNumber(args[0]) : null };
    case 'RETR': case 'DELE':
      if (args.length !== 1) throw new Pop3Err(`${keyword} needs a message number`);
      return { verb: keyword, msg: msgNumber(args[0]) };
    case 'TOP':
      if (args.length !== 2) throw new Pop3Err('TOP needs a message number and a line count');
      return { verb: 'TOP', msg: msgNumber(args[0]), lines: msgNumber(args[1], 'line count') };
    default:
      throw new Pop3Err('unknown command');
  }
}

/**
 * Incremental line splitter: push() bytes as they arrive, next() yields commands in order.
 * The buffer is bounded: a line longer than MAX_LINE is dropped up to its LF and reported once.
 */
const EMPTY = Buffer.alloc(0);

export class Pop3Parser {
  private buf: Buffer = EMPTY;
  private skipping = false; // inside an overlong line: drop bytes until LF

  constructor(private readonly maxLine = MAX_LINE) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
  }

  /** Bytes held that are not yet a complete line. */
  get buffered(): number {
    return this.buf.length;
  }

  /** Forget everything buffered (STLS: plaintext pipelined after the command is discarded). */
  reset(): void {
    this.buf = EMPTY;
    this.skipping = false;
  }

  /** The next raw line (CRLF or bare LF stripped), needMore, or a Pop3Err thrown for an overlong line. */
  nextLine(): string | NeedMore {
    for (;;) {
      const lf = this.buf.indexOf(0x0a);
      if (this.skipping) {
        if (lf < 0) { this.buf = EMPTY; return needMore; }
        this.buf = this.buf.subarray(lf + 1);
        this.skipping = false;
        continue;
      }
      if (lf < 0) {
        // the line so far, less a final CR that may be half of its CRLF: the same limit however it arrives
        if (this.buf.length - (this.buf[this.buf.length - 1] === 0x0d ? 1 : 0) > this.maxLine) {
          this.buf = EMPTY;
          this.skipping = true;
          throw new Pop3Err('line too long');
        }
        return needMore;
      }
      const end = lf > 0 && this.buf[lf - 1] === 0x0d ? lf - 1 : lf;
      if (end > this.maxLine) {
        this.buf = this.buf.subarray(lf + 1);
        throw new Pop3Err('line too long');
      }
      const line = this.buf.toString('utf8', 0, end);
      this.buf = this.buf.subarray(lf + 1);
      if (this.buf.length === 0) this.buf = EMPTY;
      return line;
    }
  }

  /** The next command, needMore, or a Pop3Err thrown for a bad line (the line is consumed). */
  next(): Pop3Cmd | NeedMore {
    const line = this.nextLine();
    return line === needMore ? needMore : parseCommand(line);
  }
}
