import type { MimeTree } from '../../mail/mime.js';
import { decodeMimeWords } from '../../mail/mime.js';
import { addressText, fold, INDEXED_HEADERS } from '../../mail/search-text.js';
import type { FlagIndex, MessageRecord } from '../../store/index.js';
import { usesModseq } from '../grammar/search.js';
import { headerFieldValues } from '../../mail/headers.js';
import type { ImapCommand, ImapSession, SearchKey, Selected } from '../types.js';
import { RECORD_CHUNK } from './util.js';
import { checkCharset, compactSet, headerDay, inSet, resolveStar, type SeqSet } from '../wire.js';

/** A search key bound to the selected mailbox: "*" resolved, "$" replaced by the saved UIDs. */
type Key =
  | Exclude<SearchKey, { k: 'saved' } | { k: 'not' } | { k: 'or' } | { k: 'and' }>
  | { k: 'not'; a: Key } | { k: 'or'; a: Key; b: Key } | { k: 'and'; keys: Key[] }
  | { k: 'uidlist'; uids: Set<number> };

/** RFC 3501 §6.4.4: "*" is the highest sequence number (or UID) of the mailbox as the session sees it. */
function bind(k: SearchKey, sel: Selected, saved: number[]): Key {
  switch (k.k) {
    case 'saved': return { k: 'uidlist', uids: new Set(saved) };
    case 'seq': return { k: 'seq', set: resolveStar(k.set, sel.uids.length) as SeqSet };
    case 'uid': return { k: 'uid', set: resolveStar(k.set, sel.uids.last()) };
    case 'not': return { k: 'not', a: bind(k.a, sel, saved) };
    case 'or': return { k: 'or', a: bind(k.a, sel, saved), b: bind(k.b, sel, saved) };
    case 'and': return { k: 'and', keys: k.keys.map((x) => bind(x, sel, saved)) };
    default: return k;
  }
}

export interface Msg { seq: number; r: MessageRecord }
/** A match as SEARCH reports it: its sequence number, UID and MODSEQ (0 when no key read the record). */
export interface Found { seq: number; uid: number; modseq: number }

/** a SEARCH string as headerCandidates asks for it: the folded value is a substring of a match's indexed text */
const day = (ms: number) => { const d = new Date(ms); return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()); };

interface Loaded { tree: MimeTree; text: string; headers: { name: string; value: string }[] }

class Evaluator {
  private loaded = new Map<number, Loaded>();
  /** RFC 5032: one "now" for the whole search */
  private readonly now = Date.now();
  constructor(private readonly s: ImapSession, private readonly sel: Selected) {}

  /** which keys need the message's record (flags, size, dates, MODSEQ): the others test only its UID and place */
  static needsRecord(k: Key): boolean {
    switch (k.k) {
      case 'all': case 'seq': case 'uid': case 'uidlist': case 'recent': case 'old': return false;
      case 'not': return Evaluator.needsRecord(k.a);
      case 'or': return Evaluator.needsRecord(k.a) || Evaluator.needsRecord(k.b);
      case 'and': return k.keys.some(Evaluator.needsRecord);
      default: return true;
    }
  }

  /** which keys need the message's bytes or parsed meta */
  static needs(k: Key): boolean {
    switch (k.k) {
      case 'header': case 'address': case 'body': case 'text': return true;
      case 'date': return k.field === 'sent';
      case 'not': return Evaluator.needs(k.a);
      case 'or': return Evaluator.needs(k.a) || Evaluator.needs(k.b);
      case 'and': return k.keys.some(Evaluator.needs);
      default: return false;
    }
  }

  /** which keys need the message's bytes (its header fields), beyond the parsed meta */
  static needsRaw(k: Key): boolean {
    switch (k.k) {
      case 'header': case 'text': return true;
      case 'not': return Evaluator.needsRaw(k.a);
      case 'or': return Evaluator.needsRaw(k.a) || Evaluator.needsRaw(k.b);
      case 'and': return k.keys.some(Evaluator.needsRaw);
      default: return false;
    }
  }

  private async load(r: MessageRecord, withRaw: boolean): Promise<Loaded> {
    let l = this.loaded.get(r.uid);
    if (!l) {
      const meta = await this.s.ctx.store.messages.meta(r.blobId);
      const tree = meta.mime as MimeTree;
      // the bytes only for header fields (FROM/TO/CC/BCC read the envelope in the meta)
      const raw = withRaw ? await this.s.ctx.store.messages.raw(r.blobId) : null;
      let headers: Loaded['headers'] | undefined;
      let text: string | undefined;
      // the decoded body text is read only when a TEXT or BODY key asks for it
      l = {
        tree,
        get headers() { return (headers ??= headerFieldValues(raw!, tree.root).map((h) => ({ name: h.name, value: decodeMimeWords(h.value) }))); },
        get text() { return (text ??= meta.searchText); },
      };
      this.loaded.clear(); // one message at a time: bounded memory
      this.loaded.set(r.uid, l);
    }
    return l;
  }

