import type { MimeTree } from '../../mail/mime.js';
import { decodeMimeWords } from '../../mail/mime.js';
import type { MessageRecord } from '../../store/index.js';
import type { Token } from '../parser.js';
import { headerBlock } from '../render.js';
import type { ImapCommand, ImapSession, Selected } from '../session.js';
import { checkCharset, compactSet, headerDate, ImapBad, inSet, parseDate, parseSeqSet, resolveStar, tokAtom, tokNumber, tokString, type SeqSet } from '../wire.js';

type Key =
  | { k: 'all' }
  | { k: 'flag'; flag: string; set: boolean }
  | { k: 'new' } | { k: 'old' } | { k: 'recent'; set: boolean }
  | { k: 'not'; a: Key } | { k: 'or'; a: Key; b: Key } | { k: 'and'; keys: Key[] }
  | { k: 'seq'; set: SeqSet } | { k: 'uid'; set: SeqSet } | { k: 'uidlist'; uids: Set<number> }
  | { k: 'size'; larger: boolean; n: number }
  | { k: 'date'; field: 'internal' | 'sent'; op: 'before' | 'on' | 'since'; day: number }
  | { k: 'header'; name: string; value: string }
  | { k: 'body'; value: string } | { k: 'text'; value: string }
  | { k: 'modseq'; n: number };

const FLAG_KEYS: Record<string, [string, boolean]> = {
  ANSWERED: ['\\Answered', true], DELETED: ['\\Deleted', true], DRAFT: ['\\Draft', true], FLAGGED: ['\\Flagged', true], SEEN: ['\\Seen', true],
  UNANSWERED: ['\\Answered', false], UNDELETED: ['\\Deleted', false], UNDRAFT: ['\\Draft', false], UNFLAGGED: ['\\Flagged', false], UNSEEN: ['\\Seen', false],
};
const HEADER_KEYS: Record<string, string> = { BCC: 'bcc', CC: 'cc', FROM: 'from', SUBJECT: 'subject', TO: 'to' };
const DATE_KEYS: Record<string, ['internal' | 'sent', 'before' | 'on' | 'since']> = {
  BEFORE: ['internal', 'before'], ON: ['internal', 'on'], SINCE: ['internal', 'since'],
  SENTBEFORE: ['sent', 'before'], SENTON: ['sent', 'on'], SENTSINCE: ['sent', 'since'],
};

class KeyParser {
  i = 0;
  depth = 0;
  constructor(private readonly toks: Token[], private readonly sel: Selected, readonly s: ImapSession) {}
  more(): boolean { return this.i < this.toks.length; }
  str(what: string): string { return tokString(this.toks[this.i++], what); }
  key(): Key {
    const t = this.toks[this.i++];
    if (!t) throw new ImapBad('missing search key');
    if (++this.depth > 100) throw new ImapBad('search too complex');
    try {
      if (t.t === 'list') {
        const sub = new KeyParser(t.v, this.sel, this.s);
        sub.depth = this.depth;
        const keys: Key[] = [];
        while (sub.more()) keys.push(sub.key());
        if (!keys.length) throw new ImapBad('empty search list');
        return { k: 'and', keys };
      }
      if (t.t !== 'atom') throw new ImapBad('invalid search key');
      const u = t.v.toUpperCase();
      if (u === '$') return { k: 'uidlist', uids: new Set(this.s.searchRes) };
      if (/^[\d*:,]+$/.test(u)) return { k: 'seq', set: resolveStar(parseSeqSet(u), this.sel.uids.length) };
      if (u === 'ALL') return { k: 'all' };
      if (FLAG_KEYS[u]) return { k: 'flag', flag: FLAG_KEYS[u][0], set: FLAG_KEYS[u][1] };
      if (u === 'KEYWORD' || u === 'UNKEYWORD') return { k: 'flag', flag: tokAtom(this.toks[this.i++], 'keyword'), set: u === 'KEYWORD' };
      if (u === 'NEW') return { k: 'new' };
      if (u === 'OLD') return { k: 'old' };
      if (u === 'RECENT') return { k: 'recent', set: true };
      if (u === 'NOT') return { k: 'not', a: this.key() };
      if (u === 'OR') { const a = this.key(); return { k: 'or', a, b: this.key() }; }
      if (u === 'UID') {
        const max = this.sel.uids.length ? this.sel.uids[this.sel.uids.length - 1] : 0;
        const set = tokAtom(this.toks[this.i++], 'UID set');
        if (set === '$') return { k: 'uidlist', uids: new Set(this.s.searchRes) };
        return { k: 'uid', set: resolveStar(parseSeqSet(set), max) };
      }
      if (u === 'LARGER' || u === 'SMALLER') return { k: 'size', larger: u === 'LARGER', n: tokNumber(this.toks[this.i++], 'size') };
      if (DATE_KEYS[u]) return { k: 'date', field: DATE_KEYS[u][0], op: DATE_KEYS[u][1], day: parseDate(this.str('date')) };
      if (HEADER_KEYS[u]) return { k: 'header', name: HEADER_KEYS[u], value: this.str('search string') };
      if (u === 'HEADER') { const name = this.str('header name').toLowerCase(); return { k: 'header', name, value: this.str('search string') }; }
      if (u === 'BODY') return { k: 'body', value: this.str('search string') };
      if (u === 'TEXT') return { k: 'text', value: this.str('search string') };
      if (u === 'MODSEQ') {
        // RFC 7162 §3.1.5: MODSEQ [entry-name entry-type] mod-sequence
        if (this.toks[this.i]?.t === 'string') this.i += 2;
        this.s.condstore = true;
        return { k: 'modseq', n: tokNumber(this.toks[this.i++], 'mod-sequence') };
      }
      throw new ImapBad(`unknown search key ${t.v.slice(0, 40)}`);
    } finally {
      this.depth--;
    }
  }
}

