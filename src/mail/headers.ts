// RFC 5322 §2.1: a message is a header block, an empty line, and a body. Where the header block
// ends is asked in many places (DSNs return it, DKIM and submission checks read it, the relay
// counts its Received: fields); this is the one answer.

const LF = 0x0a;
const CR = 0x0d;

/** Header blocks longer than this are not looked for further (1 MiB, far beyond any real one). */
export const MAX_HEADER_BYTES = 1 << 20;

export interface HeaderEnd {
  /** where the empty line starts: the header fields are [0, fieldsEnd) */
  fieldsEnd: number;
  /** just past the empty line: the body starts here */
  bodyStart: number;
}

/**
 * RFC 5322 §2.1: the first empty line ends the header block. CRLF and bare LF line ends are both
 * accepted (mail from files and old tools); a message that starts with an empty line has no header
 * fields. Null when there is no empty line within `limit` bytes: the whole message is header.
 */
export function headerEnd(raw: Buffer, limit = MAX_HEADER_BYTES): HeaderEnd | null {
  const end = Math.min(raw.length, limit);
  let pos = 0;
  while (pos < end) {
    if (raw[pos] === LF) return { fieldsEnd: pos, bodyStart: pos + 1 };
    if (raw[pos] === CR && pos + 1 < raw.length && raw[pos + 1] === LF) return { fieldsEnd: pos, bodyStart: pos + 2 };
    const lf = raw.indexOf(LF, pos);
    if (lf < 0 || lf >= end) return null;
    pos = lf + 1;
  }
  return null;
}

/**
 * The header block including its empty line (what RFC 6522 text/rfc822-headers returns), or,
 * when there is none, the message up to `limit` bytes.
 */
export function headerBlock(raw: Buffer, limit = MAX_HEADER_BYTES): Buffer {
  const h = headerEnd(raw, limit);
  return raw.subarray(0, h ? h.bodyStart : Math.min(raw.length, limit));
}

/** The header fields alone as latin1 text (no empty line), folded lines as they are. */
export function headerText(raw: Buffer, limit = MAX_HEADER_BYTES): string {
  const h = headerEnd(raw, limit);
  return raw.toString('latin1', 0, h ? h.fieldsEnd : Math.min(raw.length, limit));
}

/** RFC 5322 §2.2.3 unfolding: a line break followed by white space is part of the field. */
export function unfold(text: string): string {
  return text.replace(/\r?\n(?=[ \t])/g, '');
}

/** Whether the header block has a field of this name (case-insensitive, RFC 5322 §3.6.8 field-name). */
export function hasField(raw: Buffer, name: string): boolean {
  const n = name.toLowerCase();
  for (const line of headerText(raw).split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).toLowerCase() === n) return true;
  }
  return false;
}

/** The unfolded value of the first field of this name (leading white space dropped), or null. */
export function fieldValue(raw: Buffer, name: string): string | null {
  const n = name.toLowerCase();
  for (const line of unfold(headerText(raw)).split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).toLowerCase() === n) return line.slice(colon + 1).replace(/^[ \t]+/, '');
  }
  return null;
}

/** How many fields of this name the header block has (e.g. Received: for the hop count, RFC 5321 §6.3). */
export function countFields(raw: Buffer, name: string): number {
  const n = name.toLowerCase();
  let count = 0;
  for (const line of headerText(raw).split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).toLowerCase() === n) count++;
  }
  return count;
}

/** Raw header fields of raw[start, end): each field's lower-cased name and bytes, folded lines included. */
export function headerFields(raw: Buffer, start: number, end: number): { name: string; start: number; end: number }[] {
  const out: { name: string; start: number; end: number }[] = [];
  let pos = start;
  while (pos < end) {
    let lf = raw.indexOf(0x0a, pos);
    if (lf < 0 || lf >= end) lf = end - 1;
    const lineEnd = lf + 1;
    const c = raw[pos];
    if (c === 0x0d || c === 0x0a) break; // the blank line
    if ((c === 0x20 || c === 0x09) && out.length) out[out.length - 1].end = lineEnd;
    else {
      const colon = raw.indexOf(0x3a, pos);
      const name = colon >= 0 && colon < lineEnd ? raw.toString('latin1', pos, colon).trim().toLowerCase() : '';
      out.push({ name, start: pos, end: lineEnd });
    }
    pos = lineEnd;
  }
  return out;
}

/**
 * The top-level header fields of a parsed message as [name, value] text pairs: names lower-cased,
 * values UTF-8, unfolded and trimmed, encoded words left as they are (SEARCH HEADER/FROM ..., THREAD).
 */
export function headerFieldValues(raw: Buffer, root: { headerStart: number; bodyStart: number }): { name: string; value: string }[] {
  return headerFields(raw, root.headerStart, root.bodyStart).map((f) => ({ name: f.name, value: fieldValueText(raw, f) }));
}

/** One field's value (of headerFields): UTF-8, unfolded and trimmed, encoded words left as they are. */
export function fieldValueText(raw: Buffer, f: { start: number; end: number }): string {
  const line = raw.toString('utf8', f.start, f.end);
  const i = line.indexOf(':');
  return (i >= 0 ? line.slice(i + 1) : '').replace(/\r?\n([ \t])/g, '$1').trim();
}