  /**
   * Does message m match? Loads the message's meta (and bytes) only when a key needs them, and
   * not at all when a key of a top-level AND that needs neither already fails (UNSEEN SUBJECT x).
   */
  async matches(k: Key, m: Msg, needs: boolean, needsRaw = false): Promise<boolean> {
    if (!needs) return this.test(k, m, null);
    if (k.k === 'and') for (const x of k.keys) if (!Evaluator.needs(x) && !this.test(x, m, null)) return false;
    return this.test(k, m, await this.load(m.r, needsRaw));
  }

  /** Does the message at `seq` match a key that needs no record (needsRecord() is false)? */
  matchesPlace(k: Key, seq: number, uid: number): boolean {
    return this.test(k, { seq, r: { uid } as MessageRecord }, null);
  }

  private test(k: Key, m: Msg, l: Loaded | null): boolean {
    const r = m.r;
    switch (k.k) {
      case 'all': return true;
      case 'flag': return r.flags.includes(k.flag) === k.set;
      case 'new': return this.sel.recent.has(r.uid) && !r.flags.includes('\\Seen');
      case 'old': return !this.sel.recent.has(r.uid);
      case 'recent': return this.sel.recent.has(r.uid) === k.set;
      case 'not': return !this.test(k.a, m, l);
      case 'or': return this.test(k.a, m, l) || this.test(k.b, m, l);
      case 'and': for (const x of k.keys) if (!this.test(x, m, l)) return false; return true;
      case 'seq': return inSet(k.set, m.seq);
      case 'uid': return inSet(k.set, r.uid);
      case 'uidlist': return k.uids.has(r.uid);
      case 'size': return k.larger ? r.size > k.n : r.size < k.n;
      case 'modseq': return r.modseq >= k.n;
      // RFC 5032 §3 OLDER: INTERNALDATE more than the interval ago; YOUNGER: within the interval
      case 'within': return k.older ? r.internalDate < this.now - k.secs * 1000 : r.internalDate >= this.now - k.secs * 1000;
      case 'date': {
        let when: number;
        if (k.field === 'internal') when = day(r.internalDate);
        else {
          // RFC 3501 §6.4.4 SENT*: the Date: header's date "disregarding time and timezone", as written
          when = headerDay(l!.tree.envelope.date);
          if (Number.isNaN(when)) return false;
        }
        return k.op === 'before' ? when < k.day : k.op === 'on' ? when === k.day : when >= k.day;
      }
      case 'address': {
        // RFC 3501 §6.4.4 FROM/TO/CC/BCC: the string in the envelope structure's field (name, mailbox@host, group names)
        const list = l!.tree.envelope[k.field];
        if (!list) return false;
        const v = fold(k.value);
        return list.some((a) => fold(addressText(a)).includes(v));
      }
      case 'header': {
        const v = fold(k.value);
        return l!.headers.some((h) => h.name === k.name && (v === '' || fold(h.value).includes(v)));
      }
      case 'body': return fold(l!.text).includes(fold(k.value));
      case 'text': {
        const v = fold(k.value);
        return fold(l!.text).includes(v) || l!.headers.some((h) => fold(h.name + ': ' + h.value).includes(v));
      }
    }
  }
}

/** below this many candidates from one key of an AND, the header index is not asked as well */
const FEW_CANDIDATES = 2_000;

/** A message to evaluate: its place in the view. */
interface Place { seq: number; uid: number }

/**
 * RFC 3501 §6.4.4: the candidates a key can have, or null when the key gives no prefilter (any
 * message may match). FROM/TO/CC/BCC/SUBJECT/HEADER ask the store's header index
 * (messages.headerCandidates, a superset of the matches); UNSEEN, NEW, DELETED, FLAGGED (and NOT
 * SEEN, NOT UNDELETED, NOT UNFLAGGED) the flags' partial indexes (messages.flagCandidates: the
 * messages in that flag state when asked). AND intersects (its header keys' words asked at once,
 * unless another key already gave few candidates), OR unites, the other keys give none. The full
 * program is still tested on every candidate's record, so the result is the full evaluation's.
 */
