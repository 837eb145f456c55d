// MDA: what IMAP needs again and again is parsed once, when the bytes first arrive.
import { simpleParser } from 'mailparser';
import { parseMime, type MimeLimits, type MimeTree } from '../mail/mime.js';
import { headerSearchText } from '../mail/search-text.js';
import { decodeCharset, decodeTransferEncoding } from '../mail/transfer-encoding.js';
import type { BlobMeta } from './types.js';

const SEARCH_TEXT_MAX = 1 << 20; // keep at most 1 MiB of decoded text per message for SEARCH

/**
 * What the SQLite store keeps as the decoded text of a single text/plain message: a mark meaning
 * "decode it from the message's own bytes" (searchTextFromRaw), instead of the same text a second
 * time (for plain mail, half of what a delivery writes). A decoded text is never this one control
 * character alone (and IMAP SEARCH could not ask for it).
 */
export const TEXT_FROM_RAW = '\u0001';

/** Body structure + envelope (mail/mime.ts), the decoded text (mailparser) and the indexed header text (mail/search-text.ts) of a raw message. */
export async function analyze(raw: Buffer, limits?: Partial<MimeLimits>): Promise<BlobMeta> {
  const mime = parseMime(raw, limits);
  const simple = plainText(raw, mime);
  const headerText = headerSearchText(raw, mime);
  if (simple !== null) return { mime, searchText: simple.slice(0, SEARCH_TEXT_MAX), textFromRaw: true, messageId: mime.envelope.messageId?.trim() ?? null, subject: mime.envelope.subject, headerText };
  let searchText = '';
  try {
    const parsed = await simpleParser(raw, {
      skipHtmlToText: false,
      skipTextToHtml: true,
      skipTextLinks: true,
      skipImageLinks: true,
      maxHtmlLengthToParse: 2 * 1024 * 1024,
    });
    searchText = (parsed.text ?? '').slice(0, SEARCH_TEXT_MAX);
  } catch {
    // malformed MIME still gets stored; SEARCH BODY then only sees the structure's raw text
  }
  const env = mime.envelope;
  return { mime, searchText, messageId: env.messageId?.trim() ?? null, subject: env.subject, headerText };
}

/** The decoded text of a message whose stored text is TEXT_FROM_RAW: exactly what analyze() gave as its searchText. */
function searchTextFromRaw(raw: Buffer, mime: MimeTree): string {
  return (plainText(raw, mime) ?? '').slice(0, SEARCH_TEXT_MAX);
}

/** The stored decoded text of a message, with TEXT_FROM_RAW decoded from its bytes. */
export function storedSearchText(stored: string, raw: () => Buffer, mime: unknown): string {
  return stored === TEXT_FROM_RAW ? searchTextFromRaw(raw(), mime as MimeTree) : stored;
}

/**
 * The common case, a single text/plain part, decoded directly (what mailparser would return);
 * anything else (multipart, HTML, unknown charsets) goes through mailparser.
 */
function plainText(raw: Buffer, mime: MimeTree): string | null {
  const root = mime.root;
  if (root.type !== 'text' || root.subtype !== 'plain' || root.parts || mime.truncated) return null;
  const charset = root.params.find(([k]) => k === 'charset')?.[1];
  const text = decodeCharset(decodeTransferEncoding(raw.subarray(root.bodyStart, root.bodyEnd), root.encoding), charset);
  return text === null ? null : text.replace(/\r\n/g, '\n');
}
