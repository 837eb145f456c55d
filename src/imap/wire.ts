// Wire forms shared by the IMAP commands: strings (RFC 3501 §4.3), modified UTF-7 mailbox names
// (§5.1.3), dates (§9 date-time), sequence sets (§9 sequence-set) and the errors handlers throw.
import { decodeMutf7, encodeMutf7 } from '../mail/mutf7.js';

/** RFC 3501 §7.1: tagged NO, optionally with a response code ("TRYCREATE", "NONEXISTENT" ...). */
export class ImapNo extends Error {
  /** after: 'bye' closes the connection once the NO is written (too many failed logins) */
  constructor(readonly code: string | null, message: string, readonly after: 'bye' | null = null) { super(message); }
}
/** RFC 3501 §7.1.3: tagged BAD (protocol-level error in the command). */
export class ImapBad extends Error {
  constructor(message: string, readonly code: string | null = null) { super(message); }
}

// ------------------------------------------------------------------ strings

/** An IMAP string for any text: quoted when safe, else a literal. */
export function str(s: string | null | undefined): string {
  if (s === null || s === undefined) return 'NIL';
  // eslint-disable-next-line no-control-regex
  if (s.length < 1024 && /^[\x20-\x7e]*$/.test(s)) return '"' + s.replace(/[\\"]/g, '\\$&') + '"';
  return `{${Buffer.byteLength(s, 'utf8')}}\r\n${s}`;
}

/** astring: an atom when possible (mailbox names look nicer), else str(). */
export function astr(s: string): string {
  if (/^[A-Za-z0-9_.\-/&+,:;<=>?@^`|~!#$']+$/.test(s) && s.toUpperCase() !== 'NIL') return s;
  return str(s);
}

// ------------------------------------------------------------------ modified UTF-7 (RFC 3501 §5.1.3)

export const encodeMailboxName = encodeMutf7;

/**
 * RFC 3501 §5.1.3: names are modified UTF-7. A name that is not (e.g. "&" not followed by "-" or
 * base64) is still a valid astring (§9), so not a BAD: no mailbox can have it, and the answer is NO.
 */
export function decodeMailboxName(wire: string): string {
  const name = decodeMutf7(wire);
  if (name === null) throw new ImapNo('CANNOT', 'invalid modified UTF-7 mailbox name');
  return name;
}

/** A mailbox name as sent -> the UTF-8 name the store uses ("inbox" -> "INBOX"). */
export function mailboxArg(wire: string, utf8 = false): string {
  let name = utf8 ? wire : decodeMailboxName(wire);
  if (name.toUpperCase() === 'INBOX') name = 'INBOX';
  else if (/^INBOX\//i.test(name)) name = 'INBOX' + name.slice(5);
  return name;
}

export function mailboxOut(name: string, utf8 = false): string {
  return str(utf8 ? name : encodeMailboxName(name));
}

// ------------------------------------------------------------------ dates

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 3501 §9 date-time: "17-Jul-1996 02:44:25 +0000" (we speak UTC). */
export function formatDateTime(ms: number): string {
  // mail arrives in bursts: many messages share a second, and every session formats them again
  const sec = Math.floor(ms / 1000);
  let s = dateTimes.get(sec);
  if (s === undefined) {
    const d = new Date(sec * 1000);
    const p = (n: number) => String(n).padStart(2, '0');
    s = `"${p(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000"`;
    if (dateTimes.size >= 4096) dateTimes.clear();
    dateTimes.set(sec, s);
  }
  return s;
}
const dateTimes = new Map<number, string>();

/** RFC 3501 §9 date-time -> ms since epoch. */
export function parseDateTime(s: string): number {
  const m = /^\s?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(s);
  if (!m) throw new ImapBad('invalid date-time');
  const mon = MONTHS.findIndex((x) => x.toLowerCase() === m[2].toLowerCase());
  if (mon < 0) throw new ImapBad('invalid date-time month');
  const utc = Date.UTC(+m[3], mon, +m[1], +m[4], +m[5], +m[6]);
  const off = (+m[8] * 60 + +m[9]) * 60_000 * (m[7] === '+' ? 1 : -1);
  const t = utc - off;
  if (!Number.isFinite(t)) throw new ImapBad('invalid date-time');
  return t;
}

/** RFC 3501 §9 date (SEARCH): "1-Feb-1994" -> UTC midnight ms. */
export function parseDate(s: string): number {
  const m = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(s);
  if (!m) throw new ImapBad('invalid date');
  const mon = MONTHS.findIndex((x) => x.toLowerCase() === m[2].toLowerCase());
  if (mon < 0) throw new ImapBad('invalid date month');
  return Date.UTC(+m[3], mon, +m[1]);
}

// ------------------------------------------------------------------ sequence sets

/** RFC 3501 §9 sequence-set: ranges with "*" as Infinity ("*" itself is resolved later). */
export type SeqSet = [number, number][];

export function parseSeqSet(s: string): SeqSet {
  if (!/^[\d:*,]+$/.test(s) || s.length > 100_000) throw new ImapBad('invalid sequence set');
  const out: SeqSet = [];
  for (const part of s.split(',')) {
    const m = /^(\d+|\*)(?::(\d+|\*))?$/.exec(part);
    if (!m) throw new ImapBad('invalid sequence set');
    const a = m[1] === '*' ? Infinity : Number(m[1]);
    const b = m[2] === undefined ? a : m[2] === '*' ? Infinity : Number(m[2]);
    if (a === 0 || b === 0 || !(Number.isFinite(a) || a === Infinity) || a > 0xffffffff && a !== Infinity || b > 0xffffffff && b !== Infinity) throw new ImapBad('invalid sequence number');
    out.push(a <= b ? [a, b] : [b, a]);
  }
  return out;
}

/** Resolve "*" to `max` (the highest seq or UID): a range with * becomes [min(a, max), max]. */
export function resolveStar(set: SeqSet, max: number): SeqSet {
  return set.map(([a, b]) => {
    const a2 = a === Infinity ? max : a;
    const b2 = b === Infinity ? max : b;
    return a2 <= b2 ? [a2, b2] : [b2, a2];
  });
}

export function inSet(set: SeqSet, n: number): boolean {
  for (const [a, b] of set) if (n >= a && n <= b) return true;
  return false;
}

/** Numbers (sorted, distinct) -> compact sequence set "1:3,5". */
export function compactSet(nums: number[]): string {
  if (nums.length === 0) return '';
  const s = [...nums].sort((a, b) => a - b);
  const out: string[] = [];
  let a = s[0];
  let b = s[0];
  for (let i = 1; i <= s.length; i++) {
    const n = s[i];
    if (n === b) continue;
    if (n === b + 1) { b = n; continue; }
    out.push(a === b ? String(a) : `${a}:${b}`);
    a = b = n;
  }
  return out.join(',');
}

/** Numbers in given order -> set string keeping order (COPYUID needs source and target aligned). */
export function orderedSet(nums: number[]): string {
  const out: string[] = [];
  let i = 0;
  while (i < nums.length) {
    let j = i;
    while (j + 1 < nums.length && nums[j + 1] === nums[j] + 1) j++;
    out.push(i === j ? String(nums[i]) : `${nums[i]}:${nums[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

/**
 * Keywords are bounded as Dovecot bounds them (mail_max_keyword_length = 50, answered
 * NO [CANNOT]); RFC 3501 sets no limit, but every message carries its keywords and SELECT lists
 * them all. One command sets at most MAX_KEYWORDS of them (RFC 5530 LIMIT).
 */
export const MAX_KEYWORD_LENGTH = 50;
export const MAX_KEYWORDS = 64;

/** Flags of STORE or APPEND (their syntax checked by the grammar) within the limits above. */
export function checkFlags(flags: string[]): string[] {
  let keywords = 0;
  for (const f of flags) {
    if (f.startsWith('\\')) continue;
    if (f.length > MAX_KEYWORD_LENGTH) throw new ImapNo('CANNOT', `keyword longer than ${MAX_KEYWORD_LENGTH} characters`);
    if (++keywords > MAX_KEYWORDS) throw new ImapNo('LIMIT', `at most ${MAX_KEYWORDS} keywords at once`);
  }
  return flags;
}

/** RFC 3501 §6.4.4 (and RFC 5256 SORT/THREAD): the charsets we search in; any other is NO [BADCHARSET]. */
export function checkCharset(charset: string | null): void {
  if (charset === null) return;
  const cs = charset.toUpperCase();
  if (cs !== 'UTF-8' && cs !== 'US-ASCII' && cs !== 'UTF8') throw new ImapNo('BADCHARSET (UTF-8 US-ASCII)', `charset ${cs} is not supported`);
}

/**
 * RFC 3501 §6.4.4 SENTBEFORE/SENTON/SENTSINCE: the day of a Date: header as written there
 * (RFC 5322 §3.3 date-time; its time and zone disregarded), as UTC midnight ms; NaN when unreadable.
 */
export function headerDay(date: string | null): number {
  if (!date) return NaN;
  const m = /(?:^|[\s,])(\d{1,2})\s+([A-Za-z]{3})[a-z]*\s+(\d{2,4})(?=\s|$)/.exec(date.replace(/\([^)]*\)/g, ' '));
  if (!m) return NaN;
  const mon = MONTHS.findIndex((x) => x.toLowerCase() === m[2].toLowerCase());
  if (mon < 0) return NaN;
  let year = Number(m[3]);
  // RFC 5322 §4.3 obsolete two- and three-digit years
  if (m[3].length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3].length === 3) year += 1900;
  return Date.UTC(year, mon, Number(m[1]));
}

/** A Date: header as milliseconds (comments dropped), NaN when there is none or it cannot be parsed. */
export function headerDate(date: string | null): number {
  return date ? Date.parse(date.replace(/\([^)]*\)/g, '').trim()) : NaN;
}
