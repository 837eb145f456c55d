// MIME structure parser (RFC 2045, RFC 2046, RFC 2047, RFC 2231) for the IMAP server's
// BODYSTRUCTURE, ENVELOPE and BODY[section] (RFC 3501 §6.4.5, §7.4.2).
//
// Pure and free of I/O. It runs once per delivered message; the result is stored as JSON,
// so everything returned is plain data (strings, numbers, arrays, objects, null).
//
// Design notes:
// - The message is only ever looked at as bytes. Header fields are read as "binary strings"
//   (latin1: one char per byte, so no information is lost), and only the values that end up in
//   the result are turned into text: UTF-8 when the bytes are valid UTF-8 (RFC 6532), else latin1.
// - The walk is iterative (an explicit stack), so deeply nested or very wide messages cannot blow
//   the JS stack. Past the limits we stop descending / adding parts and set `truncated`; the
//   content that was not split stays inside the body range of the last part we accepted.
// - Every offset is an absolute byte offset into the raw buffer, also inside embedded messages.
// - Malformed input never throws: any bytes give some tree.
//
// Notes for consumers (the IMAP renderer):
// - A multipart/* part has `parts` only when it was actually split into at least one child. A
//   multipart without a boundary parameter, without any delimiter line, or beyond the depth/part
//   limits has no `parts` and is an opaque leaf (render it as a single-part body; Dovecot shows
//   such parts as application/octet-stream).
// - Likewise a message/rfc822 (or message/global) part has `message` only when the embedded
//   message was parsed; one with a base64/quoted-printable encoding (forbidden by RFC 2046
//   §5.2.1) or beyond the limits is an opaque leaf.

/** RFC 3501 §7.4.2 address structure; `adl` is the obsolete source route ("@a,@b"), else null. */
export interface Address { name: string | null; adl: string | null; mailbox: string | null; host: string | null }

export interface Envelope {
  date: string | null; subject: string | null;
  from: Address[] | null; sender: Address[] | null; replyTo: Address[] | null;
  to: Address[] | null; cc: Address[] | null; bcc: Address[] | null;
  inReplyTo: string | null; messageId: string | null;
}

export interface MimePart {
  /** byte offset of the part's header block in the raw message */
  headerStart: number;
  /** byte offset of the first body byte (just past the blank line ending the header) */
  bodyStart: number;
  /** byte offset just past the body (multipart child: before the CRLF preceding the next delimiter) */
  bodyEnd: number;
  /** lower-case media type, e.g. "text" */
  type: string;
  /** lower-case media subtype, e.g. "plain" */
  subtype: string;
  /** Content-Type parameters: names lower-cased, values unquoted and RFC 2231-decoded */
  params: [string, string][];
  id: string | null;
  description: string | null;
  /** Content-Transfer-Encoding as written (default "7bit") */
  encoding: string;
  md5: string | null;
  disposition: { type: string; params: [string, string][] } | null;
  language: string[] | null;
  location: string | null;
  /** body octets: bodyEnd - bodyStart */
  size: number;
  /** body lines: the count of LFs in the body (as Dovecot reports them: "Hello" is 0 lines) */
  lines: number;
  /** multipart/*: the children, in order */
  parts?: MimePart[];
  /** message/rfc822 and message/global: the embedded message (absolute offsets, same buffer) */
  message?: { envelope: Envelope; root: MimePart };
}

export interface MimeTree {
  root: MimePart;
  envelope: Envelope;
  /** header fields parsed in all header blocks of the tree (root, parts, embedded messages) */
  headerCount: number;
  /** MimePart objects in the tree, root and embedded message roots included */
  partCount: number;
  /** true when a limit (maxDepth, maxParts, maxHeaders) stopped the parse somewhere */
  truncated: boolean;
}

export interface MimeLimits {
  /** levels of nesting: the root is level 1; multipart children and embedded message roots add one */
  maxDepth: number;
  /** MimePart objects in the whole tree */
  maxParts: number;
  /** header fields kept per header block */
  maxHeaders: number;
}

const DEFAULT_LIMITS: MimeLimits = { maxDepth: 64, maxParts: 10000, maxHeaders: 2000 };

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HT = 0x09;

// ---------------------------------------------------------------------------------------------
// Text helpers
// ---------------------------------------------------------------------------------------------

const utf8Fatal = new TextDecoder('utf-8', { fatal: true });
const decoderCache = new Map<string, TextDecoder | null>();

/** Bytes to text: UTF-8 when valid (RFC 6532 allows raw UTF-8 in headers), else latin1. */
function bytesToText(bytes: Uint8Array): string {
  try {
    return utf8Fatal.decode(bytes);
  } catch {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  }
}

/** A binary (latin1) string to text: ASCII stays as is; 8-bit bytes are read as UTF-8 if valid. */
function binToText(bin: string): string {
  if (!/[\x80-\xff]/.test(bin)) return bin;
  return bytesToText(Buffer.from(bin, 'latin1'));
}