export interface Msg { seq: number; r: MessageRecord }

const fold = (x: string) => x.toLowerCase();
const day = (ms: number) => { const d = new Date(ms); return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()); };

interface Loaded { tree: MimeTree; text: string; headers: { name: string; value: string }[] }

class Evaluator {
  private loaded = new Map<number, Loaded>();
  constructor(private readonly s: ImapSession, private readonly sel: Selected) {}

  /** which keys need the message's bytes or parsed meta */
  static needs(k: Key): boolean {
    switch (k.k) {
      case 'header': case 'body': case 'text': return true;
      case 'date': return k.field === 'sent';
      case 'not': return Evaluator.needs(k.a);
      case 'or': return Evaluator.needs(k.a) || Evaluator.needs(k.b);
      case 'and': return k.keys.some(Evaluator.needs);
      default: return false;
    }
  }

  private async load(r: MessageRecord): Promise<Loaded> {
    let l = this.loaded.get(r.uid);
    if (!l) {
      const meta = await this.s.ctx.store.messages.meta(r.blobId);
      const tree = meta.mime as MimeTree;
      const raw = await this.s.ctx.store.messages.raw(r.blobId);
      const headers = headerBlock(raw, tree).map((h) => ({ name: h.name, value: decodeMimeWords(h.value) }));
      let text: string | undefined;
      // the decoded body text is read only when a TEXT or BODY key asks for it
      l = { tree, headers, get text() { return (text ??= meta.searchText); } };
      this.loaded.clear(); // one message at a time: bounded memory
      this.loaded.set(r.uid, l);
    }
    return l;
  }

  /** Does message m match? Loads the message's bytes and meta only when a key needs them. */
  async matches(k: Key, m: Msg, needs: boolean): Promise<boolean> {
    const l = needs ? await this.load(m.r) : null;
    return this.test(k, m, l);
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
      case 'date': {
        let when: number;
        if (k.field === 'internal') when = day(r.internalDate);
        else {
          const t = headerDate(l!.tree.envelope.date);
          if (Number.isNaN(t)) return false;
          when = day(t);
        }
        return k.op === 'before' ? when < k.day : k.op === 'on' ? when === k.day : when >= k.day;
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

/** Run a search over the selected mailbox: the matching messages, in sequence order. */
export async function runSearch(s: ImapSession, sel: Selected, toks: Token[]): Promise<Msg[]> {
  const p = new KeyParser(toks, sel, s);
  const keys: Key[] = [];
  while (p.more()) keys.push(p.key());
  if (!keys.length) throw new ImapBad('missing search key');
  const key: Key = keys.length === 1 ? keys[0] : { k: 'and', keys };
  const all = await s.ctx.store.messages.list(sel.mailbox.id);
  const byUid = new Map(all.map((r) => [r.uid, r]));
  const ev = new Evaluator(s, sel);
  const out: Msg[] = [];
  const needs = Evaluator.needs(key);
  let n = 0;
  for (let i = 0; i < sel.uids.length; i++) {
    const r = byUid.get(sel.uids[i]);
    if (!r) continue;
    const m = { seq: i + 1, r };
    try {
      if (await ev.matches(key, m, needs)) out.push(m);
    } catch {
      // a message expunged under us: no match
    }
    if (needs && ++n % 200 === 0) await new Promise((res) => setImmediate(res)); // let others run
  }
  return out;
}

// RFC 3501 §6.4.4 SEARCH, RFC 4731 ESEARCH (RETURN MIN MAX COUNT ALL), RFC 7162 MODSEQ.
export const search: ImapCommand = {
  states: ['selected'],
  noExpunge: true,
  async run(s, cmd) {
    const sel = s.selected!;
    const a = [...cmd.args];
    let ret: string[] | null = null;
    if (a[0]?.t === 'atom' && a[0].v.toUpperCase() === 'RETURN') {
      const l = a[1];
      if (!l || l.t !== 'list') throw new ImapBad('RETURN needs a list');
      ret = l.v.map((t) => tokAtom(t, 'return option').toUpperCase());
      for (const o of ret) if (!['MIN', 'MAX', 'COUNT', 'ALL', 'SAVE'].includes(o)) throw new ImapBad(`unknown return option ${o}`);
      if (!ret.length) ret = ['ALL'];
      a.splice(0, 2);
    }
    if (a[0]?.t === 'atom' && a[0].v.toUpperCase() === 'CHARSET') {
      checkCharset(a[1]);
      a.splice(0, 2);
    }
    const found = await runSearch(s, sel, a);
    const nums = found.map((m) => (cmd.uid ? m.r.uid : m.seq));
    if (ret?.includes('SAVE')) {
      // RFC 5182 §2.4: with MIN or MAX (and not ALL/COUNT) only those are saved
      const onlyMinMax = (ret.includes('MIN') || ret.includes('MAX')) && !ret.includes('ALL') && !ret.includes('COUNT');
      const uids = found.map((m) => m.r.uid);
      s.searchRes = onlyMinMax && uids.length ? [...new Set([...(ret.includes('MIN') ? [uids[0]] : []), ...(ret.includes('MAX') ? [uids[uids.length - 1]] : [])])] : uids;
      ret = ret.filter((o) => o !== 'SAVE');
      if (!ret.length) return 'SEARCH completed (result saved)';
    }
    const usesModseq = JSON.stringify(a).toUpperCase().includes('"MODSEQ"');
    const highest = usesModseq && found.length ? Math.max(...found.map((m) => m.r.modseq)) : 0;
    if (ret || s.enabled.has('IMAP4REV2')) {
      const r = ret ?? ['ALL'];
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
