// RFC 8970 PREVIEW: a short plain-text preview of a message, made from its first text part
// (text/plain, else text/html with the markup taken out) that is not an attachment: transfer
// encoding and charset decoded, quoted lines (">") and the signature ("-- ") left out, white
// space folded, at most PREVIEW_CHARS characters (§3.1: no more than 256). A message with no
// such part has the empty preview (§3.1: "MUST return a zero-length string").
import type { MimePart, MimeTree } from '../mail/mime.js';
import { partContent } from './render.js';

export const PREVIEW_CHARS = 200;
/** the most of a part's bytes looked at */
const MAX_SCAN = 64 * 1024;

function isAttachment(p: MimePart): boolean {
  return p.disposition?.type.toLowerCase() === 'attachment';
}

/** The first text/plain leaf (else text/html) in document order, outside embedded messages. */
function textPart(root: MimePart): MimePart | null {
  let html: MimePart | null = null;
  const stack: MimePart[] = [root];
  while (stack.length) {
    const p = stack.pop()!;
    if (p.parts) { for (let i = p.parts.length - 1; i >= 0; i--) stack.push(p.parts[i]); continue; }
    if (p.message || p.type !== 'text' || isAttachment(p)) continue;
    if (p.subtype === 'plain') return p;
    if (p.subtype === 'html' && !html) html = p;
  }
  return html;
}

function decode(bytes: Buffer, charset: string | undefined): string {
  try {
    return new TextDecoder(charset || 'utf-8').decode(bytes);
  } catch {
    return new TextDecoder('utf-8').decode(bytes); // an unknown charset: read as UTF-8 (U+FFFD for the rest)
  }
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/** HTML to its text: script/style and comments dropped, tags removed, a few entities decoded. */
function htmlText(h: string): string {
  return h
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<(script|style|head)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<br\s*\/?>|<\/(p|div|li|tr|h\d)\s*>/gi, '\n')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|[a-z]{2,6});/gi, (m, e: string) => {
      if (e[0] === '#') {
        const n = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
        return n > 0 && n <= 0x10ffff ? String.fromCodePoint(n) : ' ';
      }
      return ENTITIES[e.toLowerCase()] ?? m;
    });
}

/** RFC 8970 §3: the preview text of a stored message. */
export function preview(raw: Buffer, tree: MimeTree): string {
  const part = textPart(tree.root);
  if (!part) return '';
  let text = decode(partContent(raw, part).subarray(0, MAX_SCAN), part.params.find(([k]) => k === 'charset')?.[1]);
  if (part.subtype === 'html') text = htmlText(text);
  const kept: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line === '-- ') break; // RFC 3676 §4.3 signature separator
    if (/^\s*>/.test(line)) continue; // quoted text
    kept.push(line);
  }
  // eslint-disable-next-line no-control-regex
  const folded = kept.join(' ').replace(/[\s\u0000-\u001f\u007f]+/g, ' ').trim();
  const chars = [...folded];
  return chars.length > PREVIEW_CHARS ? chars.slice(0, PREVIEW_CHARS).join('') : folded;
}
