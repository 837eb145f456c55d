// SEARCH's arguments (RFC 3501 §6.4.4 and §9 search, RFC 9051 §6.4.4), RFC 4731 §3.1 RETURN options,
// RFC 5182 SEARCHRES "$", RFC 7162 §3.1.5 MODSEQ; the search program SORT and THREAD share.
import type { ArgsOf, SearchKey, SearchReturn } from '../types.js';
import { ImapBad, parseSeqSet } from '../wire.js';
import { flag, type Args } from './args.js';

const FLAG_KEYS: Record<string, [string, boolean]> = {
  ANSWERED: ['\\Answered', true], DELETED: ['\\Deleted', true], DRAFT: ['\\Draft', true], FLAGGED: ['\\Flagged', true], SEEN: ['\\Seen', true],
  UNANSWERED: ['\\Answered', false], UNDELETED: ['\\Deleted', false], UNDRAFT: ['\\Draft', false], UNFLAGGED: ['\\Flagged', false], UNSEEN: ['\\Seen', false],
};
const ADDRESS_KEYS: Record<string, 'from' | 'to' | 'cc' | 'bcc'> = { BCC: 'bcc', CC: 'cc', FROM: 'from', TO: 'to' };
const DATE_KEYS: Record<string, ['internal' | 'sent', 'before' | 'on' | 'since']> = {
  BEFORE: ['internal', 'before'], ON: ['internal', 'on'], SINCE: ['internal', 'since'],
  SENTBEFORE: ['sent', 'before'], SENTON: ['sent', 'on'], SENTSINCE: ['sent', 'since'],
};
const RETURN_OPTS: SearchReturn[] = ['MIN', 'MAX', 'COUNT', 'ALL', 'SAVE'];
/** nesting of NOT / OR / parentheses a search may use */
const MAX_DEPTH = 100;

/** RFC 3501 §9 search-key (one key; lists and NOT/OR recurse). */
function key(a: Args, depth: number): SearchKey {
  if (depth > MAX_DEPTH) throw new ImapBad('search too complex');
  if (a.isList()) {
    // RFC 3501 §9: "(" search-key *(SP search-key) ")"
    const sub = a.list('search key');
    const keys: SearchKey[] = [];
    while (!sub.done) keys.push(key(sub, depth + 1));
    if (!keys.length) throw new ImapBad('empty search list');
    return keys.length === 1 ? keys[0] : { k: 'and', keys };
  }
  const t = a.peek();
  if (!t) throw new ImapBad('missing search key');
  if (t.t !== 'atom') throw new ImapBad('invalid search key');
  const v = a.atom('search key');
  const u = v.toUpperCase();
  // RFC 3501 §9 sequence-set as a key; RFC 5182 §2.1 "$"
  if (u === '$') return { k: 'saved' };
  if (/^[\d*:,]+$/.test(u)) return { k: 'seq', set: parseSeqSet(v) };
  if (u === 'ALL') return { k: 'all' };
  if (FLAG_KEYS[u]) return { k: 'flag', flag: FLAG_KEYS[u][0], set: FLAG_KEYS[u][1] };
  // "KEYWORD" SP flag-keyword
  if (u === 'KEYWORD' || u === 'UNKEYWORD') return { k: 'flag', flag: flag(a.atom('keyword')), set: u === 'KEYWORD' };
  if (u === 'NEW') return { k: 'new' };
  if (u === 'OLD') return { k: 'old' };
  if (u === 'RECENT') return { k: 'recent', set: true };
  if (u === 'NOT') return { k: 'not', a: key(a, depth + 1) };
  if (u === 'OR') { const x = key(a, depth + 1); return { k: 'or', a: x, b: key(a, depth + 1) }; }
  if (u === 'UID') {
    const s = a.seqSet('UID set');
    return s.saved ? { k: 'saved' } : { k: 'uid', set: s.set };
  }
  // "LARGER" SP number / "SMALLER" SP number
  if (u === 'LARGER' || u === 'SMALLER') return { k: 'size', larger: u === 'LARGER', n: a.number('size') };
  // "BEFORE" SP date ... "SENTSINCE" SP date
  if (DATE_KEYS[u]) return { k: 'date', field: DATE_KEYS[u][0], op: DATE_KEYS[u][1], day: a.date() };
  // "FROM" SP astring, ... (NIL is the atom "NIL" here): the envelope's addresses; "SUBJECT" SP astring
  if (ADDRESS_KEYS[u]) return { k: 'address', field: ADDRESS_KEYS[u], value: a.astring('search string') };
  if (u === 'SUBJECT') return { k: 'header', name: 'subject', value: a.astring('search string') };
  // "HEADER" SP header-fld-name SP astring
  if (u === 'HEADER') { const name = a.astring('header name').toLowerCase(); return { k: 'header', name, value: a.astring('search string') }; }
  // RFC 5032 §4 search-key =/ ( "OLDER" / "YOUNGER" ) SP nz-number (seconds)
  if (u === 'OLDER' || u === 'YOUNGER') {
    const secs = a.number('interval');
    if (secs < 1) throw new ImapBad('the interval of OLDER/YOUNGER is at least 1 second');
    return { k: 'within', older: u === 'OLDER', secs };
  }
  if (u === 'BODY') return { k: 'body', value: a.astring('search string') };
  if (u === 'TEXT') return { k: 'text', value: a.astring('search string') };
  if (u === 'MODSEQ') {
    // RFC 7162 §3.1.5: "MODSEQ" [search-modsequence-ext] SP mod-sequence-valzer, ext = entry-name SP entry-type-req
    if (a.isString()) {
      a.string('entry name');
      const type = a.atom('entry type').toLowerCase();
      if (type !== 'priv' && type !== 'shared' && type !== 'all') throw new ImapBad('invalid entry type');
    }
    return { k: 'modseq', n: a.number('mod-sequence') };
  }
  throw new ImapBad(`unknown search key ${v.slice(0, 40)}`);
}