async function candidates(s: ImapSession, sel: Selected, k: Key): Promise<Uint32Array | null> {
  const words = (x: Key): string[] | null => {
    if ((x.k === 'address' || (x.k === 'header' && INDEXED_HEADERS.has(x.name))) && x.value !== '') return [fold(x.value)];
    return null;
  };
  // ascending UIDs, as the store promises (sorted here if ever not: the merges below rely on it)
  const ask = async (w: string[]) => ascending(Uint32Array.from(await s.ctx.store.messages.headerCandidates(sel.mailbox.id, w)));
  const flagged = async (which: FlagIndex) => ascending(Uint32Array.from(await s.ctx.store.messages.flagCandidates(sel.mailbox.id, which)));
  switch (k.k) {
    case 'address': case 'header': {
      const w = words(k);
      return w ? ask(w) : null;
    }
    case 'flag':
      if (k.flag === '\\Seen' && !k.set) return flagged('unseen');
      if (k.flag === '\\Deleted' && k.set) return flagged('deleted');
      if (k.flag === '\\Flagged' && k.set) return flagged('flagged');
      return null;
    case 'new': return flagged('unseen');
    case 'not':
      if (k.a.k === 'flag' && k.a.flag === '\\Seen' && k.a.set) return flagged('unseen');
      if (k.a.k === 'flag' && k.a.flag === '\\Deleted' && !k.a.set) return flagged('deleted');
      if (k.a.k === 'flag' && k.a.flag === '\\Flagged' && !k.a.set) return flagged('flagged');
      return null;
    case 'and': {
      const all: string[] = [];
      const lists: Uint32Array[] = [];
      for (const x of k.keys) {
        const w = words(x);
        if (w) { all.push(...w); continue; }
        const c = await candidates(s, sel, x);
        if (c) lists.push(c);
      }
      // few candidates already (UNSEEN SUBJECT x in a big mailbox): testing them is cheaper than
      // the header index's pass over the mailbox
      const few = lists.some((l) => l.length <= FEW_CANDIDATES);
      if (all.length && !few) lists.push(await ask([...new Set(all)]));
      if (!lists.length) return null;
      return lists.reduce((x, y) => merge(x, y, true));
    }
    case 'or': {
      const a = await candidates(s, sel, k.a);
      if (!a) return null;
      const b = await candidates(s, sel, k.b);
      if (!b) return null;
      return merge(a, b, false);
    }
    default: return null;
  }
}

function ascending(a: Uint32Array): Uint32Array {
  for (let i = 1; i < a.length; i++) if (a[i] <= a[i - 1]) return Uint32Array.from(new Set(a.sort()));
  return a;
}

/** Two ascending UID lists -> their intersection (both) or union, ascending. */
function merge(a: Uint32Array, b: Uint32Array, both: boolean): Uint32Array {
  const out = new Uint32Array(both ? Math.min(a.length, b.length) : a.length + b.length);
  let i = 0, j = 0, n = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) { out[n++] = a[i++]; j++; }
    else if (a[i] < b[j]) { if (both) i++; else out[n++] = a[i++]; }
    else if (both) j++; else out[n++] = b[j++];
  }
  if (!both) { while (i < a.length) out[n++] = a[i++]; while (j < b.length) out[n++] = b[j++]; }
  return out.subarray(0, n);
}

/**
 * Evaluate a bound program over the view (or only over candidates in it), in chunks of
 * RECORD_CHUNK messages read with messages.some(): never the whole mailbox's records at once.
 * `each` gets every match in sequence order; `record` is null when no key needed it.
 */
async function scan(s: ImapSession, sel: Selected, key: Key, wantRecord: boolean, each: (p: Place, r: MessageRecord | null) => void): Promise<void> {
  const ev = new Evaluator(s, sel);
  const v = sel.uids;
  const cands = await candidates(s, sel, key);
  // the places to test, a chunk at a time: the candidates that are in the view, or the whole view
  let places: (from: number) => Place[];
  let total: number;
  if (cands) {
    // both ascending: the candidates' sequence numbers come out ascending
    const seqs = new Uint32Array(cands.length);
    let n = 0;
    for (const u of cands) { const q = v.seqOf(u); if (q) seqs[n++] = q; }
    const inView = seqs.subarray(0, n);
    total = n;
    places = (from) => Array.from(inView.subarray(from, from + RECORD_CHUNK), (q) => ({ seq: q, uid: v.at(q - 1)! }));
  } else {
    total = v.length;
    places = (from) => v.slice(from, from + RECORD_CHUNK).map((uid, i) => ({ seq: from + i + 1, uid }));
  }
  const needs = Evaluator.needs(key);
  const needsRaw = Evaluator.needsRaw(key);
  const needsRecord = wantRecord || needs || Evaluator.needsRecord(key);
  let n = 0;
  for (let from = 0; from < total; from += RECORD_CHUNK) {
    const chunk = places(from);
    if (!needsRecord) {
      for (const p of chunk) if (ev.matchesPlace(key, p.seq, p.uid)) each(p, null);
      continue;
    }
    const recs = await s.ctx.store.messages.some(sel.mailbox.id, chunk.map((p) => p.uid));
    let j = 0;
    for (const p of chunk) {
      // both in UID order: one merge (a message expunged under us has no record: no match)
      while (j < recs.length && recs[j].uid < p.uid) j++;
      if (j >= recs.length || recs[j].uid !== p.uid) continue;
      const m = { seq: p.seq, r: recs[j] };
      try {
        if (await ev.matches(key, m, needs, needsRaw)) each(p, m.r);
      } catch {
        // a message expunged under us: no match
      }
      if (needs && ++n % 200 === 0) await new Promise((res) => setImmediate(res)); // let others run
    }
    if (!needs) await new Promise((res) => setImmediate(res));
  }
}

