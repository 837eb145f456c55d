// RFC 3501 §9 (formal syntax), RFC 7888 (LITERAL+): bytes -> a typed command, incrementally.
// No socket and no session here: the session pushes bytes and asks for the next command. Two layers:
// TokenReader cuts the bytes into a tag, a verb and tokens (atoms, strings, literals, lists); the
// verb's grammar (grammar/) turns the tokens into an ImapCmd. A line that ends in a literal {n}
// makes the reader stop and ask the session to send "+" (or, for {n+}, read on).
// Every buffer is bounded: a line, the number of literals and their size.
import { Args, SYNTAX, isVerb } from './grammar/index.js';
import type { ImapCmd } from './types.js';
import { ImapBad } from './wire.js';

export type Token =
  | { t: 'atom'; v: string }
  /** binary: a literal8 (RFC 3516 §4.3 ~{n}) */
  | { t: 'string'; v: string; bytes: Buffer; literal: boolean; binary?: true }
  | { t: 'list'; v: Token[] }
  | { t: 'nil' };

/** A command as tokens, before its verb's grammar has read them. */
export interface ParsedCommand {
  tag: string;
  /** the command verb, upper case; for "UID FETCH" it is "FETCH" and uid is true */
  name: string;
  uid: boolean;
  args: Token[];
}

export class ParseError extends Error {
  constructor(message: string, readonly tag: string | null = null) { super(message); }
}

export interface ParserLimits {
  /** one line, without literals */
  maxLine: number;
  /** a literal of an ordinary command */
  maxLiteral: number;
  /** a literal of APPEND (the message) */
  maxAppendLiteral: number;
  /** literals per command */
  maxLiterals: number;
}

export const DEFAULT_LIMITS: ParserLimits = { maxLine: 64 * 1024, maxLiteral: 64 * 1024, maxAppendLiteral: 25 * 1024 * 1024, maxLiterals: 100 };

/** What the token layer yields. */
export type TokenResult =
  | { kind: 'command'; cmd: ParsedCommand }
  | Incomplete;

/** What the parser yields: a typed command, or why there is none (yet). */
export type ParseResult =
  | { kind: 'command'; cmd: ImapCmd }
  | Incomplete;

type Incomplete =
  | { kind: 'needMore' }
  /** a synchronizing literal is announced: the session sends "+ ..." and pushes the bytes */
  | { kind: 'continue'; size: number }
  /** bad syntax: the command (up to its end) was consumed */
  | { kind: 'bad'; tag: string | null; message: string }
  /** a literal over the limit: a sync one was refused before reading; a non-sync one cannot be skipped */
  | { kind: 'toobig'; tag: string | null; size: number; sync: boolean }
  /** a line longer than maxLine: the stream cannot be resynchronised */
  | { kind: 'linetoolong' };

/** {n}, {n+} and RFC 3516 literal8 ~{n} at the end of a line */
const LITERAL_AT_END = /~?\{(\d{1,20})(\+?)\}$/;

interface Segment { text: string; literal: Buffer | null; binary: boolean }

const EMPTY = Buffer.alloc(0);

export class TokenReader {
  /** bytes not yet consumed, while a line is being read */
  private buf: Buffer = EMPTY;
  /** while a literal is read: its bytes as they came (and what follows), joined once when complete */
  private litParts: Buffer[] = [];
  private litLen = 0;
  private segments: Segment[] = [];
  private literalNeed = -1; // bytes of the pending literal, -1 when reading a line
  private literalCount = 0;
  private literalBytes = 0;
  private continueSent = false;
  readonly limits: ParserLimits;