/** A TextDecoder for a MIME charset name, or null when the runtime does not know it. */
function decoderFor(charset: string): TextDecoder | null {
  const label = charset.trim().toLowerCase();
  let d = decoderCache.get(label);
  if (d === undefined) {
    try {
      d = new TextDecoder(label);
    } catch {
      d = null;
    }
    if (decoderCache.size < 256) decoderCache.set(label, d);
  }
  return d;
}

/** Decode bytes in a declared charset; an empty or unknown charset falls back to bytesToText. */
function decodeCharset(bytes: Uint8Array, charset: string): string {
  if (charset === '') return bytesToText(bytes);
  const d = decoderFor(charset);
  return d ? d.decode(bytes) : bytesToText(bytes);
}

function isWsp(c: number): boolean {
  return c === SP || c === HT;
}

// ---------------------------------------------------------------------------------------------
// Header blocks (RFC 5322 §2.2)
// ---------------------------------------------------------------------------------------------

/**
 * Where the header block starting at `start` ends, scanning no further than `end`.
 * Returns [headerEnd, bodyStart]: headerEnd is the start of the blank line (exclusive end of the
 * header fields), bodyStart is just past it. Without a blank line, everything is header and the
 * body is empty at `end`. Both CRLF and bare LF line ends are accepted.
 */
function findHeaderEnd(raw: Buffer, start: number, end: number): [number, number] {
  let pos = start;
  while (pos < end) {
    const c = raw[pos];
    if (c === LF) return [pos, pos + 1];
    if (c === CR && pos + 1 < end && raw[pos + 1] === LF) return [pos, pos + 2];
    const lf = raw.indexOf(LF, pos);
    if (lf < 0 || lf >= end) break;
    pos = lf + 1;
  }
  return [end, end];
}

/** A valid RFC 5322 §3.6.8 field-name: printable US-ASCII except ":" (so no spaces). */
function isFieldName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 33 || c > 126) return false;
  }
  return true;
}

/**
 * Header fields of [start, end) as binary (latin1) strings: [name, unfolded value] pairs.
 * Unfolding (RFC 5322 §2.2.3) removes the line break before continuation whitespace; the
 * value's leading whitespace is dropped. Lines that are not fields (e.g. an mbox "From " line)
 * are skipped. Stops after maxHeaders fields; `truncated` tells whether it had to.
 */
function parseFieldsBin(raw: Buffer, start: number, end: number, maxHeaders: number):
  { fields: [string, string][]; truncated: boolean } {
  const fields: [string, string][] = [];
  let name: string | null = null;
  let value = '';
  let truncated = false;
  const finish = (): boolean => {
    if (name !== null) {
      if (fields.length >= maxHeaders) { truncated = true; return false; }
      let i = 0;
      while (i < value.length && (value.charCodeAt(i) === SP || value.charCodeAt(i) === HT)) i++;
      fields.push([name, value.slice(i)]);
      name = null;
    }
    return true;
  };
  start = Math.max(0, start);
  end = Math.min(end, raw.length);
  let pos = start;
  while (pos < end) {
    let lf = raw.indexOf(LF, pos);
    if (lf < 0 || lf >= end) lf = end;
    let contentEnd = lf;
    if (contentEnd > pos && raw[contentEnd - 1] === CR) contentEnd--;
    if (isWsp(raw[pos])) {
      // continuation line: RFC 5322 §2.2.3 unfolding keeps the WSP, drops the CRLF
      if (name !== null) value += raw.toString('latin1', pos, contentEnd);
    } else {
      if (!finish()) break;
      // search for the colon within this line only (no scanning ahead into later lines)
      const rel = raw.subarray(pos, contentEnd).indexOf(0x3a);
      const colon = rel < 0 ? -1 : pos + rel;
      if (colon >= 0) {
        const n = raw.toString('latin1', pos, colon).replace(/[ \t]+$/, '');
        if (isFieldName(n)) {
          name = n;
          value = raw.toString('latin1', colon + 1, contentEnd);
        }
      }
    }
    pos = lf + 1;
  }
  if (!truncated) finish();
  return { fields, truncated };
}

/**
 * Parse the header fields in raw[start, end): unfolded [name as written, value] pairs, the value
 * without its leading whitespace. Values are text (UTF-8 if the bytes are valid UTF-8, else latin1).
 */
export function parseHeaderBlock(raw: Buffer, start: number, end: number, maxHeaders = DEFAULT_LIMITS.maxHeaders): [string, string][] {
  const { fields } = parseFieldsBin(raw, start, end, maxHeaders);
  return fields.map(([n, v]) => [n, binToText(v)] as [string, string]);
}

