// The verbs the server knows and the grammar of each one's arguments: tokens in, a typed command out
// (no session in reach). `uid` says whether "UID" may precede the verb (RFC 3501 §9 uid, RFC 4315 §2.1
// UID EXPUNGE, RFC 5256 UID SORT/THREAD, RFC 6851 UID MOVE). The states each verb runs in are on its
// handler (commands/index.ts).
import type { AppendMessage, ArgsOf, ImapArgs, ImapVerb, ListReturn, ListSelect, Qresync, SortKey } from '../types.js';
import { ImapBad, parseSeqSet } from '../wire.js';
import { Args } from './args.js';
import { fetchArgs } from './fetch.js';
import { returnOptions, searchArgs, searchProgram, usesModseq } from './search.js';

export interface Syntax<V extends ImapVerb> {
  /** "UID" may come first */
  uid: boolean;
  parse(a: Args, uid: boolean): ArgsOf<V>;
}

/** A verb that takes no arguments. */
function bare<V extends ImapVerb>(verb: V): Syntax<V> {
  return { uid: false, parse: (a) => { a.end(); return { verb } as ArgsOf<V>; } };
}

/** A verb whose one argument is a mailbox (RFC 3501 §9 mailbox = "INBOX" / astring). */
function onMailbox<V extends 'DELETE' | 'SUBSCRIBE' | 'UNSUBSCRIBE' | 'GETQUOTAROOT'>(verb: V): Syntax<V> {
  return { uid: false, parse: (a) => { const mailbox = a.astring('mailbox name'); a.end(); return { verb, mailbox } as ArgsOf<V>; } };
}

/** RFC 3501 §9 select / examine = "SELECT" SP mailbox [select-params]; RFC 7162 §3.1.8 CONDSTORE, §3.2.5 QRESYNC. */
function selectLike<V extends 'SELECT' | 'EXAMINE'>(verb: V): Syntax<V> {
  return {
    uid: false,
    parse(a) {
      const mailbox = a.astring('mailbox name');
      let condstore = false;
      let qresync: Qresync | null = null;
      if (!a.done) {
        const p = a.list('select parameters');
        while (!p.done) {
          const name = p.atom('select parameter').toUpperCase();
          if (name === 'CONDSTORE') condstore = true;
          else if (name === 'QRESYNC') {
            // "QRESYNC" SP "(" uidvalidity SP mod-sequence-value [SP known-uids] [SP seq-match-data] ")"
            const q = p.list('QRESYNC parameters');
            const uidValidity = q.number('UIDVALIDITY');
            const modseq = q.number('mod-sequence');
            const known = !q.done && !q.isList() ? parseSeqSet(q.atom('known UIDs')) : null;
            if (!q.done) q.list('sequence match data');
            q.end();
            qresync = { uidValidity, modseq, known };
          } else throw new ImapBad(`unknown select parameter ${name.slice(0, 40)}`);
        }
        a.end();
      }
      return { verb, mailbox, condstore, qresync } as ArgsOf<V>;
    },
  };
}

/** RFC 3501 §9 copy = "COPY" SP sequence-set SP mailbox; RFC 6851 §4 move likewise. */
function copyLike<V extends 'COPY' | 'MOVE'>(verb: V): Syntax<V> {
  return { uid: true, parse: (a, uid) => { const set = a.seqSet(); const mailbox = a.astring('mailbox name'); a.end(); return { verb, uid, set, mailbox } as ArgsOf<V>; } };
}

const STATUS_ITEMS = ['MESSAGES', 'RECENT', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'DELETED', 'SIZE', 'HIGHESTMODSEQ'];

/** RFC 3501 §9 status-att (RFC 9051 adds DELETED and SIZE, RFC 7162 §3.1.7 HIGHESTMODSEQ). */
function statusItems(l: Args): string[] {
  const items: string[] = [];
  while (!l.done) {
    const i = l.atom('status item').toUpperCase();
    if (!STATUS_ITEMS.includes(i)) throw new ImapBad(`unknown status item ${i.slice(0, 40)}`);
    items.push(i);
  }
  if (!items.length) throw new ImapBad('no status items');
  return items;
}

/** RFC 3501 §9 list-mailbox, or RFC 5258 §3 a parenthesised list of them. */
function patterns(a: Args): string[] {
  if (!a.isList()) return [a.astring('mailbox pattern')];
  const l = a.list('mailbox patterns');
  const out: string[] = [];
  while (!l.done) out.push(l.astring('mailbox pattern'));
  if (!out.length) throw new ImapBad('empty pattern list');
  return out;
}

const SORT_KEYS: SortKey[] = ['ARRIVAL', 'CC', 'DATE', 'FROM', 'SIZE', 'SUBJECT', 'TO', 'DISPLAYFROM', 'DISPLAYTO'];