/** The search keys up to the end of the arguments, as one key (several are ANDed). */
export function searchProgram(a: Args): SearchKey {
  const keys: SearchKey[] = [];
  while (!a.done) keys.push(key(a, 0));
  if (!keys.length) throw new ImapBad('missing search key');
  return keys.length === 1 ? keys[0] : { k: 'and', keys };
}

/** RFC 4731 §3.1 search-return-opts = SP "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")" (after RETURN) */
export function returnOptions(a: Args): SearchReturn[] {
  const l = a.list('RETURN options');
  const ret: SearchReturn[] = [];
  while (!l.done) {
    const o = l.atom('return option').toUpperCase() as SearchReturn;
    if (!RETURN_OPTS.includes(o)) throw new ImapBad(`unknown return option ${o.slice(0, 40)}`);
    if (!ret.includes(o)) ret.push(o);
  }
  // RFC 4731 §3.1: "RETURN ()" is "RETURN (ALL)"
  return ret.length ? ret : ['ALL'];
}

/** RFC 3501 §9 search = "SEARCH" [search-return-opts] [SP "CHARSET" SP astring] 1*(SP search-key) (RFC 4731 §3.1 RETURN). */
export function searchArgs(a: Args, uid: boolean): ArgsOf<'SEARCH'> {
  const ret = a.accept('RETURN') ? returnOptions(a) : null;
  const charset = a.accept('CHARSET') ? a.astring('charset') : null;
  return { verb: 'SEARCH', uid, ret, charset, key: searchProgram(a) };
}

/** Does the program use MODSEQ (RFC 7162 §3.1.5: then the reply carries the highest mod-sequence)? */
export function usesModseq(k: SearchKey): boolean {
  switch (k.k) {
    case 'modseq': return true;
    case 'not': return usesModseq(k.a);
    case 'or': return usesModseq(k.a) || usesModseq(k.b);
    case 'and': return k.keys.some(usesModseq);
    default: return false;
  }
}
