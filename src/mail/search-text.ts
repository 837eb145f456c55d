// RFC 3501 §6.4.4 SEARCH of header fields: how strings are compared (fold), how an envelope
// address reads as a search string (addressText), and the text of a message's searchable
// header fields, made once at delivery and kept beside the bytes, so that SEARCH SUBJECT (FROM,
// TO, ...) over a large mailbox can first narrow the messages down without reading each one.
import { fieldValueText, headerFields } from './headers.js';
import { decodeMimeWords, type Address, type MimeTree } from './mime.js';

/** RFC 3501 §6.4.4: searches are case-insensitive; every compared string is folded with this. */
export const fold = (x: string): string => x.toLowerCase();

/** An envelope address as a search string: "name <mailbox@host>", or a group's name (RFC 3501 §7.4.2 group syntax). */
export function addressText(a: Address): string {
  const name = a.name ? decodeMimeWords(a.name) : '';
  if (a.host === null) return a.mailbox ?? ''; // group start (its name) or end (NIL)
  return `${name}${name ? ' ' : ''}<${a.mailbox ?? ''}@${a.host}>`;
}

/** The header fields whose text is indexed (SEARCH SUBJECT/FROM/TO/CC/BCC and HEADER of these names). */
export const INDEXED_HEADERS: ReadonlySet<string> = new Set([
  'subject', 'from', 'sender', 'reply-to', 'to', 'cc', 'bcc', 'message-id', 'in-reply-to', 'references', 'list-id',
]);

/** Longer texts are not kept (the message is then always a SEARCH candidate): a cut text would miss matches. */
export const HEADER_SEARCH_TEXT_MAX = 64 * 1024;

/**
 * The indexed header text of a message: one line per indexed field, `fold(name): fold(value)` with
 * the value decoded as SEARCH decodes it (encoded words, RFC 2047), and one line per envelope
 * address (from, sender, reply-to, to, cc, bcc) `fold(addressText(a))`. Each piece is folded on
 * its own, so for every SEARCH HEADER/SUBJECT (of an indexed name) and FROM/TO/CC/BCC key with a
 * non-empty value that matches the message, fold(value) is a substring of this text. Null when
 * the text would be longer than HEADER_SEARCH_TEXT_MAX.
 */
export function headerSearchText(raw: Buffer, tree: MimeTree): string | null {
  const lines: string[] = [];
  let size = 0;
  const add = (line: string): boolean => {
    // a line already inside another (the From: field holds its address) adds nothing a search could find
    if (lines.some((l) => l.includes(line))) return true;
    size += line.length + 1;
    if (size > HEADER_SEARCH_TEXT_MAX) return false;
    lines.push(line);
    return true;
  };
  for (const f of headerFields(raw, tree.root.headerStart, tree.root.bodyStart)) {
    if (!INDEXED_HEADERS.has(f.name)) continue;
    const value = fieldValueText(raw, f);
    if (!add(`${fold(f.name)}: ${fold(value.includes('=?') ? decodeMimeWords(value) : value)}`)) return null;
  }
  const env = tree.envelope;
  for (const list of [env.from, env.sender, env.replyTo, env.to, env.cc, env.bcc]) {
    for (const a of list ?? []) if (!add(fold(addressText(a)))) return null;
  }
  return lines.join('\n');
}
