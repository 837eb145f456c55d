// RFC 3501 §7.4.2 FETCH data from the stored MIME tree: ENVELOPE, BODY/BODYSTRUCTURE and the
// bytes of a BODY[section] (§6.4.5), without parsing the message again. RFC 3516 BINARY decoding.
import type { Address, Envelope, MimePart, MimeTree } from '../mail/mime.js';
import { findSection } from '../mail/mime.js';
import { headerFields } from '../mail/headers.js';
import { ImapBad, ImapNo, str } from './wire.js';

function addrList(a: Address[] | null): string {
  if (!a || a.length === 0) return 'NIL';
  return '(' + a.map((x) => `(${str(x.name)} ${str(x.adl ?? null)} ${str(x.mailbox)} ${str(x.host)})`).join('') + ')';
}

/** RFC 3501 §7.4.2 ENVELOPE */
export function envelope(e: Envelope): string {
  return `(${str(e.date)} ${str(e.subject)} ${addrList(e.from)} ${addrList(e.sender)} ${addrList(e.replyTo)} ` +
    `${addrList(e.to)} ${addrList(e.cc)} ${addrList(e.bcc)} ${str(e.inReplyTo)} ${str(e.messageId)})`;
}

function params(p: [string, string][]): string {
  if (!p.length) return 'NIL';
  return '(' + p.map(([k, v]) => `${str(k.toUpperCase())} ${str(v)}`).join(' ') + ')';
}

function extension(part: MimePart, multipart: boolean): string {
  const dsp = part.disposition ? `(${str(part.disposition.type)} ${params(part.disposition.params)})` : 'NIL';
  const lang = !part.language || !part.language.length ? 'NIL' : part.language.length === 1 ? str(part.language[0]) : '(' + part.language.map(str).join(' ') + ')';
  const head = multipart ? params(part.params) : str(part.md5);
  return ` ${head} ${dsp} ${lang} ${str(part.location)}`;
}

/** RFC 3501 §7.4.2 BODYSTRUCTURE (ext = true) or BODY (ext = false), iteratively for deep trees. */
export function bodyStructure(root: MimePart, ext: boolean): string {
  // explicit stack: each frame renders a part; children are rendered first (post-order)
  const out = new Map<MimePart, string>();
  const stack: { p: MimePart; done: boolean }[] = [{ p: root, done: false }];
  while (stack.length) {
    const f = stack[stack.length - 1];
    const p = f.p;
    const kids: MimePart[] = p.parts && p.parts.length ? p.parts : p.message ? [p.message.root] : [];
    if (!f.done && kids.length) {
      f.done = true;
      for (const k of kids) stack.push({ p: k, done: false });
      continue;
    }
    stack.pop();
    out.set(p, renderPart(p, ext, out));
    for (const k of kids) out.delete(k);
  }
  return out.get(root)!;
}

function renderPart(p: MimePart, ext: boolean, done: Map<MimePart, string>): string {
  if (p.type === 'multipart' && p.parts && p.parts.length) {
    return '(' + p.parts.map((k) => done.get(k)).join('') + ` ${str(p.subtype)}` + (ext ? extension(p, true) : '') + ')';
  }
  let type = p.type;
  let subtype = p.subtype;
  const opaque = (type === 'multipart') || (type === 'message' && (subtype === 'rfc822' || subtype === 'global') && !p.message);
  if (opaque) { type = 'application'; subtype = 'octet-stream'; }
  // RFC 2045 §5.2: a text part without charset is us-ascii (Dovecot reports it the same way)
  const ps = type === 'text' && !p.params.some(([k]) => k === 'charset') ? [['charset', 'us-ascii'] as [string, string], ...p.params] : p.params;
  let s = `(${str(type)} ${str(subtype)} ${params(ps)} ${str(p.id)} ${str(p.description)} ${str(p.encoding ? p.encoding.toUpperCase() : '7BIT')} ${p.size}`;
  if (!opaque && p.message) s += ` ${envelope(p.message.envelope)} ${done.get(p.message.root)} ${p.lines}`;
  else if (type === 'text') s += ` ${p.lines}`;
  if (ext) s += extension(p, false);
  return s + ')';
}