/** First field with this (lower-case) name, or undefined. */
function getField(fields: [string, string][], lname: string): string | undefined {
  for (const [n, v] of fields) if (n.length === lname.length && n.toLowerCase() === lname) return v;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Structured MIME header values: Content-Type, Content-Disposition (RFC 2045 §5.1, RFC 2183)
// ---------------------------------------------------------------------------------------------

/** RFC 2045 §5.1 tspecials (plus whitespace and CTLs), which end a token. */
function isTokenChar(c: number): boolean {
  if (c <= 32 || c >= 127) return c >= 128; // allow 8-bit bytes leniently
  return '()<>@,;:\\"/[]?='.indexOf(String.fromCharCode(c)) < 0;
}

/** Skip whitespace and RFC 5322 §3.2.2 comments (nested, with quoted-pairs). */
function skipCfws(s: string, pos: number): number {
  while (pos < s.length) {
    const c = s.charCodeAt(pos);
    if (c === SP || c === HT || c === CR || c === LF) { pos++; continue; }
    if (c === 0x28 /* ( */) {
      let depth = 0;
      while (pos < s.length) {
        const d = s.charCodeAt(pos);
        if (d === 0x5c /* \ */) { pos += 2; continue; }
        if (d === 0x28) depth++;
        else if (d === 0x29 && --depth === 0) { pos++; break; }
        pos++;
      }
      continue;
    }
    break;
  }
  return Math.min(pos, s.length);
}

function readToken(s: string, pos: number): [string, number] {
  const start = pos;
  while (pos < s.length && isTokenChar(s.charCodeAt(pos))) pos++;
  return [s.slice(start, pos), pos];
}

/** RFC 5322 §3.2.4 quoted-string starting at the opening quote: [unescaped content, next pos]. */
function readQuoted(s: string, pos: number): [string, number] {
  let out = '';
  pos++; // opening quote
  while (pos < s.length) {
    const c = s.charCodeAt(pos);
    if (c === 0x22) return [out, pos + 1];
    if (c === 0x5c && pos + 1 < s.length) { out += s[pos + 1]; pos += 2; continue; }
    if (c !== CR && c !== LF) out += s[pos];
    pos++;
  }
  return [out, pos]; // unterminated: take the rest
}

interface RawParam { name: string; value: string }

/** `; attribute=value` list (RFC 2045 §5.1) from `pos`, values unquoted, still binary strings. */
function parseRawParams(s: string, pos: number): RawParam[] {
  const out: RawParam[] = [];
  while (pos < s.length) {
    pos = skipCfws(s, pos);
    if (pos >= s.length) break;
    if (s.charCodeAt(pos) === 0x3b /* ; */) { pos++; continue; }
    // attribute: read up to "=", ";" or whitespace (lenient about tspecials in names)
    const aStart = pos;
    while (pos < s.length) {
      const c = s.charCodeAt(pos);
      if (c === 0x3d || c === 0x3b || c === SP || c === HT || c === CR || c === LF || c === 0x28 || c === 0x22) break;
      pos++;
    }
    const name = s.slice(aStart, pos).toLowerCase();
    pos = skipCfws(s, pos);
    if (pos >= s.length || s.charCodeAt(pos) !== 0x3d /* = */) {
      // not an attribute=value pair: skip to the next ";"
      if (pos === aStart) pos++;
      while (pos < s.length && s.charCodeAt(pos) !== 0x3b) pos++;
      continue;
    }
    pos = skipCfws(s, pos + 1);
    let value = '';
    if (pos < s.length && s.charCodeAt(pos) === 0x22) {
      [value, pos] = readQuoted(s, pos);
    } else {
      // token (lenient: anything up to ";", whitespace or a comment, e.g. boundary==_Part_=)
      const vStart = pos;
      while (pos < s.length) {
        const c = s.charCodeAt(pos);
        if (c === 0x3b || c === SP || c === HT || c === CR || c === LF || c === 0x28 || c === 0x22) break;
        pos++;
      }
      value = s.slice(vStart, pos);
    }
    if (name !== '') out.push({ name, value });
    // ignore anything else up to the next ";"
    pos = skipCfws(s, pos);
    while (pos < s.length && s.charCodeAt(pos) !== 0x3b) pos++;
  }
  return out;
}

/** Percent-decode an RFC 2231 §4 extended value (binary string) into bytes. */
function pctDecode(s: string, out: number[]): void {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 /* % */ && i + 2 < s.length && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      out.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      out.push(c & 0xff);
    }
  }
}

/**
 * Join RFC 2231 §3 continuations (name*0, name*1*, ...) and decode §4 extended values
 * (charset'language'%XX) into text. Names come out lower-cased, in order of first appearance;
 * an extended/continued form wins over a plain one of the same name, and the first duplicate wins.
 */
function finishParams(rawParams: RawParam[]): [string, string][] {
  interface Group {
    plain: string | null;
    ext: string | null;                       // name*=...
    sections: { idx: number; ext: boolean; value: string }[]; // name*N= / name*N*=
  }
  const groups = new Map<string, Group>();
  const order: string[] = [];
  for (const { name, value } of rawParams) {
    let base = name;
    let idx = -1;
    let ext = false;
    const m = /^(.+?)\*(\d{1,4})(\*?)$/.exec(name);
    if (m) {
      base = m[1]; idx = parseInt(m[2], 10); ext = m[3] === '*';
    } else if (name.length > 1 && name.endsWith('*')) {
      base = name.slice(0, -1); ext = true;
    }
    let g = groups.get(base);
    if (!g) {
      if (groups.size >= 1000) continue; // bound pathological headers
      g = { plain: null, ext: null, sections: [] };
      groups.set(base, g);
      order.push(base);
    }
    if (idx >= 0) {
      if (!g.sections.some((s) => s.idx === idx) && g.sections.length < 1000) g.sections.push({ idx, ext, value });
    } else if (ext) {
      if (g.ext === null) g.ext = value;
    } else if (g.plain === null) {
      g.plain = value;
    }
  }
  const out: [string, string][] = [];
  for (const base of order) {
    const g = groups.get(base)!;
    let value: string;
    if (g.ext !== null) {
      value = decodeExtended([{ idx: 0, ext: true, value: g.ext }]);
    } else if (g.sections.length > 0) {
      g.sections.sort((a, b) => a.idx - b.idx);
      value = decodeExtended(g.sections);
    } else {
      value = binToText(g.plain ?? '');
    }
    out.push([base, value]);
  }
  return out;
}

