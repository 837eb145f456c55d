// MDA: what IMAP needs again and again is parsed once, when the bytes first arrive.
import { simpleParser } from 'mailparser';
import { parseMime } from '../mail/mime.js';
import type { BlobMeta } from './types.js';

const SEARCH_TEXT_MAX = 1 << 20; // keep at most 1 MiB of decoded text per message for SEARCH

/** Body structure + envelope (mail/mime.ts) and the decoded text (mailparser) of a raw message. */
export async function analyze(raw: Buffer): Promise<BlobMeta> {
  const mime = parseMime(raw);
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
  return { mime, searchText, messageId: env.messageId?.trim() ?? null, subject: env.subject };
}