/** RFC 3502 §6 append-message = append-opts SP append-data; RFC 4469 §5 append-data =/ "CATENATE" SP "(" cat-part *(SP cat-part) ")" */
function appendMessage(a: Args): AppendMessage {
  // append-opts = [SP flag-list] [SP date-time]
  const flags = a.isList() ? a.flags().filter((f) => f !== '\\Recent') : [];
  const t = a.peek();
  const date = t?.t === 'string' && !t.literal ? a.dateTime() : null;
  const d = a.next('message');
  if (d.t === 'string' && d.literal) return { flags, date, data: { kind: 'literal', bytes: d.bytes, binary: d.binary === true } };
  // RFC 6855 §4 append-data =/ "UTF8" SP "(" literal8 ")": a message with UTF-8 header fields
  if (d.t === 'atom' && d.v.toUpperCase() === 'UTF8') {
    const l = a.list('UTF8 message');
    const x = l.next('UTF8 literal8');
    if (x.t !== 'string' || !x.literal || !x.binary) throw new ImapBad('UTF8 needs the message as a literal8 ~{n}');
    l.end();
    return { flags, date, data: { kind: 'literal', bytes: x.bytes, binary: false, utf8: true } };
  }
  if ((d.t === 'atom' && d.v.toUpperCase() === 'CATENATE')) {
    const l = a.list('CATENATE parts');
    const parts: ({ text: Buffer } | { url: string })[] = [];
    while (!l.done) {
      const kind = l.atom('cat-part').toUpperCase();
      if (kind === 'TEXT') {
        // text-literal = "TEXT" SP literal (RFC 4469 §5; literal8 too with BINARY, RFC 4469 §4)
        const x = l.next('TEXT literal');
        if (x.t !== 'string' || !x.literal) throw new ImapBad('CATENATE TEXT needs a literal');
        parts.push({ text: x.bytes });
      } else if (kind === 'URL') parts.push({ url: l.astring('URL') });
      else throw new ImapBad(`unknown CATENATE part ${kind.slice(0, 40)}`);
    }
    if (!parts.length) throw new ImapBad('empty CATENATE');
    return { flags, date, data: { kind: 'catenate', parts } };
  }
  throw new ImapBad('APPEND needs the message as a literal');
}