/** RFC 2231 §4: the first extended section carries charset'language'; the rest are %XX or literal. */
function decodeExtended(sections: { idx: number; ext: boolean; value: string }[]): string {
  const bytes: number[] = [];
  let charset = '';
  sections.forEach((sec, i) => {
    let v = sec.value;
    if (sec.ext && i === 0) {
      const q1 = v.indexOf("'");
      const q2 = q1 >= 0 ? v.indexOf("'", q1 + 1) : -1;
      if (q2 >= 0) {
        charset = v.slice(0, q1);
        v = v.slice(q2 + 1);
      }
    }
    if (sec.ext) pctDecode(v, bytes);
    else for (let j = 0; j < v.length; j++) bytes.push(v.charCodeAt(j) & 0xff);
  });
  return decodeCharset(Uint8Array.from(bytes), charset);
}

/** RFC 2045 §5.1 Content-Type: [type, subtype, params, boundary (binary)] or null if invalid. */
function parseContentType(v: string): { type: string; subtype: string; params: [string, string][]; boundary: string | null } | null {
  let pos = skipCfws(v, 0);
  let type: string;
  let subtype: string;
  [type, pos] = readToken(v, pos);
  pos = skipCfws(v, pos);
  if (type === '' || v.charCodeAt(pos) !== 0x2f /* / */) return null;
  pos = skipCfws(v, pos + 1);
  [subtype, pos] = readToken(v, pos);
  if (subtype === '') return null;
  const raw = parseRawParams(v, pos);
  // the boundary is matched against bytes, so keep it as a binary string (RFC 2046 §5.1.1)
  let boundary: string | null = null;
  for (const p of raw) if (p.name === 'boundary') { boundary = p.value; break; }
  return { type: type.toLowerCase(), subtype: subtype.toLowerCase(), params: finishParams(raw), boundary };
}

/** RFC 2183 Content-Disposition: type and parameters, or null when empty. */
function parseDisposition(v: string): { type: string; params: [string, string][] } | null {
  let pos = skipCfws(v, 0);
  let type: string;
  [type, pos] = readToken(v, pos);
  if (type === '') return null;
  return { type: binToText(type).toLowerCase(), params: finishParams(parseRawParams(v, pos)) };
}

/** Remove RFC 5322 comments and trim: for simple values like Content-Transfer-Encoding. */
function stripComments(v: string): string {
  let out = '';
  let pos = 0;
  while (pos < v.length) {
    const c = v.charCodeAt(pos);
    if (c === 0x28) { pos = skipCfws(v, pos); out += ' '; continue; }
    if (c === 0x22) { const [q, p] = readQuoted(v, pos); out += q; pos = p; continue; }
    out += v[pos++];
  }
  return out.trim();
}

// ---------------------------------------------------------------------------------------------
// Addresses for ENVELOPE (RFC 5322 §3.4, RFC 3501 §7.4.2)
// ---------------------------------------------------------------------------------------------

interface Tok {
  kind: 'atom' | 'quoted' | 'literal' | 'special';
  /** atom text, unquoted string content, or the special character */
  text: string;
  /** as written (quoted strings keep their quotes) */
  raw: string;
  /** whitespace or a comment came before this token */
  space: boolean;
}