/**
 * ENVELOPE, BODY and BODYSTRUCTURE of a stored (immutable, shared) tree, rendered once and kept
 * as the UTF-8 bytes sent: the store keeps parsed trees in a cache, and every session that
 * fetches the message copies these bytes instead of rendering and encoding the text again.
 */
const rendered = new WeakMap<MimeTree, { envelope?: Buffer; body?: Buffer; bodystructure?: Buffer }>();
export function renderedItem(tree: MimeTree, item: 'ENVELOPE' | 'BODY' | 'BODYSTRUCTURE'): Buffer {
  let r = rendered.get(tree);
  if (!r) rendered.set(tree, (r = {}));
  switch (item) {
    case 'ENVELOPE': return (r.envelope ??= Buffer.from(envelope(tree.envelope)));
    case 'BODY': return (r.body ??= Buffer.from(bodyStructure(tree.root, false)));
    case 'BODYSTRUCTURE': return (r.bodystructure ??= Buffer.from(bodyStructure(tree.root, true)));
  }
}

// ------------------------------------------------------------------ sections (RFC 3501 §6.4.5)

export interface Section {
  path: number[];
  kind: '' | 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'TEXT' | 'MIME';
  fields: string[];
  /** how the section is echoed in the response: "1.HEADER.FIELDS (From To)" */
  label: string;
}

/** The text between [ and ] of BODY[...] */
export function parseSection(spec: string): Section {
  const m = /^((?:\d+\.)*\d+)?(?:\.?(HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME))?(?:\s*\((.*)\))?$/i.exec(spec.trim());
  if (!m) throw new ImapBad(`invalid section ${spec}`);
  const path = m[1] ? m[1].split('.').map(Number) : [];
  if (path.some((n) => !Number.isSafeInteger(n) || n < 1)) throw new ImapBad('invalid section number');
  if (path.length > 64) throw new ImapBad('section nested too deeply');
  const kind = (m[2] ? m[2].toUpperCase() : '') as Section['kind'];
  if (m[1] && m[2] && !spec.trim().slice(m[1].length).startsWith('.')) throw new ImapBad('invalid section');
  if (kind === 'MIME' && !path.length) throw new ImapBad('MIME needs a part number');
  let fields: string[] = [];
  if (kind === 'HEADER.FIELDS' || kind === 'HEADER.FIELDS.NOT') {
    if (m[3] === undefined) throw new ImapBad('HEADER.FIELDS needs a list of field names');
    fields = m[3].trim().split(/\s+/).filter(Boolean).map((f) => f.replace(/^"(.*)"$/, '$1'));
    if (!fields.length || fields.some((f) => !/^[\x21-\x39\x3b-\x7e]+$/.test(f))) throw new ImapBad('invalid header field name');
  } else if (m[3] !== undefined) throw new ImapBad('unexpected field list');
  const label = [path.join('.'), kind].filter(Boolean).join('.') + (fields.length ? ` (${fields.join(' ')})` : '');
  return { path, kind, fields, label };
}