export const SYNTAX: { [V in ImapVerb]: Syntax<V> } = {
  // RFC 3501 §9 command-any, command-nonauth, command-auth, command-select without arguments
  CAPABILITY: bare('CAPABILITY'), NOOP: bare('NOOP'), LOGOUT: bare('LOGOUT'), STARTTLS: bare('STARTTLS'),
  NAMESPACE: bare('NAMESPACE'), IDLE: bare('IDLE'), CHECK: bare('CHECK'), CLOSE: bare('CLOSE'), UNSELECT: bare('UNSELECT'),
  // RFC 3501 §9 login = "LOGIN" SP userid SP password (both astring)
  LOGIN: { uid: false, parse(a) { const user = a.astring('user name'); const password = a.astring('password'); a.end(); return { verb: 'LOGIN', user, password }; } },
  // RFC 3501 §9 authenticate = "AUTHENTICATE" SP auth-type; RFC 4959 §3 [SP (base64 / "=")]
  AUTHENTICATE: {
    uid: false,
    parse(a) {
      const mechanism = a.atom('mechanism').toUpperCase();
      const initial = a.done ? null : a.atom('initial response');
      a.end();
      return { verb: 'AUTHENTICATE', mechanism, initial };
    },
  },
  SELECT: selectLike('SELECT'), EXAMINE: selectLike('EXAMINE'),
  // RFC 3501 §9 create = "CREATE" SP mailbox; RFC 6154 §6 create-param "USE" SP "(" [use-attr *(SP use-attr)] ")"
  CREATE: {
    uid: false,
    parse(a) {
      const mailbox = a.astring('mailbox name');
      let use: string[] | null = null;
      if (!a.done) {
        const opts = a.list('create parameters');
        if (opts.atom('create parameter').toUpperCase() !== 'USE') throw new ImapBad('unknown CREATE parameter');
        const l = opts.list('special-use list');
        use = [];
        while (!l.done) use.push(l.atom('special-use attribute'));
        opts.end();
        a.end();
      }
      return { verb: 'CREATE', mailbox, use };
    },
  },
  DELETE: onMailbox('DELETE'), SUBSCRIBE: onMailbox('SUBSCRIBE'), UNSUBSCRIBE: onMailbox('UNSUBSCRIBE'), GETQUOTAROOT: onMailbox('GETQUOTAROOT'),
  // RFC 3501 §9 rename = "RENAME" SP mailbox SP mailbox
  RENAME: { uid: false, parse(a) { const from = a.astring('mailbox name'); const to = a.astring('new mailbox name'); a.end(); return { verb: 'RENAME', from, to }; } },
  // RFC 5258 §6 list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]
  LIST: {
    uid: false,
    parse(a) {
      let select: ListSelect | null = null;
      if (a.isList()) {
        select = { subscribed: false, specialUse: false, recursiveMatch: false, remote: false };
        const l = a.list('selection options');
        while (!l.done) {
          const opt = l.atom('selection option').toUpperCase();
          if (opt === 'SUBSCRIBED') select.subscribed = true;
          else if (opt === 'SPECIAL-USE') select.specialUse = true; // RFC 6154 §3
          else if (opt === 'RECURSIVEMATCH') select.recursiveMatch = true;
          else if (opt === 'REMOTE') select.remote = true;
          else throw new ImapBad(`unknown LIST selection option ${opt.slice(0, 40)}`);
        }
        // RFC 5258 §3: RECURSIVEMATCH alone is an error
        if (select.recursiveMatch && !select.subscribed) throw new ImapBad('RECURSIVEMATCH needs another selection option');
      }
      const reference = a.astring('reference');
      const pats = patterns(a);
      let returns: ListReturn | null = null;
      if (!a.done) {
        if (!a.accept('RETURN')) throw new ImapBad('expected RETURN');
        returns = { subscribed: false, children: false, specialUse: false, status: null };
        const r = a.list('return options');
        while (!r.done) {
          const opt = r.atom('return option').toUpperCase();
          if (opt === 'SUBSCRIBED') returns.subscribed = true;
          else if (opt === 'CHILDREN') returns.children = true;
          else if (opt === 'SPECIAL-USE') returns.specialUse = true;
          else if (opt === 'STATUS') returns.status = statusItems(r.list('status items')); // RFC 5819 §2
          else throw new ImapBad(`unknown LIST return option ${opt.slice(0, 40)}`);
        }
        a.end();
      }
      return { verb: 'LIST', select, reference, patterns: pats, returns };
    },
  },
  // RFC 3501 §9 lsub = "LSUB" SP mailbox SP list-mailbox
  LSUB: { uid: false, parse(a) { const reference = a.astring('reference'); const pattern = a.astring('mailbox pattern'); a.end(); return { verb: 'LSUB', reference, pattern }; } },
  // RFC 3501 §9 status = "STATUS" SP mailbox SP "(" status-att *(SP status-att) ")"
  STATUS: { uid: false, parse(a) { const mailbox = a.astring('mailbox name'); const items = statusItems(a.list('status items')); a.end(); return { verb: 'STATUS', mailbox, items }; } },
  // RFC 3501 §9 append = "APPEND" SP mailbox [SP flag-list] [SP date-time] SP literal; RFC 3502 §6 1*append-message
  APPEND: {
    uid: false,
    parse(a) {
      const mailbox = a.astring('mailbox name');
      const messages: AppendMessage[] = [];
      do messages.push(appendMessage(a)); while (!a.done);
      return { verb: 'APPEND', mailbox, messages };
    },
  },
  // RFC 2971 §4 id = "ID" SP id-params-list; id-params-list = "(" *(string SP nstring) ")" / nil
  ID: {
    uid: false,
    parse(a) {
      const t = a.next('ID parameters');
      a.end();
      if (t.t === 'nil') return { verb: 'ID', params: null };
      if (t.t !== 'list') throw new ImapBad('invalid ID argument');
      if (t.v.length > 60 || t.v.length % 2) throw new ImapBad('invalid ID parameter list');
      const params: [string, string | null][] = [];
      for (let i = 0; i < t.v.length; i += 2) {
        const k = t.v[i];
        const v = t.v[i + 1];
        if (k.t !== 'string' || (v.t !== 'string' && v.t !== 'nil')) throw new ImapBad('invalid ID parameter');
        params.push([k.v, v.t === 'nil' ? null : v.v]);
      }
      return { verb: 'ID', params };
    },
  },
  // RFC 5161 §4 enable = "ENABLE" 1*(SP capability)
  ENABLE: {
    uid: false,
    parse(a) {
      const caps: string[] = [];
      while (!a.done) caps.push(a.atom('capability'));
      if (!caps.length) throw new ImapBad('ENABLE needs at least one capability');
      return { verb: 'ENABLE', caps };
    },
  },
  // RFC 9208 §4.2 getquota = "GETQUOTA" SP quota-root-name (astring)
  GETQUOTA: { uid: false, parse(a) { const root = a.astring('quota root'); a.end(); return { verb: 'GETQUOTA', root }; } },
  // RFC 4978 §3 compress = "COMPRESS" SP algorithm
  COMPRESS: { uid: false, parse(a) { const mechanism = a.atom('algorithm').toUpperCase(); a.end(); return { verb: 'COMPRESS', mechanism }; } },
  // RFC 3501 §9 "EXPUNGE"; RFC 4315 §2.1 uid-expunge = "UID" SP "EXPUNGE" SP sequence-set
  EXPUNGE: { uid: true, parse(a, uid) { const set = uid ? a.seqSet('UID set') : null; a.end(); return { verb: 'EXPUNGE', uid, set }; } },
  FETCH: { uid: true, parse: fetchArgs },
  // RFC 3501 §9 store = "STORE" SP sequence-set SP store-att-flags; RFC 7162 §3.1.3 store-modifier UNCHANGEDSINCE
  STORE: {
    uid: true,
    parse(a, uid) {
      const set = a.seqSet();
      let unchangedSince: number | null = null;
      if (a.isList()) {
        const m = a.list('store modifiers');
        if (m.atom('store modifier').toUpperCase() !== 'UNCHANGEDSINCE') throw new ImapBad('unknown STORE modifier');
        unchangedSince = m.number('mod-sequence');
        m.end();
      }
      // store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag)))
      const item = a.atom('store item').toUpperCase();
      const m = /^([+-]?)FLAGS(\.SILENT)?$/.exec(item);
      if (!m) throw new ImapBad(`unknown store item ${item.slice(0, 40)}`);
      if (a.done) throw new ImapBad('missing flags');
      const flags = a.flags().filter((f) => f !== '\\Recent');
      a.end();
      return { verb: 'STORE', uid, set, unchangedSince, op: m[1] === '+' ? 'add' : m[1] === '-' ? 'remove' : 'set', silent: !!m[2], flags };
    },
  },
  COPY: copyLike('COPY'), MOVE: copyLike('MOVE'),
  SEARCH: { uid: true, parse: searchArgs },
  // RFC 5256 §5 sort = ["UID" SP] "SORT" SP sort-criteria SP search-criteria; RFC 5267 §3 [search-return-opts]
  SORT: {
    uid: true,
    parse(a, uid) {
      const ret = a.accept('RETURN') ? returnOptions(a) : null;
      if (!a.isList()) throw new ImapBad('SORT needs a list of sort criteria');
      const l = a.list('sort criteria');
      if (l.done) throw new ImapBad('SORT needs a list of sort criteria');
      const criteria: { key: SortKey; reverse: boolean }[] = [];
      let reverse = false;
      while (!l.done) {
        const u = l.atom('sort criterion').toUpperCase();
        if (u === 'REVERSE') {
          if (reverse) throw new ImapBad('REVERSE REVERSE');
          reverse = true;
          continue;
        }
        if (!SORT_KEYS.includes(u as SortKey)) throw new ImapBad(`unknown sort criterion ${u.slice(0, 40)}`);
        criteria.push({ key: u as SortKey, reverse });
        reverse = false;
      }
      if (reverse || !criteria.length) throw new ImapBad('REVERSE needs a sort criterion after it');
      const charset = a.astring('charset');
      return { verb: 'SORT', uid, ret, criteria, charset, key: searchProgram(a) };
    },
  },
  // RFC 5256 §5 thread = ["UID" SP] "THREAD" SP thread-alg SP search-charset 1*(SP search-key)
  THREAD: {
    uid: true,
    parse(a, uid) {
      const algorithm = a.atom('threading algorithm').toUpperCase();
      if (algorithm !== 'ORDEREDSUBJECT' && algorithm !== 'REFERENCES') throw new ImapBad(`unknown threading algorithm ${algorithm.slice(0, 40)}`);
      const charset = a.astring('charset');
      return { verb: 'THREAD', uid, algorithm, charset, key: searchProgram(a) };
    },
  },
};

export const isVerb = (v: string): v is ImapVerb => Object.prototype.hasOwnProperty.call(SYNTAX, v);

/**
 * RFC 7162 §3.1: the CONDSTORE-enabling commands (SELECT/EXAMINE CONDSTORE, FETCH MODSEQ or
 * CHANGEDSINCE, SEARCH MODSEQ, STORE UNCHANGEDSINCE, STATUS HIGHESTMODSEQ); ENABLE is the session's.
 */
export function enablesCondstore(c: ImapArgs): boolean {
  switch (c.verb) {
    case 'SELECT': case 'EXAMINE': return c.condstore || c.qresync !== null;
    case 'FETCH': return c.changedSince !== null || c.items.some((i) => i.k === 'MODSEQ');
    case 'SEARCH': case 'SORT': case 'THREAD': return usesModseq(c.key);
    case 'STORE': return c.unchangedSince !== null;
    case 'STATUS': return c.items.includes('HIGHESTMODSEQ');
    case 'LIST': return c.returns?.status?.includes('HIGHESTMODSEQ') ?? false;
    default: return false;
  }
}

export { Args };