/** Tokenize an address-list header value (binary string); comments are returned separately. */
function tokenizeAddresses(s: string): { toks: Tok[]; comments: (string | null)[] } {
  const toks: Tok[] = [];
  const comments: (string | null)[] = []; // comments[i]: last comment seen before toks[i] (index toks.length = trailing)
  let pos = 0;
  let space = false;
  let lastComment: string | null = null;
  const push = (t: Tok) => { comments[toks.length] = lastComment; lastComment = null; toks.push(t); space = false; };
  while (pos < s.length) {
    const c = s.charCodeAt(pos);
    // whitespace, and a stray ")" that closes no comment, only separate tokens
    if (c === SP || c === HT || c === CR || c === LF || c === 0x29) { pos++; space = true; continue; }
    if (c === 0x28 /* ( */) {
      const start = pos;
      pos = skipCfws(s, pos);
      // a comment in place of a display name ("user@host (Full Name)"): keep its text
      const inner = s.slice(start + 1, pos - (s.charCodeAt(pos - 1) === 0x29 ? 1 : 0)).replace(/\\(.)/g, '$1').trim();
      if (inner !== '') lastComment = inner;
      space = true;
      continue;
    }
    if (c === 0x22 /* " */) {
      const start = pos;
      const [text, p] = readQuoted(s, pos);
      pos = p;
      push({ kind: 'quoted', text, raw: s.slice(start, pos), space });
      continue;
    }
    if (c === 0x5b /* [ */) {
      const close = s.indexOf(']', pos);
      const stop = close < 0 ? s.length : close + 1;
      const raw = s.slice(pos, stop);
      pos = stop;
      push({ kind: 'literal', text: raw, raw, space });
      continue;
    }
    if ('<>@,;:.\\]'.indexOf(s[pos]) >= 0) {
      push({ kind: 'special', text: s[pos], raw: s[pos], space });
      pos++;
      continue;
    }
    const start = pos;
    while (pos < s.length) {
      const d = s.charCodeAt(pos);
      if (d === SP || d === HT || d === CR || d === LF || '()<>@,;:.\\"[]'.indexOf(s[pos]) >= 0) break;
      pos++;
    }
    const text = s.slice(start, pos);
    push({ kind: 'atom', text, raw: text, space });
  }
  comments[toks.length] = lastComment;
  return { toks, comments };
}

/** RFC 5322 §3.2.5 phrase (display name) from tokens: quoted strings unquoted, spacing kept. */
function phraseOf(toks: Tok[]): string | null {
  let out = '';
  for (const t of toks) {
    if (out !== '' && t.space) out += ' ';
    out += t.text;
  }
  out = out.trim();
  return out === '' ? null : binToText(out);
}

/** RFC 5322 §3.4.1 addr-spec from tokens: split at the last "@"; the local part as written. */
function addrSpecOf(toks: Tok[]): { mailbox: string; host: string } | null {
  if (toks.length === 0) return null;
  let at = -1;
  for (let i = toks.length - 1; i >= 0; i--) if (toks[i].kind === 'special' && toks[i].text === '@') { at = i; break; }
  const join = (ts: Tok[]) => ts.map((t) => t.raw).join('');
  const local = at < 0 ? join(toks) : join(toks.slice(0, at));
  // a missing domain is "" (not null: a null host means group syntax in IMAP)
  const host = at < 0 ? '' : join(toks.slice(at + 1));
  if (local === '' && host === '') return null;
  return { mailbox: binToText(local), host: binToText(host) };
}

/**
 * Parse an address-list header value (binary string) into IMAP address structures.
 * Groups become a start marker {mailbox: group name, host: null} and an end marker (all null).
 * A source route (RFC 5322 §4.4 obs-route) is kept in `adl`. Returns null for an empty list.
 */
function parseAddressList(value: string): Address[] | null {
  const { toks, comments } = tokenizeAddresses(value);
  const out: Address[] = [];
  let pending: Tok[] = [];
  let pendingStart = 0;
  let inGroup = false;
  const MAX = 10000; // bound the output for absurd headers

  const emitSpec = (endIdx: number) => {
    // a bare addr-spec (no angle brackets); a trailing comment serves as the name
    const spec = addrSpecOf(pending);
    if (spec && out.length < MAX) {
      let name: string | null = null;
      for (let i = endIdx; i > pendingStart; i--) {
        const cm = comments[i];
        if (cm) { name = binToText(cm); break; }
      }
      out.push({ name, adl: null, mailbox: spec.mailbox, host: spec.host });
    }
    pending = [];
  };

  let i = 0;
  while (i < toks.length) {
    const t = toks[i];
    if (t.kind === 'special' && t.text === '<') {
      // name-addr: [display-name] "<" [obs-route] addr-spec ">"
      const name = phraseOf(pending);
      let j = i + 1;
      const inner: Tok[] = [];
      while (j < toks.length && !(toks[j].kind === 'special' && toks[j].text === '>')) inner.push(toks[j++]);
      // RFC 5322 §4.4 obs-route "@a,@b:" before the addr-spec: RFC 3501 §7.4.2 returns it as the
      // address structure's second field (at-domain-list), e.g. (NIL "@route" "user" "domain")
      let specToks = inner;
      let adl: string | null = null;
      if (inner.length > 0 && inner[0].kind === 'special' && inner[0].text === '@') {
        const colon = inner.findIndex((x) => x.kind === 'special' && x.text === ':');
        specToks = colon >= 0 ? inner.slice(colon + 1) : [];
        if (colon > 0) adl = binToText(inner.slice(0, colon).map((x) => x.raw).join('')) || null;
      }
      const spec = addrSpecOf(specToks);
      if (out.length < MAX && (spec || name !== null)) {
        out.push({ name, adl, mailbox: spec ? spec.mailbox : '', host: spec ? spec.host : '' });
      }
      pending = [];
      i = j + 1;
      // skip anything up to the next separator
      while (i < toks.length && !(toks[i].kind === 'special' && (toks[i].text === ',' || toks[i].text === ';'))) i++;
      pendingStart = i;
      continue;
    }
    if (t.kind === 'special' && t.text === ':' && !inGroup) {
      // RFC 5322 §3.4 group: display-name ":" [group-list] ";"
      const name = phraseOf(pending) ?? '';
      if (out.length < MAX) out.push({ name: null, adl: null, mailbox: name, host: null });
      inGroup = true;
      pending = [];
      pendingStart = i + 1;
      i++;
      continue;
    }
    if (t.kind === 'special' && (t.text === ',' || t.text === ';')) {
      emitSpec(i);
      if (t.text === ';' && inGroup) {
        if (out.length < MAX) out.push({ name: null, adl: null, mailbox: null, host: null });
        inGroup = false;
      }
      pendingStart = i + 1;
      i++;
      continue;
    }
    pending.push(t);
    i++;
  }
  emitSpec(toks.length);
  if (inGroup) out.push({ name: null, adl: null, mailbox: null, host: null }); // unterminated group
  return out.length > 0 ? out : null;
}