  constructor(limits: Partial<ParserLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  push(chunk: Buffer): void {
    if (this.literalNeed >= 0) {
      // a literal (up to 25 MiB for APPEND) is not copied per chunk: the parts are joined once
      this.toLiteralParts();
      this.litParts.push(chunk);
      this.litLen += chunk.length;
      return;
    }
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
  }

  private toLiteralParts(): void {
    if (!this.buf.length) return;
    this.litParts.unshift(this.buf);
    this.litLen += this.buf.length;
    this.buf = EMPTY;
  }

  /** bytes waiting (STARTTLS checks this: plaintext pipelined after it is discarded) */
  get buffered(): number { return this.buf.length + this.litLen; }

  /** take the bytes buffered after the last command (COMPRESS: they are already compressed) */
  takeBuffered(): Buffer {
    const b = this.litLen ? Buffer.concat([this.buf, ...this.litParts]) : this.buf;
    this.buf = EMPTY;
    this.litParts = [];
    this.litLen = 0;
    return b;
  }

  /** drop everything buffered and any half-read command */
  reset(): void {
    this.buf = EMPTY;
    this.litParts = [];
    this.litLen = 0;
    this.segments = [];
    this.literalNeed = -1;
    this.literalCount = 0;
    this.literalBytes = 0;
    this.continueSent = false;
  }

  /** true while a command is half-read (a literal announced or being read) */
  get midCommand(): boolean { return this.segments.length > 0 || this.literalNeed >= 0; }

  /** A raw line (AUTHENTICATE continuations, IDLE's DONE), or null when none is complete. */
  nextLine(): string | null | 'toolong' {
    const lf = this.buf.indexOf(0x0a);
    if (lf < 0) return this.buf.length > this.limits.maxLine ? 'toolong' : null;
    if (lf > this.limits.maxLine) return 'toolong';
    const end = lf > 0 && this.buf[lf - 1] === 0x0d ? lf - 1 : lf;
    const line = this.buf.toString('utf8', 0, end);
    this.buf = this.buf.subarray(lf + 1);
    return line;
  }

  next(): TokenResult {
    for (;;) {
      if (this.literalNeed >= 0) {
        this.toLiteralParts();
        if (this.litLen < this.literalNeed) return { kind: 'needMore' };
        const all = this.litParts.length === 1 ? this.litParts[0] : Buffer.concat(this.litParts, this.litLen);
        // a small literal is copied out of the (maybe large) chunk it came in, so the chunk is not kept alive
        const lit = this.literalNeed < 4096 && all.length > 4 * this.literalNeed ? Buffer.from(all.subarray(0, this.literalNeed)) : all.subarray(0, this.literalNeed);
        this.buf = all.subarray(this.literalNeed);
        this.litParts = [];
        this.litLen = 0;
        this.segments[this.segments.length - 1].literal = lit;
        this.literalNeed = -1;
        this.continueSent = false;
        continue;
      }
      const lf = this.buf.indexOf(0x0a);
      if (lf < 0) {
        if (this.buf.length > this.limits.maxLine) { this.reset(); return { kind: 'linetoolong' }; }
        return { kind: 'needMore' };
      }
      if (lf > this.limits.maxLine) { this.reset(); return { kind: 'linetoolong' }; }
      const end = lf > 0 && this.buf[lf - 1] === 0x0d ? lf - 1 : lf;
      let text = this.buf.toString('utf8', 0, end);
      this.buf = this.buf.subarray(lf + 1);
      const m = LITERAL_AT_END.exec(text);
      if (!m) {
        this.segments.push({ text, literal: null, binary: false });
        const segs = this.segments;
        this.segments = [];
        this.literalCount = 0;
    this.literalBytes = 0;
        try {
          return { kind: 'command', cmd: buildCommand(segs) };
        } catch (err) {
          if (err instanceof ParseError) return { kind: 'bad', tag: err.tag ?? guessTag(segs[0].text), message: err.message };
          throw err;
        }
      }
      const size = Number(m[1]);
      const sync = m[2] !== '+';
      text = text.slice(0, m.index);
      this.segments.push({ text, literal: null, binary: m[0].startsWith('~') });
      const first = this.segments[0].text;
      const isAppend = /^\S+\s+APPEND\s/i.test(first);
      const max = isAppend ? this.limits.maxAppendLiteral : this.limits.maxLiteral;
      // MULTIAPPEND (RFC 3502) sends several messages in one command: their sum is bounded too
      this.literalBytes += size;
      if (size > max || ++this.literalCount > this.limits.maxLiterals || this.literalBytes > 4 * this.limits.maxAppendLiteral) {
        const tag = guessTag(first);
        this.segments = [];
        this.literalCount = 0;
    this.literalBytes = 0;
        if (!sync) this.buf = EMPTY; // its bytes are on their way: the session closes
        return { kind: 'toobig', tag, size, sync };
      }
      this.literalNeed = size;
      if (sync && !this.continueSent) {
        this.continueSent = true;
        return { kind: 'continue', size };
      }
    }
  }
}

function guessTag(line: string): string | null {
  const m = /^([^\x00-\x20\x7f-\uffff(){%*"\\\]+]+)/.exec(line); // printable ASCII only: it is echoed
  return m ? m[1] : null;
}

/** the fetch-att names a section in brackets follows */
const SECTION_ATOMS = /^(?:BODY|BODY\.PEEK|BINARY|BINARY\.PEEK|BINARY\.SIZE)$/i;

const ATOM_SPECIALS = new Set(['(', ')', '{', ' ', '"', '\\', ']', '%', '*']);

function isTagChar(c: string): boolean {
  const code = c.charCodeAt(0);
  return code > 0x20 && code < 0x7f && !'(){ %*"\\+'.includes(c);
}

function buildCommand(segs: Segment[]): ParsedCommand {
  const first = segs[0].text;
  if (first.length === 0) throw new ParseError('empty command line');
  let i = 0;
  while (i < first.length && isTagChar(first[i])) i++;
  const tag = first.slice(0, i);
  if (!tag) throw new ParseError('missing or invalid tag');
  if (first[i] !== ' ') throw new ParseError('missing command', tag);
  const toks = tokenize(segs, i + 1, tag);
  const verb = toks.shift();
  if (!verb || verb.t !== 'atom') throw new ParseError('missing command', tag);
  let name = verb.v.toUpperCase();
  let uid = false;
  if (name === 'UID') {
    const v2 = toks.shift();
    if (!v2 || v2.t !== 'atom') throw new ParseError('UID needs a command', tag);
    name = v2.v.toUpperCase();
    uid = true;
  }
  if (!/^[A-Z0-9-]+$/.test(name) && !/^[A-Z0-9.=-]+$/.test(name)) throw new ParseError('invalid command name', tag);
  return { tag, name, uid, args: toks };
}

/** Tokens of the whole command: atoms, quoted strings, literals, parenthesised lists, NIL. */
function tokenize(segs: Segment[], start: number, tag: string): Token[] {
  const root: Token[] = [];
  const stack: Token[][] = [root];
  let top = root;
  for (let s = 0; s < segs.length; s++) {
    const { text, literal, binary } = segs[s];
    let p = s === 0 ? start : 0;
    while (p < text.length) {
      const c = text[p];
      if (c === ' ') { p++; continue; }
      if (c === '(') {
        const l: Token[] = [];
        top.push({ t: 'list', v: l });
        stack.push(l);
        if (stack.length > 32) throw new ParseError('lists nested too deeply', tag);
        top = l;
        p++;
        continue;
      }
      if (c === ')') {
        if (stack.length === 1) throw new ParseError('unbalanced parenthesis', tag);
        stack.pop();
        top = stack[stack.length - 1];
        p++;
        continue;
      }
      if (c === '"') {
        let out = '';
        p++;
        let closed = false;
        while (p < text.length) {
          const d = text[p];
          if (d === '\\') {
            const e = text[p + 1];
            if (e !== '"' && e !== '\\') throw new ParseError('invalid escape in quoted string', tag);
            out += e;
            p += 2;
            continue;
          }
          if (d === '"') { closed = true; p++; break; }
          if (d === '\r' || d === '\n') throw new ParseError('CR or LF in quoted string', tag);
          out += d;
          p++;
        }
        if (!closed) throw new ParseError('unterminated quoted string', tag);
        top.push({ t: 'string', v: out, bytes: Buffer.from(out, 'utf8'), literal: false });
        continue;
      }
      if (c === '{') throw new ParseError('literal not at the end of a line', tag);
      // an atom. After BODY, BODY.PEEK, BINARY, BINARY.PEEK and BINARY.SIZE, "[...]" is a section
      // (RFC 3501 §9 fetch-att, RFC 3516 §4) taken whole with its spaces; anywhere else "[" and "]"
      // are ordinary characters (ATOM-CHAR, and "]" is an ASTRING-CHAR: RFC 3501 §9)
      const a = p;
      while (p < text.length) {
        const d = text[p];
        if (d === '[' && SECTION_ATOMS.test(text.slice(a, p))) {
          let depth = 0;
          while (p < text.length) {
            if (text[p] === '[') depth++;
            else if (text[p] === ']' && --depth === 0) break;
            p++;
          }
          if (p >= text.length) throw new ParseError('unterminated [', tag);
          p++;
          continue;
        }
        if (d === ' ' || d === '(' || d === ')' || d === '"' || d === '{') break;
        if (d.charCodeAt(0) < 0x20 || d.charCodeAt(0) === 0x7f) throw new ParseError('control character in atom', tag);
        p++;
      }
      const v = text.slice(a, p);
      if (v.toUpperCase() === 'NIL') top.push({ t: 'nil' });
      else top.push({ t: 'atom', v });
    }
    if (literal) {
      // the text of a literal is decoded only if a grammar asks for it (a 25 MiB APPEND never is)
      const bytes = literal;
      const tok: Token = { t: 'string', get v() { return bytes.toString('utf8'); }, bytes, literal: true };
      if (binary) tok.binary = true;
      top.push(tok);
    } else if (s < segs.length - 1) {
      throw new ParseError('literal missing', tag);
    }
  }
  if (stack.length !== 1) throw new ParseError('unbalanced parenthesis', tag);
  return root;
}

export const isAtomSpecial = (c: string) => ATOM_SPECIALS.has(c);

/**
 * Bytes in, typed commands out (RFC 3501 §9): the token reader, then the verb's grammar. A command
 * the server does not know, "UID" before a verb that does not take it, or arguments that break the
 * verb's grammar are a BAD with the command's tag; the stream goes on with the next command.
 */
export class ImapParser {
  private readonly reader: TokenReader;
  constructor(limits: Partial<ParserLimits> = {}) { this.reader = new TokenReader(limits); }
  get limits(): ParserLimits { return this.reader.limits; }
  push(chunk: Buffer): void { this.reader.push(chunk); }
  get buffered(): number { return this.reader.buffered; }
  takeBuffered(): Buffer { return this.reader.takeBuffered(); }
  reset(): void { this.reader.reset(); }
  get midCommand(): boolean { return this.reader.midCommand; }
  nextLine(): string | null | 'toolong' { return this.reader.nextLine(); }

  next(): ParseResult {
    const r = this.reader.next();
    if (r.kind !== 'command') return r;
    try {
      return { kind: 'command', cmd: typed(r.cmd) };
    } catch (err) {
      if (err instanceof ImapBad) return { kind: 'bad', tag: r.cmd.tag, message: err.message };
      throw err;
    }
  }
}

/** Tokens -> the typed command (RFC 3501 §9 command = tag SP (command-any / command-auth / ...) CRLF). */
export function typed(c: ParsedCommand): ImapCmd {
  const verb = c.name;
  const syntax = isVerb(verb) ? SYNTAX[verb] : null;
  if (!syntax || (c.uid && !syntax.uid)) throw new ImapBad(`unknown command ${c.uid ? 'UID ' : ''}${verb.slice(0, 40)}`);
  const args = (syntax.parse as (a: Args, uid: boolean) => ImapCmd)(new Args(c.args), c.uid);
  return { ...args, tag: c.tag };
}
