// RFC 4469 CATENATE: an APPEND message assembled from TEXT literals and IMAP URLs (RFC 5092) of
// messages, or parts of them, that the logged-in user can read on this server. A URL that does
// not parse, names another server or user, a mailbox or message that does not exist, or a
// UIDVALIDITY that is not the mailbox's fails the APPEND with NO [BADURL url] (RFC 4469 §5).
import type { MimeTree } from '../mail/mime.js';
import { parseSection, sectionBytes } from './render.js';
import type { ImapSession } from './types.js';
import { decodeMailboxName, ImapBad, ImapNo } from './wire.js';

/** One cat-part: RFC 4469 §5 text-literal or url. */
export type CatPart = { text: Buffer } | { url: string };

/** The parts of RFC 5092 §11 imapurl / a relative "/mailbox/;UID=n..." that CATENATE uses. */
export interface ImapUrl {
  /** as in the URL, percent-decoded: the mailbox name as on the IMAP wire */
  mailbox: string;
  uidValidity: number | null;
  uid: number;
  /** RFC 5092 isection (percent-decoded), e.g. "HEADER", "1.MIME"; null = the whole message */
  section: string | null;
  /** RFC 5092 ipartial: offset and optional length */
  partial: [number, number | null] | null;
  /** absolute URL: user (when given) and host */
  user: string | null;
  host: string | null;
}

/** Bounds: URL length, parts per APPEND message. */
export const MAX_URL = 4096;
export const MAX_CAT_PARTS = 100;

function pctDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new Error('bad percent-encoding');
  }
}

const NUM = /^[1-9]\d{0,9}$/;

/** RFC 5092 §11 imapurl (absolute) or its path (relative, starting with "/"); throws on anything else. */
export function parseImapUrl(url: string): ImapUrl {
  if (url.length > MAX_URL) throw new Error('URL too long');
  let user: string | null = null;
  let host: string | null = null;
  let path = url;
  const abs = /^imap:\/\/(?:([^@/]*)@)?([^/]+)(\/.*)$/i.exec(url);
  if (abs) {
    // RFC 5092 §3.2 iuserinfo = enc-user [iauth]: the user before any ";AUTH="
    user = abs[1] === undefined ? null : pctDecode(abs[1].split(';')[0]);
    host = abs[2].replace(/:\d+$/, '').toLowerCase();
    path = abs[3];
  }
  if (!path.startsWith('/')) throw new Error('not an IMAP URL of a message');
  // "/" enc-mailbox [";UIDVALIDITY=" n] "/;UID=" n ["/;SECTION=" s] ["/;PARTIAL=" o ["." l]]
  const segs = path.slice(1).split('/');
  const first = segs.shift()!;
  const semi = first.indexOf(';');
  const mailbox = pctDecode(semi < 0 ? first : first.slice(0, semi));
  if (!mailbox) throw new Error('no mailbox');
  let uidValidity: number | null = null;
  if (semi >= 0) {
    const m = /^;uidvalidity=(\d+)$/i.exec(first.slice(semi));
    if (!m || !NUM.test(m[1])) throw new Error('bad UIDVALIDITY');
    uidValidity = Number(m[1]);
  }
  let uid = 0;
  let section: string | null = null;
  let partial: [number, number | null] | null = null;
  for (const seg of segs) {
    const m = /^;(uid|section|partial|urlauth|expire|auth)=(.*)$/i.exec(seg);
    if (!m) throw new Error(`unexpected ${seg.slice(0, 40)}`);
    const key = m[1].toLowerCase();
    if (key === 'uid' && !uid && section === null && !partial) {
      if (!NUM.test(m[2])) throw new Error('bad UID');
      uid = Number(m[2]);
    } else if (key === 'section' && uid && section === null && !partial) {
      section = pctDecode(m[2]);
    } else if (key === 'partial' && uid && !partial) {
      const p = /^(\d{1,10})(?:\.([1-9]\d{0,9}))?$/.exec(m[2]);
      if (!p) throw new Error('bad PARTIAL');
      partial = [Number(p[1]), p[2] === undefined ? null : Number(p[2])];
    } else throw new Error(`unsupported ${key.toUpperCase()}`); // URLAUTH (RFC 4467) is not offered
  }
  if (!uid) throw new Error('no UID');
  return { mailbox, uidValidity, uid, section, partial, user, host };
}

/** The bytes an IMAP URL names, as FETCH BODY.PEEK[section]<partial> would return them (no \Seen). */
export async function urlBytes(s: ImapSession, url: string): Promise<Buffer> {
  // RFC 4469 §6 "BADURL" SP url-resp-text: the URL as sent, when it can stand inside [ ]
  const shown = url.length <= 400 && /^[\x21-\x5c\x5e-\x7e]+$/.test(url) ? ` ${url}` : '';
  const bad = (why: string) => new ImapNo(`BADURL${shown}`, why);
  let u: ImapUrl;
  try {
    u = parseImapUrl(url);
  } catch (err) {
    throw bad(`invalid URL: ${(err as Error).message}`);
  }
  const me = s.user!;
  if (u.user !== null && u.user.toLowerCase() !== me.address.toLowerCase()) throw bad('URL of another user');
  if (u.host !== null && u.host !== s.ctx.config.hostname.toLowerCase() && u.host !== 'localhost') throw bad('URL of another server');
  const name = decodeMailboxName(u.mailbox);
  const mb = await s.ctx.store.mailboxes.get(me.id, /^inbox$/i.test(name) ? 'INBOX' : name);
  if (!mb) throw bad(`no mailbox ${name}`);
  if (u.uidValidity !== null && u.uidValidity !== mb.uidValidity) throw bad('UIDVALIDITY does not match');
  const rec = await s.ctx.store.messages.get(mb.id, u.uid);
  if (!rec) throw bad(`no message UID ${u.uid}`);
  let bytes: Buffer;
  try {
    const raw = await s.ctx.store.messages.raw(rec.blobId);
    if (u.section === null) bytes = raw;
    else {
      const sec = parseSection(u.section);
      const tree = (await s.ctx.store.messages.meta(rec.blobId)).mime as MimeTree;
      const b = sectionBytes(raw, tree, sec);
      if (!b) throw bad(`no section ${u.section}`);
      bytes = b;
    }
  } catch (err) {
    if (err instanceof ImapNo) throw err;
    if (err instanceof ImapBad) throw bad(err.message);
    throw bad('message gone');
  }
  if (u.partial) {
    const [o, l] = u.partial;
    bytes = o >= bytes.length ? Buffer.alloc(0) : bytes.subarray(o, l === null ? undefined : o + l);
  }
  return bytes;
}

/** RFC 4469 §5: the message made of the parts in order; `max` bounds its size (TOOBIG). */
export async function catenate(s: ImapSession, parts: CatPart[], max: number): Promise<Buffer> {
  if (!parts.length) throw new ImapBad('CATENATE needs at least one part');
  if (parts.length > MAX_CAT_PARTS) throw new ImapNo('LIMIT', `more than ${MAX_CAT_PARTS} CATENATE parts`);
  const out: Buffer[] = [];
  let size = 0;
  for (const p of parts) {
    const b = 'text' in p ? p.text : await urlBytes(s, p.url);
    size += b.length;
    if (size > max) throw new ImapNo('TOOBIG', 'message too large');
    out.push(b);
  }
  return Buffer.concat(out);
}