/** RFC 3501 §7.4.2 ENVELOPE from a header block's fields (binary strings). */
function buildEnvelope(fields: [string, string][]): Envelope {
  const text = (n: string): string | null => {
    const v = getField(fields, n);
    return v === undefined ? null : binToText(v);
  };
  const addrs = (n: string): Address[] | null => {
    const v = getField(fields, n);
    return v === undefined ? null : parseAddressList(v);
  };
  const copy = (a: Address[] | null): Address[] | null => (a ? a.map((x) => ({ ...x })) : null);
  const from = addrs('from');
  // RFC 3501 §7.4.2: the server fills in sender and reply-to from "from" when absent or empty
  const sender = addrs('sender') ?? copy(from);
  const replyTo = addrs('reply-to') ?? copy(from);
  return {
    date: text('date'),
    subject: text('subject'),
    from, sender, replyTo,
    to: addrs('to'), cc: addrs('cc'), bcc: addrs('bcc'),
    inReplyTo: text('in-reply-to'),
    messageId: text('message-id'),
  };
}

// ---------------------------------------------------------------------------------------------
// Line counting
// ---------------------------------------------------------------------------------------------

/** Positions of every LF in the buffer, built once, so any range's line count is two lookups. */
class LineIndex {
  private readonly lfs: number[] = [];
  constructor(private readonly raw: Buffer) {
    let p = raw.indexOf(LF);
    while (p >= 0) { this.lfs.push(p); p = raw.indexOf(LF, p + 1); }
  }
  /** number of LF positions < x */
  private below(x: number): number {
    let lo = 0;
    let hi = this.lfs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.lfs[mid] < x) lo = mid + 1; else hi = mid;
    }
    return lo;
  }
  /** lines in [a, b): the LFs in it (RFC 3501 §7.4.2 body size in text lines; Dovecot counts the same way) */
  lines(a: number, b: number): number {
    if (b <= a) return 0;
    return this.below(b) - this.below(a);
  }
}

// ---------------------------------------------------------------------------------------------
// Parts and multipart splitting (RFC 2045 §5-§6, RFC 2046 §5.1)
// ---------------------------------------------------------------------------------------------

interface Ctx {
  raw: Buffer;
  limits: MimeLimits;
  lines: LineIndex;
  headerCount: number;
  partCount: number;
  truncated: boolean;
}

interface Made {
  part: MimePart;
  fields: [string, string][];
  /** multipart boundary (binary string), when the part is a multipart with one */
  boundary: string | null;
  /** message/rfc822 or message/global in an identity encoding: the body is a message */
  isMessage: boolean;
}

/**
 * Build the MimePart for the entity in raw[start, end): its header block, Content-* fields and
 * body range. `inDigest`: a child of multipart/digest defaults to message/rfc822 (RFC 2046 §5.1.5).
 */
