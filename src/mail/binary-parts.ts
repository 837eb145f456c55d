// RFC 3516 §4.3 APPEND of a literal8: the message may hold binary content (NULs, bare CRs and
// LFs, Content-Transfer-Encoding: binary), which a plain IMAP literal can never carry back
// (RFC 3501 §9 CHAR8 excludes NUL) and which line-ending normalisation would corrupt. Before such
// a message is stored, every leaf part with binary content is re-encoded as base64 (RFC 2045
// §6.8) with its Content-Transfer-Encoding field changed to match: BODY[] then returns plain
// 7-bit text, and BINARY[] (RFC 3516 §4.2) decodes the exact original octets.
//
// Pure, no I/O. The walk reuses the MIME parser's absolute byte offsets.
import { parseMime, type MimePart } from './mime.js';

/** Does a leaf part need re-encoding: declared binary, or holding octets no 7bit/8bit body may have? */
function isBinaryLeaf(raw: Buffer, p: MimePart): boolean {
  if (p.parts || p.message) return false;
  const enc = p.encoding.toLowerCase();
  if (enc === 'base64' || enc === 'quoted-printable') return false;
  if (enc === 'binary') return true;
  // RFC 2045 §2.7/§2.8: 7bit and 8bit data have no NULs and CR/LF only as CRLF
  for (let i = p.bodyStart; i < p.bodyEnd; i++) {
    const c = raw[i];
    if (c === 0) return true;
    if (c === 0x0d && raw[i + 1] !== 0x0a) return true;
    if (c === 0x0a && (i === p.bodyStart || raw[i - 1] !== 0x0d)) return true;
  }
  return false;
}

/** The header block raw[start, bodyStart) without its Content-Transfer-Encoding field(s), ending in CRLF CRLF. */
function headerWithBase64(raw: Buffer, start: number, bodyStart: number): Buffer {
  const kept: Buffer[] = [];
  let skipping = false;
  let pos = start;
  while (pos < bodyStart) {
    let lf = raw.indexOf(0x0a, pos);
    if (lf < 0 || lf >= bodyStart) lf = bodyStart - 1;
    const line = raw.subarray(pos, lf + 1);
    pos = lf + 1;
    const text = line.toString('latin1');
    if (/^\r?\n$/.test(text)) break; // the blank line ending the header
    if (text[0] === ' ' || text[0] === '\t') { if (!skipping) kept.push(line); continue; }
    skipping = /^content-transfer-encoding[ \t]*:/i.test(text);
    if (!skipping) kept.push(line.at(-1) === 0x0a ? line : Buffer.concat([line, Buffer.from('\r\n')]));
  }
  kept.push(Buffer.from('Content-Transfer-Encoding: base64\r\n\r\n'));
  return Buffer.concat(kept);
}

/** RFC 2045 §6.8: base64 in lines of 76 characters, CRLF between them. */
function base64Lines(b: Buffer): Buffer {
  const s = b.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < s.length; i += 76) lines.push(s.slice(i, i + 76));
  return Buffer.from(lines.join('\r\n'), 'latin1');
}

/**
 * The message with every binary leaf part re-encoded as base64, or null when it has none.
 * The rest of the message (other parts, delimiters, preamble, epilogue) is copied unchanged.
 */
export function encodeBinaryParts(raw: Buffer): Buffer | null {
  const tree = parseMime(raw);
  const leaves: MimePart[] = [];
  // document order, iteratively (the parser bounds the depth and the number of parts)
  const stack: MimePart[] = [tree.root];
  while (stack.length) {
    const p = stack.pop()!;
    const kids = p.parts ?? (p.message ? [p.message.root] : []);
    if (kids.length) { for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i]); continue; }
    if (isBinaryLeaf(raw, p)) leaves.push(p);
  }
  if (!leaves.length) return null;
  const out: Buffer[] = [];
  let cursor = 0;
  for (const p of leaves) {
    out.push(raw.subarray(cursor, p.headerStart));
    out.push(headerWithBase64(raw, p.headerStart, p.bodyStart));
    out.push(base64Lines(raw.subarray(p.bodyStart, p.bodyEnd)));
    // a part that ends the whole message ends its last base64 line with CRLF
    if (p.bodyEnd >= raw.length) out.push(Buffer.from('\r\n'));
    cursor = p.bodyEnd;
  }
  out.push(raw.subarray(cursor));
  return Buffer.concat(out);
}