/** Run a search over the selected mailbox: the matching messages with their records, in sequence order. */
export async function runSearch(s: ImapSession, sel: Selected, program: SearchKey): Promise<Msg[]> {
  const out: Msg[] = [];
  await scan(s, sel, bind(program, sel, s.searchRes), true, (p, r) => out.push({ seq: p.seq, r: r! }));
  return out;
}

/** SEARCH's matches: places only (MODSEQ when a key read the record), so a million matches stay small. */
async function searchFound(s: ImapSession, sel: Selected, program: SearchKey): Promise<Found[]> {
  const out: Found[] = [];
  await scan(s, sel, bind(program, sel, s.searchRes), false, (p, r) => out.push({ seq: p.seq, uid: p.uid, modseq: r?.modseq ?? 0 }));
  return out;
}

// RFC 3501 §6.4.4 SEARCH, RFC 4731 ESEARCH (RETURN MIN MAX COUNT ALL), RFC 7162 MODSEQ.
export const search: ImapCommand<'SEARCH'> = {
  states: ['selected'],
  noExpunge: true,
  async run(s, cmd) {
    const sel = s.selected!;
    let ret: string[] | null = cmd.ret;
    checkCharset(cmd.charset);
    const found = await searchFound(s, sel, cmd.key);
    const nums = found.map((m) => (cmd.uid ? m.uid : m.seq));
    if (ret?.includes('SAVE')) {
      // RFC 5182 §2.4: with MIN or MAX (and not ALL/COUNT) only those are saved
      const onlyMinMax = (ret.includes('MIN') || ret.includes('MAX')) && !ret.includes('ALL') && !ret.includes('COUNT');
      const uids = found.map((m) => m.uid);
      s.searchRes = onlyMinMax && uids.length ? [...new Set([...(ret.includes('MIN') ? [uids[0]] : []), ...(ret.includes('MAX') ? [uids[uids.length - 1]] : [])])] : uids;
      ret = ret.filter((o) => o !== 'SAVE');
      if (!ret.length) return 'SEARCH completed (result saved)';
    }
    // RFC 7162 §3.1.5: only a search with the MODSEQ key reports the highest mod-sequence (a SUBJECT
    // "modseq" is not one: the key is read from the typed program, not from the command's text)
    const withModseq = usesModseq(cmd.key);
    const maxModseq = (list: Found[]) => list.reduce((h, m) => (m.modseq > h ? m.modseq : h), 0);
    let highest = withModseq ? maxModseq(found) : 0;
    if (ret || s.enabled.has('IMAP4REV2')) {
      const r = ret ?? ['ALL'];
      // RFC 7162 §3.1.5 (with RFC 4731): MIN or MAX alone report the mod-sequence of the message(s)
      // they return; with ALL or COUNT, the highest of all found
      if (highest && !r.includes('ALL') && !r.includes('COUNT')) {
        highest = maxModseq([...(r.includes('MIN') ? [found[0]] : []), ...(r.includes('MAX') ? [found[found.length - 1]] : [])]);
      }
      let line = `* ESEARCH (TAG "${cmd.tag.replace(/["\\]/g, '')}")${cmd.uid ? ' UID' : ''}`;
      if (nums.length) {
        if (r.includes('MIN')) line += ` MIN ${nums[0]}`;
        if (r.includes('MAX')) line += ` MAX ${nums[nums.length - 1]}`;
        if (r.includes('ALL')) line += ` ALL ${compactSet(nums)}`;
      }
      if (r.includes('COUNT')) line += ` COUNT ${nums.length}`;
      if (highest) line += ` MODSEQ ${highest}`;
      s.send(line);
    } else {
      s.send(`* SEARCH${nums.length ? ' ' + nums.join(' ') : ''}${highest ? ` (MODSEQ ${highest})` : ''}`);
    }
    return 'SEARCH completed';
  },
};