function makePart(ctx: Ctx, start: number, end: number, inDigest: boolean): Made {
  const [headerEnd, bodyStart] = findHeaderEnd(ctx.raw, start, end);
  const { fields, truncated } = parseFieldsBin(ctx.raw, start, headerEnd, ctx.limits.maxHeaders);
  if (truncated) ctx.truncated = true;
  ctx.headerCount += fields.length;

  // RFC 2045 §5.2: no (or an invalid) Content-Type means text/plain; charset=us-ascii
  let type = inDigest ? 'message' : 'text';
  let subtype = inDigest ? 'rfc822' : 'plain';
  let params: [string, string][] = inDigest ? [] : [['charset', 'us-ascii']];
  let boundary: string | null = null;
  const ctv = getField(fields, 'content-type');
  const ct = ctv === undefined ? null : parseContentType(ctv);
  if (ct) {
    type = binToText(ct.type);
    subtype = binToText(ct.subtype);
    params = ct.params;
    boundary = ct.boundary;
  }

  const opt = (n: string): string | null => {
    const v = getField(fields, n);
    return v === undefined ? null : binToText(v.trim());
  };
  // RFC 2045 §6.1: Content-Transfer-Encoding defaults to 7bit
  const cte = getField(fields, 'content-transfer-encoding');
  const encoding = cte === undefined ? '7bit' : binToText(stripComments(cte)) || '7bit';
  const cd = getField(fields, 'content-disposition');
  const cl = getField(fields, 'content-language');
  // RFC 3282 Content-Language: a comma-separated list of language tags
  const language = cl === undefined ? null : stripComments(cl).split(',').map((x) => binToText(x.trim())).filter((x) => x !== '');

  const part: MimePart = {
    headerStart: start,
    bodyStart,
    bodyEnd: end,
    type,
    subtype,
    params,
    id: opt('content-id'),
    description: opt('content-description'),
    encoding,
    md5: opt('content-md5'),
    disposition: cd === undefined ? null : parseDisposition(cd),
    language: language && language.length > 0 ? language : null,
    location: opt('content-location'),
    size: end - bodyStart,
    lines: ctx.lines.lines(bodyStart, end),
  };
  const enc = encoding.toLowerCase();
  // RFC 2046 §5.2.1: message/rfc822 may only use 7bit, 8bit or binary; otherwise it stays opaque
  const isMessage = type === 'message' && (subtype === 'rfc822' || subtype === 'global') &&
    (enc === '7bit' || enc === '8bit' || enc === 'binary');
  // RFC 2046 §5.1.1: the boundary parameter is required; 1-70 chars, but accept what we get
  if (type !== 'multipart' || boundary === '') boundary = null;
  return { part, fields, boundary, isMessage };
}

/**
 * Split a multipart body raw[bs, be) at its delimiter lines (RFC 2046 §5.1.1): a line starting
 * with "--" boundary, then optional whitespace; "--" boundary "--" is the close delimiter.
 * The CRLF (or LF) before a delimiter belongs to the delimiter, not to the preceding part.
 * Preamble and epilogue are skipped; without a close delimiter the last part runs to `be`.
 * Yields [start, end) of each body part (header + body).
 */
function* splitMultipart(raw: Buffer, bs: number, be: number, boundary: string): Generator<[number, number]> {
  const needle = Buffer.from('--' + boundary, 'latin1');
  const region = raw.subarray(bs, be); // search within the part only (no copy)
  let partStart = -1; // -1 while in the preamble
  let from = 0;
  while (from <= region.length - needle.length) {
    const hit = region.indexOf(needle, from);
    if (hit < 0) break;
    const i = bs + hit;
    from = hit + 1;
    // a delimiter must start a line
    if (i !== bs && raw[i - 1] !== LF) continue;
    let j = i + needle.length;
    const close = j + 1 < be && raw[j] === 0x2d && raw[j + 1] === 0x2d;
    let lineEnd = -1;
    if (!close) {
      // transport-padding (LWSP) then the line end, or the end of the data
      while (j < be && isWsp(raw[j])) j++;
      if (j >= be) lineEnd = be;
      else if (raw[j] === LF) lineEnd = j + 1;
      else if (raw[j] === CR && (j + 1 >= be || raw[j + 1] === LF)) lineEnd = Math.min(j + 2, be);
      else continue; // "--boundaryX": a longer boundary, not ours
    }
    if (partStart >= 0) {
      // the part ends before the CRLF that begins this delimiter
      let e = i;
      if (e > partStart && raw[e - 1] === LF) e--;
      if (e > partStart && raw[e - 1] === CR) e--;
      yield [partStart, Math.max(partStart, e)];
    }
    if (close) return; // epilogue follows
    partStart = lineEnd;
    from = lineEnd - bs;
  }
  // no close delimiter: the last part runs to the end of the data
  if (partStart >= 0) yield [partStart, be];
}

// ---------------------------------------------------------------------------------------------
// The parser
// ---------------------------------------------------------------------------------------------

/**
 * Parse a raw message (RFC 5322 + MIME) into its part tree and envelope. Iterative: nesting and
 * width are bounded only by `limits` (defaults: depth 64, 10000 parts, 2000 header fields per
 * block); past them, `truncated` is set and the rest stays opaque body. Never throws.
 */