/** The bytes of a section, or null when the part does not exist. */
export function sectionBytes(raw: Buffer, tree: MimeTree, sec: Section): Buffer | null {
  if (!sec.path.length && sec.kind === '') return raw;
  let msgRoot: MimePart | null = null;
  let part: MimePart | null = null;
  if (sec.path.length) {
    part = findSection(tree, sec.path);
    if (!part) return null;
    if (sec.kind === '') return raw.subarray(part.bodyStart, part.bodyEnd);
    if (sec.kind === 'MIME') return raw.subarray(part.headerStart, part.bodyStart);
    msgRoot = part.message ? part.message.root : null;
    if (!msgRoot) return Buffer.alloc(0);
  } else msgRoot = tree.root;
  const end = Math.min(msgRoot.bodyEnd, raw.length);
  switch (sec.kind) {
    case 'HEADER': return raw.subarray(msgRoot.headerStart, msgRoot.bodyStart);
    case 'TEXT': return raw.subarray(msgRoot.bodyStart, end);
    default: {
      const want = new Set(sec.fields.map((f) => f.toLowerCase()));
      const not = sec.kind === 'HEADER.FIELDS.NOT';
      const pieces: Buffer[] = [];
      for (const f of headerFields(raw, msgRoot.headerStart, msgRoot.bodyStart)) {
        if (!f.name) continue;
        if (want.has(f.name) !== not) {
          let b = raw.subarray(f.start, f.end);
          if (b[b.length - 1] !== 0x0a) b = Buffer.concat([b, Buffer.from('\r\n')]);
          pieces.push(b);
        }
      }
      pieces.push(Buffer.from('\r\n'));
      return Buffer.concat(pieces);
    }
  }
}

// ------------------------------------------------------------------ RFC 3516 BINARY

/**
 * RFC 2045 §6.7 quoted-printable decoding, line by line. Rule (3): whitespace at the end of an
 * encoded line was added in transport and is deleted; rule (5): "=" at the end of a line (after
 * that deletion) is a soft line break, which joins the line to the next. "=XX" is one octet; an
 * "=" not followed by two hex digits is kept as it is (the robust reading §6.7 suggests).
 */
function decodeQp(b: Buffer): Buffer {
  const out = Buffer.alloc(b.length);
  let o = 0;
  let pos = 0;
  while (pos < b.length) {
    let lf = b.indexOf(0x0a, pos);
    const last = lf < 0;
    if (last) lf = b.length;
    let end = lf;
    const crlf = !last && end > pos && b[end - 1] === 0x0d;
    if (crlf) end--;
    while (end > pos && (b[end - 1] === 0x20 || b[end - 1] === 0x09)) end--;
    let soft = false;
    if (end > pos && b[end - 1] === 0x3d) { soft = true; end--; }
    for (let i = pos; i < end; i++) {
      const c = b[i];
      if (c === 0x3d && i + 2 < end && isHex(b[i + 1]) && isHex(b[i + 2])) {
        out[o++] = parseInt(String.fromCharCode(b[i + 1], b[i + 2]), 16);
        i += 2;
      } else out[o++] = c;
    }
    if (!soft && !last) {
      if (crlf) out[o++] = 0x0d;
      out[o++] = 0x0a;
    }
    pos = lf + 1;
  }
  return out.subarray(0, o);
}

function isHex(c: number | undefined): boolean {
  return c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));
}

/** RFC 3516 §4.2 BINARY[section]: the part's content with its transfer encoding undone. */
export function binaryBytes(raw: Buffer, tree: MimeTree, path: number[]): Buffer | null {
  if (!path.length) return raw;
  const part = findSection(tree, path);
  if (!part) return null;
  return partContent(raw, part);
}

/** A part's body with its Content-Transfer-Encoding undone (RFC 2045 §6); containers as they are. */
export function partContent(raw: Buffer, part: MimePart): Buffer {
  const body = raw.subarray(part.bodyStart, part.bodyEnd);
  if (part.parts || part.message) return body;
  const enc = (part.encoding || '7bit').toLowerCase();
  if (enc === 'base64') return Buffer.from(body.toString('latin1').replace(/[^A-Za-z0-9+/]/g, ''), 'base64');
  if (enc === 'quoted-printable') return decodeQp(body);
  if (enc === '7bit' || enc === '8bit' || enc === 'binary') return body;
  throw new ImapNo('UNKNOWN-CTE', `cannot decode content transfer encoding ${enc}`);
}
