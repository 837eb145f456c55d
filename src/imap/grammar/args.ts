// A cursor over a command's tokens with the RFC 3501 §9 basic productions (atom, astring, string,
// number, list, sequence-set, flag-list, date), as the grammars of the verbs use them. Syntax only:
// every error is a BAD (RFC 3501 §7.1.3), thrown as ImapBad and turned into a tagged BAD by the parser.
import type { Token } from '../parser.js';
import type { SeqArg } from '../types.js';
import { ImapBad, parseDate, parseDateTime, parseSeqSet } from '../wire.js';

const SYSTEM_FLAGS = ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft', '\\Recent'];

export class Args {
  private i = 0;
  constructor(private readonly toks: Token[]) {}

  get done(): boolean { return this.i >= this.toks.length; }
  get left(): number { return this.toks.length - this.i; }
  peek(): Token | undefined { return this.toks[this.i]; }

  /** the next token is an atom (NIL counts) spelled `word`, case-insensitively: take it */
  accept(word: string): boolean {
    const t = this.toks[this.i];
    const v = t?.t === 'atom' ? t.v : t?.t === 'nil' ? 'NIL' : null;
    if (v === null || v.toUpperCase() !== word) return false;
    this.i++;
    return true;
  }

  next(what: string): Token {
    const t = this.toks[this.i++];
    if (!t) throw new ImapBad(`missing ${what}`);
    return t;
  }

  /** RFC 3501 §9 atom (NIL is an atom where no nil is allowed) */
  atom(what: string): string {
    const t = this.next(what);
    if (t.t === 'atom') return t.v;
    if (t.t === 'nil') return 'NIL';
    throw new ImapBad(`invalid ${what}`);
  }

  /** RFC 3501 §9 astring = 1*ASTRING-CHAR / string */
  astring(what: string): string {
    const t = this.next(what);
    if (t.t === 'atom' || t.t === 'string') return t.v;
    if (t.t === 'nil') return 'NIL';
    throw new ImapBad(`invalid ${what}`);
  }

  /** RFC 3501 §9 string = quoted / literal */
  string(what: string): string {
    const t = this.next(what);
    if (t.t === 'string') return t.v;
    throw new ImapBad(`invalid ${what}`);
  }

  /** RFC 3501 §9 number / RFC 7162 §7 mod-sequence-value (up to 2^63-1; here the safe integers) */
  number(what: string): number {
    const v = this.atom(what);
    if (!/^\d{1,19}$/.test(v)) throw new ImapBad(`invalid ${what}`);
    const n = Number(v);
    if (!Number.isSafeInteger(n)) throw new ImapBad(`${what} too large`);
    return n;
  }

  /** "(" ... ")": a cursor over the list's tokens */
  list(what: string): Args {
    const t = this.next(what);
    if (t.t !== 'list') throw new ImapBad(`expected a parenthesised ${what}`);
    return new Args(t.v);
  }

  isList(): boolean { return this.toks[this.i]?.t === 'list'; }
  isString(): boolean { return this.toks[this.i]?.t === 'string'; }

  /** RFC 3501 §9 sequence-set, RFC 5182 §2.1 seq-last-command "$" */
  seqSet(what = 'sequence set'): SeqArg {
    const v = this.atom(what);
    if (v === '$') return { saved: true };
    return { saved: false, set: parseSeqSet(v) };
  }

  /** RFC 3501 §9 date (SEARCH): "1-Feb-1994", quoted or not -> UTC midnight */
  date(what = 'date'): number {
    return parseDate(this.astring(what));
  }

  /** RFC 3501 §9 date-time (APPEND), always quoted */
  dateTime(): number {
    return parseDateTime(this.string('date-time'));
  }

  /** RFC 3501 §9 flag-list = "(" [flag *(SP flag)] ")", or a flag sequence (STORE): system flags in canonical case */
  flags(what = 'flags'): string[] {
    const items = this.isList() ? this.list(what).rest() : this.rest();
    const out = new Set<string>();
    for (const t of items) {
      const f = t.t === 'atom' ? t.v : t.t === 'nil' ? 'NIL' : null;
      if (f === null) throw new ImapBad('invalid flag');
      out.add(flag(f));
    }
    return [...out];
  }

  /** what is left */
  rest(): Token[] {
    const r = this.toks.slice(this.i);
    this.i = this.toks.length;
    return r;
  }

  end(): void {
    if (!this.done) throw new ImapBad('too many arguments');
  }
}

/** RFC 3501 §9 flag = "\Answered" / ... / flag-keyword / flag-extension; keywords are atoms */
export function flag(f: string): string {
  if (f.startsWith('\\')) {
    const sys = SYSTEM_FLAGS.find((x) => x.toLowerCase() === f.toLowerCase());
    if (!sys) throw new ImapBad(`invalid system flag ${f.slice(0, 40)}`);
    return sys;
  }
  // eslint-disable-next-line no-control-regex
  if (!/^[\x21-\x7e]+$/.test(f) || /[(){%*"\\\]]/.test(f)) throw new ImapBad('invalid keyword');
  return f;
}