export function parseMime(raw: Buffer, limits?: Partial<MimeLimits>): MimeTree {
  // accept any Uint8Array view as well (no copy)
  if (!Buffer.isBuffer(raw)) raw = Buffer.from((raw as Uint8Array).buffer, (raw as Uint8Array).byteOffset, (raw as Uint8Array).byteLength);
  const lim: MimeLimits = { ...DEFAULT_LIMITS };
  if (limits) {
    for (const k of ['maxDepth', 'maxParts', 'maxHeaders'] as const) {
      const v = limits[k];
      if (typeof v === 'number' && !Number.isNaN(v)) lim[k] = Math.max(1, Math.floor(v));
    }
  }
  const ctx: Ctx = { raw, limits: lim, lines: new LineIndex(raw), headerCount: 0, partCount: 0, truncated: false };

  const top = makePart(ctx, 0, raw.length, false);
  ctx.partCount = 1;
  const envelope = buildEnvelope(top.fields);

  // depth-first, in document order: pop the next part to split or to open as a message
  const stack: { made: Made; depth: number }[] = [{ made: top, depth: 1 }];
  while (stack.length > 0) {
    const { made, depth } = stack.pop()!;
    const { part } = made;
    if (made.boundary !== null) {
      if (depth >= lim.maxDepth) { ctx.truncated = true; continue; }
      const inDigest = part.subtype === 'digest';
      const children: Made[] = [];
      for (const [s, e] of splitMultipart(raw, part.bodyStart, part.bodyEnd, made.boundary)) {
        if (ctx.partCount >= lim.maxParts) { ctx.truncated = true; break; }
        children.push(makePart(ctx, s, e, inDigest));
        ctx.partCount++;
      }
      if (children.length === 0) continue; // no delimiter (or no room): an opaque body
      part.parts = children.map((c) => c.part);
      for (let k = children.length - 1; k >= 0; k--) stack.push({ made: children[k], depth: depth + 1 });
    } else if (made.isMessage) {
      // RFC 2046 §5.2.1: the body is a complete message; parse it in place
      if (depth >= lim.maxDepth || ctx.partCount >= lim.maxParts) { ctx.truncated = true; continue; }
      const inner = makePart(ctx, part.bodyStart, part.bodyEnd, false);
      ctx.partCount++;
      part.message = { envelope: buildEnvelope(inner.fields), root: inner.part };
      stack.push({ made: inner, depth: depth + 1 });
    }
  }

  return { root: top.part, envelope, headerCount: ctx.headerCount, partCount: ctx.partCount, truncated: ctx.truncated };
}

/**
 * Find a part by IMAP section number (RFC 3501 §6.4.5). [] is the whole message (the root).
 * Numbers index the parts of a multipart; a non-multipart message has a single part 1 (its
 * body: the root itself). After a message/rfc822 part, the next number refers to the parts of
 * the embedded message. Returns null for a number that does not exist.
 */
export function findSection(tree: MimeTree, path: number[]): MimePart | null {
  let cur: MimePart = tree.root;
  let atMessage = true; // `cur` is a message (root or embedded) whose body the next number indexes
  for (const n of path) {
    if (!Number.isInteger(n) || n < 1) return null;
    let body: MimePart;
    if (atMessage) {
      body = cur;
    } else if (cur.message) {
      body = cur.message.root;
    } else if (cur.parts) {
      const next = cur.parts[n - 1];
      if (!next) return null;
      cur = next;
      continue;
    } else {
      return null; // a leaf has no sub-parts
    }
    atMessage = false;
    if (body.parts) {
      const next = body.parts[n - 1];
      if (!next) return null;
      cur = next;
    } else {
      if (n !== 1) return null;
      cur = body; // a non-multipart message: part 1 is its body
    }
  }
  return cur;
}

// ---------------------------------------------------------------------------------------------
// RFC 2047 encoded words
// ---------------------------------------------------------------------------------------------

const ENCODED_WORD = /=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g;

/** RFC 2047 §4.2 "Q" encoding to bytes: "_" is a space, "=XX" a byte. */
function qDecode(s: string, out: number[]): void {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5f) out.push(0x20);
    else if (c === 0x3d && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) { out.push(parseInt(s.slice(i + 1, i + 3), 16)); i += 2; }
    else out.push(c & 0xff);
  }
}

/**
 * Decode RFC 2047 encoded words (=?charset?B|Q?text?=) into a JS string. Whitespace between
 * adjacent encoded words is dropped (RFC 2047 §6.2); adjacent words in the same charset are
 * joined as bytes first, so a multi-byte character split across words survives. The RFC 2231 §5
 * language suffix (charset*lang) is ignored. Words in an unknown charset are left as written.
 */
export function decodeMimeWords(s: string): string {
  interface Run { charset: string; decoder: TextDecoder | null; bytes: number[]; original: string }
  let out = '';
  let last = 0;
  let run: Run | null = null; // the run of adjacent encoded words being collected
  const flush = (r: Run | null) => {
    if (r) out += r.decoder ? r.decoder.decode(Uint8Array.from(r.bytes)) : r.original;
  };
  ENCODED_WORD.lastIndex = 0;
  for (let m = ENCODED_WORD.exec(s); m; m = ENCODED_WORD.exec(s)) {
    const between = s.slice(last, m.index);
    last = m.index + m[0].length;
    const charset = m[1].split('*')[0].toLowerCase();
    const decoder = decoderFor(charset);
    const bytes: number[] = [];
    if (m[2] === 'b' || m[2] === 'B') {
      for (const b of Buffer.from(m[3], 'base64')) bytes.push(b);
    } else {
      qDecode(m[3], bytes);
    }
    // RFC 2047 §6.2: only whitespace between two (decodable) encoded words is dropped
    const adjacent = run !== null && run.decoder !== null && decoder !== null && /^[ \t\r\n]*$/.test(between);
    if (adjacent && run !== null && run.charset === charset) {
      for (const b of bytes) run.bytes.push(b);
      run.original += between + m[0];
      continue;
    }
    flush(run);
    if (!adjacent) out += between;
    run = { charset, decoder, bytes, original: m[0] };
  }
  flush(run);
  return out + s.slice(last);
}
