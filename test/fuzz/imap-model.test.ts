// Model check of the IMAP server (the fuzz runs beside it only check that replies are well-formed):
// random sequences of STORE / UID STORE (+FLAGS, -FLAGS, FLAGS, with and without .SILENT, system
// flags and keywords), EXPUNGE, UID EXPUNGE, COPY / UID COPY, MOVE / UID MOVE and APPEND, run on a
// real server over real sockets, and after every step what the server reports is compared with a
// small model kept here: per mailbox a list of { uid, flags }.
//  - RFC 3501 §2.3.1.1: UIDs strictly ascend and are never reused; §2.3.1.2 sequence numbers are
//    renumbered after each EXPUNGE (§7.4.1); UID ranges with * (§9 seq-range: "n:*" is "*:n").
//  - RFC 3501 §6.4.6 STORE replies with the new FLAGS (none with .SILENT); §6.4.8 UID STORE's
//    FETCH carries UID; §6.4.3 EXPUNGE removes every \Deleted message; RFC 4315 §2.1 UID EXPUNGE
//    only the \Deleted ones of its set; §3 COPYUID / APPENDUID agree with the model's new UIDs;
//    RFC 6851 §3 MOVE; RFC 3501 §6.4.7 COPY keeps the flags.
//  - after each step, on the acting session: NOOP, FETCH 1:* (UID FLAGS), a random SEARCH or
//    UID SEARCH, plain or RETURN (MIN MAX COUNT ALL) (RFC 4731; keys: flags, KEYWORD, UID and
//    sequence sets, NOT, OR, lists) evaluated on the model too, and STATUS of the other mailbox.
//  - three sessions: two on mailbox A that take turns acting, one on B (COPY/MOVE/APPEND target);
//    each plain, CONDSTORE or QRESYNC (VANISHED instead of EXPUNGE, RFC 7162 §3.2.10). The ones
//    not acting only NOOP, sometimes only after several steps: the EXISTS / EXPUNGE / VANISHED /
//    FETCH they are sent must bring their own view to the model's state (RFC 3501 §5.2, §7.4.1),
//    which is what imaptest's stress mode checks; a keyword must be announced in FLAGS before a
//    FETCH shows it (RFC 3501 §7.2.6); a message's MODSEQ never goes down (RFC 7162 §3.1.4) and
//    comes with every unsolicited FETCH once CONDSTORE is enabled.
// \Recent is per session and left out of the comparison. FUZZ_RUNS / FUZZ_SEED as in common.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { hashPassword } from '../../src/auth/password.js';
import type { Lab } from '../helpers/lab.js';
import { RawImap, expandSet, type Reply, type Untagged } from '../helpers/imap-raw.js';
import { params, testTimeout } from './common.js';
import { fuzzLab } from './live.js';

const SYSTEM = ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'];
const KEYWORDS = ['$Label1', 'kw1', 'Junk', '$Forwarded'];

/** RFC 3501 §2.3.2: system flags are matched without regard to case; keywords as written here. */
const canon = (f: string) => SYSTEM.find((s) => s.toLowerCase() === f.toLowerCase()) ?? f;
const sortFlags = (fs: Iterable<string>) => [...fs].map(canon).filter((f) => f !== '\\Recent').sort();

// ------------------------------------------------------------------ the model

interface Msg { uid: number; flags: Set<string> }
interface Box {
  name: string;
  uidValidity: number;
  msgs: Msg[];
  /** the highest UID ever given in this mailbox (the next must be higher) */
  maxUid: number;
}

// ------------------------------------------------------------------ steps (abstract: resolved against the model when run)

/** One element of a sequence set: numbers are indices taken modulo what exists when the step runs. */
type SetItem = { k: 'one'; a: number } | { k: 'range'; a: number; b: number } | { k: 'star' } | { k: 'toStar'; a: number };

type SearchKey =
  | { k: 'all' }
  | { k: 'flag'; name: string }
  | { k: 'kw'; kw: string; un: boolean }
  | { k: 'uid'; set: SetItem[] }
  | { k: 'seq'; set: SetItem[] }
  | { k: 'not'; x: SearchKey }
  | { k: 'or'; a: SearchKey; b: SearchKey }
  | { k: 'and'; xs: SearchKey[] };

type Action =
  /** cond: STORE (UNCHANGEDSINCE m) (RFC 7162 §3.1.3), m picked among the mailbox's MODSEQs by this number */
  | { k: 'store'; uid: boolean; set: SetItem[]; op: '+' | '-' | ''; silent: boolean; flags: string[]; cond?: number | null }
  | { k: 'expunge' }
  | { k: 'uidExpunge'; set: SetItem[] }
  | { k: 'copy'; uid: boolean; move: boolean; set: SetItem[] }
  | { k: 'append'; to: 'A' | 'B'; flags: string[] }
  | { k: 'deliver' };

/** the check after a step: SEARCH or UID SEARCH, plain or RFC 4731 RETURN (MIN MAX COUNT ALL) */
interface Check { uid: boolean; ret: boolean; key: SearchKey }
/**
 * by: which of the two sessions on mailbox A acts (0 or 1; the other watches). lazy: the watching
 * A session / the B session skip their NOOP after this step, so changes pile up (several
 * EXPUNGEs, flag changes of messages expunged later, appends) until their next NOOP. stale: a
 * lagging session acts without that NOOP first, with the sequence numbers of its old view.
 */
interface Step { action: Action; search: Check; by?: 0 | 1; lazy?: [boolean, boolean]; stale?: boolean }

/** What a session ENABLEs before SELECT (RFC 7162): plain, CONDSTORE (MODSEQ), QRESYNC (VANISHED). */
type Mode = 'plain' | 'CONDSTORE' | 'QRESYNC';
const modeArb = fc.constantFrom<Mode>('plain', 'CONDSTORE', 'QRESYNC');

/** SEARCH keys for flags (RFC 3501 §6.4.4) and what they test. */
const FLAG_KEYS: Record<string, [string, boolean]> = {
  SEEN: ['\\Seen', true], UNSEEN: ['\\Seen', false], DELETED: ['\\Deleted', true], UNDELETED: ['\\Deleted', false],
  FLAGGED: ['\\Flagged', true], UNFLAGGED: ['\\Flagged', false], ANSWERED: ['\\Answered', true],
  UNANSWERED: ['\\Answered', false], DRAFT: ['\\Draft', true], UNDRAFT: ['\\Draft', false],
};

const setItemArb: fc.Arbitrary<SetItem> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: fc.constant('one' as const), a: fc.nat(60) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('range' as const), a: fc.nat(60), b: fc.nat(60) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('star' as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('toStar' as const), a: fc.nat(60) }) },
);
const setArb = fc.array(setItemArb, { minLength: 1, maxLength: 3 });

/** A flag as a client may write it: system flags sometimes in another case (RFC 3501 §2.3.2). */
const flagArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...SYSTEM) },
  { weight: 2, arbitrary: fc.constant('\\Deleted') },
  { weight: 1, arbitrary: fc.constantFrom('\\SEEN', '\\deleted', '\\fLaGgEd') },
  { weight: 3, arbitrary: fc.constantFrom(...KEYWORDS) },
);
const flagsArb = fc.uniqueArray(flagArb, { maxLength: 4, selector: (f) => canon(f) });

const searchKeyArb: fc.Arbitrary<SearchKey> = fc.letrec<{ key: SearchKey }>((tie) => ({
  key: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant({ k: 'all' as const }),
    fc.record({ k: fc.constant('flag' as const), name: fc.constantFrom(...Object.keys(FLAG_KEYS)) }),
    fc.record({ k: fc.constant('kw' as const), kw: fc.constantFrom(...KEYWORDS), un: fc.boolean() }),
    fc.record({ k: fc.constant('uid' as const), set: setArb }),
    fc.record({ k: fc.constant('seq' as const), set: setArb }),
    fc.record({ k: fc.constant('not' as const), x: tie('key') }),
    fc.record({ k: fc.constant('or' as const), a: tie('key'), b: tie('key') }),
    fc.record({ k: fc.constant('and' as const), xs: fc.array(tie('key'), { minLength: 2, maxLength: 3 }) }),
  ),
})).key;

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ k: fc.constant('store' as const), uid: fc.boolean(), set: setArb, op: fc.constantFrom('+' as const, '-' as const, '' as const), silent: fc.boolean(), flags: flagsArb, cond: fc.option(fc.nat(63), { freq: 4 }) }) },
  { weight: 2, arbitrary: fc.constant({ k: 'expunge' as const }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('uidExpunge' as const), set: setArb }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('copy' as const), uid: fc.boolean(), move: fc.boolean(), set: setArb }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('append' as const), to: fc.constantFrom('A' as const, 'A' as const, 'B' as const), flags: flagsArb }) },
  { weight: 1, arbitrary: fc.constant({ k: 'deliver' as const }) },
);
const checkArb: fc.Arbitrary<Check> = fc.record({ uid: fc.boolean(), ret: fc.boolean(), key: searchKeyArb });
const lazyArb = fc.oneof({ weight: 2, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });
const stepArb: fc.Arbitrary<Step> = fc.record({
  action: actionArb, search: checkArb, by: fc.constantFrom<0 | 1>(0, 0, 1), lazy: fc.tuple(lazyArb, lazyArb), stale: fc.boolean(),
});

// ------------------------------------------------------------------ resolving sets against the model

/** A sequence set over n messages (n >= 1): the IMAP text and the 0-based indices it names. */
function seqSet(items: SetItem[], n: number): { text: string; idx: Set<number> } {
  const idx = new Set<number>();
  const parts = items.map((it) => {
    const lo = (a: number, b: number) => { for (let i = Math.min(a, b); i <= Math.max(a, b); i++) idx.add(i - 1); };
    switch (it.k) {
      case 'one': { const a = (it.a % n) + 1; lo(a, a); return `${a}`; }
      case 'range': { const a = (it.a % n) + 1, b = (it.b % n) + 1; lo(a, b); return `${a}:${b}`; }
      case 'star': lo(n, n); return '*';
      case 'toStar': { const a = (it.a % n) + 1; lo(a, n); return `${a}:*`; }
    }
  });
  return { text: parts.join(','), idx };
}

/**
 * A UID set over a mailbox: numbers range over 1..maxUid+3 (so UIDs already gone and not yet
 * given appear too); * is the highest UID in the mailbox (RFC 3501 §9), "n:*" covers n..* either
 * way round. An empty mailbox gets no * (its meaning is unsettled there). Returns the UIDs present.
 * `lagTop`: the acting session lags and its view ends at this UID; numbers stay at or below it, so
 * that a set never names a message the session has not been told of (whether a server acts on those
 * is its choice) and * means the same to client and server.
 */
function uidSet(items: SetItem[], box: Box, lagTop?: number): { text: string; uids: Set<number> } {
  const present = box.msgs.map((m) => m.uid).filter((u) => lagTop === undefined || u <= lagTop);
  const top = lagTop ?? (present.length ? present[present.length - 1] : 0);
  const span = lagTop ?? box.maxUid + 3;
  const uids = new Set<number>();
  const cover = (a: number, b: number) => { for (const u of present) if (u >= Math.min(a, b) && u <= Math.max(a, b)) uids.add(u); };
  const parts = items.map((it) => {
    const a = 'a' in it ? (it.a % span) + 1 : 1;
    if ((it.k === 'star' || it.k === 'toStar') && !top) { cover(a, a); return `${a}`; }
    switch (it.k) {
      case 'one': cover(a, a); return `${a}`;
      case 'range': { const b = (it.b % span) + 1; cover(a, b); return `${a}:${b}`; }
      case 'star': cover(top, top); return '*';
      case 'toStar': cover(a, top); return `${a}:*`;
    }
  });
  return { text: parts.join(','), uids };
}

/** Render a search key for the box and evaluate it: the set of matching 0-based indices. */
function search(key: SearchKey, box: Box): { text: string; match: (m: Msg, i: number) => boolean } {
  const n = box.msgs.length;
  switch (key.k) {
    case 'all': return { text: 'ALL', match: () => true };
    case 'flag': {
      const [flag, on] = FLAG_KEYS[key.name];
      return { text: key.name, match: (m) => m.flags.has(flag) === on };
    }
    case 'kw': return { text: `${key.un ? 'UNKEYWORD' : 'KEYWORD'} ${key.kw}`, match: (m) => m.flags.has(key.kw) !== key.un };
    case 'uid': { const s = uidSet(key.set, box); return { text: `UID ${s.text}`, match: (m) => s.uids.has(m.uid) }; }
    case 'seq': {
      if (!n) return { text: 'ALL', match: () => true };
      const s = seqSet(key.set, n);
      return { text: s.text, match: (_m, i) => s.idx.has(i) };
    }
    case 'not': { const x = search(key.x, box); return { text: `NOT ${x.text}`, match: (m, i) => !x.match(m, i) }; }
    case 'or': {
      const a = search(key.a, box), b = search(key.b, box);
      return { text: `OR ${a.text} ${b.text}`, match: (m, i) => a.match(m, i) || b.match(m, i) };
    }
    case 'and': {
      const xs = key.xs.map((x) => search(x, box));
      return { text: `(${xs.map((x) => x.text).join(' ')})`, match: (m, i) => xs.every((x) => x.match(m, i)) };
    }
  }
}

// ------------------------------------------------------------------ a client's view of a selected mailbox

interface Seen { uid: number | null; flags: string[] | null; modseq: number }

/** What the runs exercised (shown as a diagnostic, so a too-gentle generator shows up). */
const stats = { expungesSeen: 0, vanishedSeen: 0, flagUpdatesSeen: 0, copied: 0, searchHits: 0, staleActs: 0, conditional: 0 };

/**
 * What one session knows of its selected mailbox, kept only from what the server sent it, as a
 * real client must (RFC 3501 §7.3.1 EXISTS, §7.4.1 EXPUNGE, §7.4.2 FETCH; RFC 7162 §3.2.10 VANISHED).
 */
class View {
  msgs: Seen[] = [];
  /** flags announced by FLAGS responses (RFC 3501 §7.2.6) */
  announced = new Set<string>();
  constructor(readonly c: RawImap, readonly mode: Mode, readonly box: Box) {}

  get qresync(): boolean { return this.mode === 'QRESYNC'; }

  fail(why: string): never {
    throw new assert.AssertionError({ message: `${this.c.name} (${this.box.name}): ${why}\nview:  ${this.show()}\nmodel: ${showBox(this.box)}\n${this.c.tail(40)}` });
  }

  show(): string {
    return this.msgs.map((m, i) => `${i + 1}:${m.uid ?? '?'}(${m.flags ? sortFlags(m.flags).join(' ') : '?'})`).join(' ') || '(empty)';
  }

  /** Apply responses in order; returns the FETCH FLAGS seen, by UID (the last one of each). */
  apply(us: Untagged[], opts: { unsolicited: boolean }): Map<number, { flags: string[]; withUid: boolean }> {
    const fetched = new Map<number, { flags: string[]; withUid: boolean }>();
    for (const u of us) {
      switch (u.kind) {
        case 'exists':
          if (u.n < this.msgs.length) this.fail(`EXISTS ${u.n} below ${this.msgs.length} without EXPUNGE (RFC 3501 §7.3.1)`);
          while (this.msgs.length < u.n) this.msgs.push({ uid: null, flags: null, modseq: 0 });
          break;
        case 'expunge':
          if (this.qresync) this.fail(`* ${u.n} EXPUNGE after ENABLE QRESYNC (RFC 7162 §3.2.10: VANISHED)`);
          if (u.n < 1 || u.n > this.msgs.length) this.fail(`* ${u.n} EXPUNGE out of range 1..${this.msgs.length}`);
          this.msgs.splice(u.n - 1, 1);
          stats.expungesSeen++;
          break;
        case 'vanished':
          if (!this.qresync) this.fail('VANISHED without QRESYNC');
          if (u.earlier) this.fail('VANISHED (EARLIER) in a selected mailbox without a QRESYNC SELECT');
          for (const uid of u.uids) {
            let i = this.msgs.findIndex((m) => m.uid === uid);
            if (i < 0) {
              // a message this client got by EXISTS but never fetched: where its UID fits between known ones
              const fits = this.msgs.flatMap((m, j) => {
                if (m.uid !== null) return [];
                const before = this.msgs.slice(0, j).reverse().find((x) => x.uid !== null)?.uid ?? 0;
                const after = this.msgs.slice(j + 1).find((x) => x.uid !== null)?.uid ?? Infinity;
                return before < uid && uid < after ? [j] : [];
              });
              if (fits.length !== 1) this.fail(`VANISHED ${uid}: ${fits.length ? 'cannot tell which unfetched message it is' : 'no such message in this view'}`);
              i = fits[0];
            }
            this.msgs.splice(i, 1);
            stats.vanishedSeen++;
          }
          break;
        case 'fetch': {
          if (u.seq < 1 || u.seq > this.msgs.length) this.fail(`* ${u.seq} FETCH out of range 1..${this.msgs.length}`);
          const m = this.msgs[u.seq - 1];
          if (u.uid !== undefined) {
            if (m.uid !== null && m.uid !== u.uid) this.fail(`* ${u.seq} FETCH says UID ${u.uid}, this client knows it as UID ${m.uid}`);
            m.uid = u.uid;
          }
          if (u.flags) {
            for (const f of u.flags) {
              if (!f.startsWith('\\') && !this.announced.has(f)) this.fail(`keyword ${f} in FETCH before any FLAGS response announced it (RFC 3501 §7.2.6)`);
            }
            m.flags = u.flags;
            if (m.uid !== null) fetched.set(m.uid, { flags: u.flags, withUid: u.uid !== undefined });
            if (opts.unsolicited) stats.flagUpdatesSeen++;
            if (opts.unsolicited && this.mode !== 'plain' && u.modseq === undefined) {
              this.fail(`unsolicited FETCH of FLAGS without MODSEQ after ENABLE ${this.mode} (RFC 7162 §3.1: a CONDSTORE enabling command)`);
            }
          }
          if (u.modseq !== undefined) {
            if (u.modseq < m.modseq) this.fail(`MODSEQ of UID ${m.uid} went down: ${m.modseq} -> ${u.modseq}`);
            m.modseq = u.modseq;
          }
          break;
        }
        case 'flags':
          this.announced = new Set(u.flags);
          break;
        default:
          break;
      }
    }
    return fetched;
  }

  /** UIDs strictly ascending (RFC 3501 §2.3.1.1) and, where known, equal to the model's. */
  expectUids(where: string): void {
    const model = this.box.msgs.map((m) => m.uid);
    if (this.msgs.length !== model.length) this.fail(`${where}: ${this.msgs.length} messages, model has ${model.length}`);
    let prev = 0;
    this.msgs.forEach((m, i) => {
      if (m.uid === null) return;
      if (m.uid <= prev) this.fail(`${where}: UIDs not ascending at ${i + 1}`);
      prev = m.uid;
      if (m.uid !== model[i]) this.fail(`${where}: message ${i + 1} is UID ${m.uid}, model has UID ${model[i]}`);
    });
  }

  /** Every message known and equal to the model, flags included. */
  expectAll(where: string): void {
    this.expectUids(where);
    this.msgs.forEach((m, i) => {
      if (m.uid === null || m.flags === null) this.fail(`${where}: message ${i + 1} never reported`);
      const want = sortFlags(this.box.msgs[i].flags);
      const got = sortFlags(m.flags);
      if (JSON.stringify(got) !== JSON.stringify(want)) this.fail(`${where}: UID ${m.uid} has FLAGS (${got.join(' ')}), model (${want.join(' ')})`);
    });
  }

  /** Flags of the messages this client already knows: what unsolicited FETCH must have updated. */
  expectKnownFlags(where: string): void {
    this.expectUids(where);
    this.msgs.forEach((m, i) => {
      if (m.uid === null || m.flags === null) return;
      const want = sortFlags(this.box.msgs[i].flags);
      const got = sortFlags(m.flags);
      if (JSON.stringify(got) !== JSON.stringify(want)) this.fail(`${where}: UID ${m.uid} still has FLAGS (${got.join(' ')}) here, model (${want.join(' ')}): a FETCH update was missed`);
    });
  }
}

const showBox = (b: Box) => b.msgs.map((m, i) => `${i + 1}:${m.uid}(${sortFlags(m.flags).join(' ')})`).join(' ') || '(empty)';

/** SELECT (after ENABLE QRESYNC if asked): the view starts from FLAGS, EXISTS and the UIDVALIDITY. */
async function open(lab: Lab, user: string, name: string, box: Box, mode: Mode): Promise<View> {
  const c = await RawImap.open(lab.port('imap'), name, user);
  if (mode !== 'plain') await c.ok(`ENABLE ${mode}`);
  const v: View = new View(c, mode, box);
  const r = await c.ok(`SELECT ${box.name}`);
  v.apply(r.untagged, { unsolicited: false });
  const uv = r.untagged.find((u) => u.kind === 'status' && /^UIDVALIDITY \d+$/.test(u.code ?? ''));
  if (!uv || uv.kind !== 'status') v.fail('no UIDVALIDITY in SELECT (RFC 3501 §6.3.1)');
  const n = Number(uv.code!.split(' ')[1]);
  if (box.uidValidity && box.uidValidity !== n) v.fail(`UIDVALIDITY ${n}, another session saw ${box.uidValidity}`);
  box.uidValidity = n;
  return v;
}

/** Resolve a [response code] "COPYUID v src dst" (RFC 4315 §3) into pairs source UID -> new UID. */
function copyUid(code: string | null, v: View): { uidValidity: number; pairs: [number, number][] } | null {
  const m = code ? /^COPYUID (\d+) ([\d:,]+) ([\d:,]+)$/i.exec(code) : null;
  if (!m) return null;
  const src = expandSet(m[2]), dst = expandSet(m[3]);
  if (src.length !== dst.length) v.fail(`COPYUID ${m[2]} ${m[3]}: sets of different sizes`);
  return { uidValidity: Number(m[1]), pairs: src.map((s, i) => [s, dst[i]]) };
}

// ------------------------------------------------------------------ one run

let runNo = 0;
let passwordHash: Promise<string> | null = null;

/** What an action needs besides the sessions: the lab (MDA delivery), the run's user, the model. */
interface Ctx { lab: Lab; user: string; A: Box; B: Box; next(): number }

/** One run: a fresh user (A is its INBOX, so the MDA can deliver to it; B is a new mailbox). */
async function run(lab: Lab, modes: [Mode, Mode, Mode], steps: Step[]): Promise<void> {
  const n = ++runNo;
  const user = `model${n}@example.test`;
  passwordHash ??= hashPassword('pw');
  await lab.po.store.users.add(user, await passwordHash);
  const A: Box = { name: 'INBOX', uidValidity: 0, msgs: [], maxUid: 0 };
  const B: Box = { name: 'Model', uidValidity: 0, msgs: [], maxUid: 0 };
  const setup = await RawImap.open(lab.port('imap'), 'setup', user);
  await setup.ok(`CREATE ${B.name}`);
  setup.close();
  let k = 0;
  const ctx: Ctx = { lab, user, A, B, next: () => ++k };
  const views: View[] = [];
  try {
    // a1 and a2 both have A selected and take turns acting; b watches B
    const a1 = await open(lab, user, 'a1', A, modes[0]);
    views.push(a1);
    const a2 = await open(lab, user, 'a2', A, modes[1]);
    views.push(a2);
    const b = await open(lab, user, 'b', B, modes[2]);
    views.push(b);
    const lagging = new Set<View>();
    for (const [i, step] of steps.entries()) {
      const actor = step.by === 1 ? a2 : a1;
      const watcher = actor === a1 ? a2 : a1;
      const stale = lagging.has(actor) && !!step.stale;
      const where = `step ${i + 1} by ${actor.c.name}${stale ? ' (lagging)' : ''} ${JSON.stringify(step.action)}`;
      if (lagging.delete(actor) && !stale) await checkObserver(actor, `${where} (catching up before acting)`);
      if (stale) stats.staleActs++;
      await act(ctx, actor, step.action, where, stale);
      await checkActor(actor, B, step.search, where);
      for (const [v, lazy] of [[watcher, step.lazy?.[0]], [b, step.lazy?.[1]]] as const) {
        // a QRESYNC client lagging behind could be told VANISHED for UIDs it never fetched, two of
        // which it cannot tell apart: only plain and CONDSTORE sessions lag
        if (lazy && !v.qresync) lagging.add(v);
        else { lagging.delete(v); await checkObserver(v, where); }
      }
    }
    for (const v of lagging) await checkObserver(v, 'after the last step');
  } finally {
    for (const v of views) v.c.close();
  }
}

/**
 * The messages a STORE/COPY/MOVE names, as the acting session sees them: sequence numbers are the
 * session's own (RFC 3501 §7.4.1: a lagging session's numbers still count messages expunged by
 * others and not yet reported to it); only those still in the model are acted on.
 */
function targetsOf(a: { uid: boolean; set: SetItem[] }, actor: View, A: Box, stale: boolean): { text: string; targets: Msg[] } | null {
  const viewUids = actor.msgs.map((m) => m.uid!);
  if (a.uid) {
    if (stale && !viewUids.length) return null;
    const s = uidSet(a.set, A, stale ? viewUids[viewUids.length - 1] : undefined);
    return { text: s.text, targets: A.msgs.filter((m) => s.uids.has(m.uid)) };
  }
  if (!viewUids.length) return null; // no sequence numbers to name
  const s = seqSet(a.set, viewUids.length);
  const named = new Set([...s.idx].map((i) => viewUids[i]));
  return { text: s.text, targets: A.msgs.filter((m) => named.has(m.uid)) };
}

/**
 * Run one action on the acting session (mailbox A selected) and check its reply against the
 * model. `stale`: the session has not been told of the last changes (see Step.lazy).
 */
async function act(ctx: Ctx, s1: View, a: Action, where: string, stale: boolean): Promise<void> {
  const { A, B } = ctx;
  const c = s1.c;
  const expectOk = (r: Reply, line: string) => { if (r.status !== 'OK') s1.fail(`${where}: ${line} -> ${r.status} ${r.code ?? ''} ${r.text}`); };
  switch (a.k) {
    case 'store': {
      const named = targetsOf(a, s1, A, stale);
      if (!named) return;
      const { text } = named;
      let targets = named.targets, failed: Msg[] = [], cond = '';
      if (a.cond != null && !stale && s1.msgs.length) {
        // RFC 7162 §3.1.3: messages whose MODSEQ is above the given one are not changed and are
        // listed in [MODIFIED set]; the MODSEQs are read first (FETCH MODSEQ, §3.1.5)
        const f = await c.ok('FETCH 1:* (UID MODSEQ)');
        s1.apply(f.untagged, { unsolicited: false });
        const modseq = new Map(s1.msgs.map((m) => [m.uid!, m.modseq]));
        const vals = [...new Set(modseq.values())].sort((x, y) => x - y);
        const v = vals[a.cond % vals.length];
        const since = a.cond & 1 ? v : Math.max(1, v - 1);
        cond = ` (UNCHANGEDSINCE ${since})`;
        failed = targets.filter((m) => modseq.get(m.uid)! > since);
        targets = targets.filter((m) => modseq.get(m.uid)! <= since);
        stats.conditional++;
      }
      const line = `${a.uid ? 'UID ' : ''}STORE ${text}${cond} ${a.op}FLAGS${a.silent ? '.SILENT' : ''} (${a.flags.join(' ')})`;
      const r = await c.cmd(line);
      expectOk(r, line);
      const modified = r.code && /^MODIFIED /i.test(r.code) ? expandSet(r.code.split(' ')[1]).sort((x, y) => x - y) : [];
      const wantModified = failed.map((m) => (a.uid ? m.uid : s1.msgs.findIndex((x) => x.uid === m.uid) + 1));
      if (JSON.stringify(modified) !== JSON.stringify(wantModified)) {
        s1.fail(`${where}: ${line}: [MODIFIED ${modified.join(',')}], model ${wantModified.length ? `[MODIFIED ${wantModified.join(',')}]` : 'none'} (RFC 7162 §3.1.3)`);
      }
      const given = a.flags.map(canon);
      for (const m of targets) {
        if (a.op === '+') for (const f of given) m.flags.add(f);
        else if (a.op === '-') for (const f of given) m.flags.delete(f);
        else m.flags = new Set(given);
      }
      const fetched = s1.apply(r.untagged, { unsolicited: false });
      for (const m of targets) {
        const f = fetched.get(m.uid);
        if (a.silent) {
          // a lagging session may be told of others' changes to the same message here
          if (f && !stale) s1.fail(`${where}: ${line}: FETCH FLAGS for UID ${m.uid} despite .SILENT (RFC 3501 §6.4.6)`);
          continue;
        }
        if (!f) s1.fail(`${where}: ${line}: no FETCH FLAGS for UID ${m.uid} (RFC 3501 §6.4.6)`);
        if (a.uid && !f.withUid) s1.fail(`${where}: ${line}: FETCH for UID ${m.uid} without UID (RFC 3501 §6.4.8)`);
        const got = sortFlags(f.flags), want = sortFlags(m.flags);
        if (JSON.stringify(got) !== JSON.stringify(want)) s1.fail(`${where}: ${line}: UID ${m.uid} FLAGS (${got.join(' ')}), model (${want.join(' ')})`);
      }
      return;
    }
    case 'expunge':
    case 'uidExpunge': {
      let line = 'EXPUNGE', set: Set<number> | null = null;
      if (a.k === 'uidExpunge') {
        if (stale && !s1.msgs.length) return;
        const s = uidSet(a.set, A, stale ? s1.msgs[s1.msgs.length - 1].uid! : undefined);
        line = `UID EXPUNGE ${s.text}`;
        set = s.uids;
      }
      const r = await c.cmd(line);
      expectOk(r, line);
      // RFC 3501 §6.4.3 all \Deleted (known to this session or not); RFC 4315 §2.1 only the \Deleted ones whose UID is in the set
      A.msgs = A.msgs.filter((m) => !(m.flags.has('\\Deleted') && (!set || set.has(m.uid))));
      s1.apply(r.untagged, { unsolicited: false });
      if (!stale) s1.expectUids(`${where}: after ${line}`);
      return;
    }
    case 'copy': {
      const named = targetsOf(a, s1, A, stale);
      if (!named) return;
      const { text, targets } = named;
      const line = `${a.uid ? 'UID ' : ''}${a.move ? 'MOVE' : 'COPY'} ${text} ${B.name}`;
      const r = await c.cmd(line);
      expectOk(r, line);
      // RFC 4315 §3: COPYUID in the tagged OK (COPY), or untagged before the EXPUNGEs (RFC 6851 §4.3)
      const codes = [r.code, ...r.untagged.map((u) => (u.kind === 'status' ? u.code : null))];
      const found = codes.map((x) => copyUid(x, s1)).filter((x) => x !== null);
      if (!targets.length) {
        if (found.length) s1.fail(`${where}: ${line} copied nothing but sent COPYUID`);
        s1.apply(r.untagged, { unsolicited: false });
        return;
      }
      if (found.length !== 1) s1.fail(`${where}: ${line}: expected one COPYUID, got ${found.length} (RFC 4315 §3)`);
      const cu = found[0]!;
      if (cu.uidValidity !== B.uidValidity) s1.fail(`${where}: COPYUID UIDVALIDITY ${cu.uidValidity}, ${B.name} has ${B.uidValidity}`);
      const src = cu.pairs.map((p) => p[0]).sort((x, y) => x - y);
      const want = targets.map((m) => m.uid);
      if (JSON.stringify(src) !== JSON.stringify(want)) s1.fail(`${where}: COPYUID source UIDs ${src.join(',')}, model copies ${want.join(',')}`);
      const dst = cu.pairs.map((p) => p[1]);
      if (new Set(dst).size !== dst.length || dst.some((u) => u <= B.maxUid)) {
        s1.fail(`${where}: COPYUID new UIDs ${dst.join(',')} not all new and above ${B.maxUid} (RFC 3501 §2.3.1.1)`);
      }
      const byUid = new Map(targets.map((m) => [m.uid, m]));
      const added = cu.pairs.map(([s, d]) => ({ uid: d, flags: new Set(byUid.get(s)!.flags) })).sort((x, y) => x.uid - y.uid);
      B.msgs.push(...added);
      stats.copied += added.length;
      B.maxUid = added[added.length - 1].uid;
      if (a.move) A.msgs = A.msgs.filter((m) => !byUid.has(m.uid));
      s1.apply(r.untagged, { unsolicited: false });
      if (!stale) s1.expectUids(`${where}: after ${line}`);
      return;
    }
    case 'append': {
      const box = a.to === 'A' ? A : B;
      const k = ctx.next();
      const raw = Buffer.from(`From: model@example.test\r\nSubject: model ${k}\r\nMessage-ID: <model.${k}@example.test>\r\n\r\nmessage ${k}\r\n`);
      const line = `APPEND ${box.name} (${a.flags.join(' ')})`;
      const r = await c.cmd(line, raw);
      expectOk(r, line);
      const m = r.code ? /^APPENDUID (\d+) (\d+)$/i.exec(r.code) : null;
      if (!m) s1.fail(`${where}: ${line}: no APPENDUID in ${JSON.stringify(r.code)} (RFC 4315 §3)`);
      if (Number(m[1]) !== box.uidValidity) s1.fail(`${where}: APPENDUID UIDVALIDITY ${m[1]}, ${box.name} has ${box.uidValidity}`);
      const uid = Number(m[2]);
      if (uid <= box.maxUid) s1.fail(`${where}: APPENDUID ${uid} not above ${box.maxUid} (RFC 3501 §2.3.1.1)`);
      box.msgs.push({ uid, flags: new Set(a.flags.map(canon)) });
      box.maxUid = uid;
      s1.apply(r.untagged, { unsolicited: false });
      return;
    }
    case 'deliver': {
      // the MDA's path (store.deliver, as after SMTP DATA): sessions hear of it at their next command
      const k = ctx.next();
      const raw = Buffer.from(`From: sender@example.test\r\nSubject: delivered ${k}\r\n\r\ndelivered ${k}\r\n`);
      const { uid } = await ctx.lab.deliver(ctx.user, raw);
      if (uid <= A.maxUid) s1.fail(`${where}: delivery got UID ${uid}, not above ${A.maxUid} (RFC 3501 §2.3.1.1)`);
      A.msgs.push({ uid, flags: new Set() });
      A.maxUid = uid;
      return;
    }
  }
}

/** After a step, the acting session: NOOP, FETCH 1:* (UID FLAGS) and one SEARCH agree with the model. */
async function checkActor(s1: View, B: Box, q: Check, where: string): Promise<void> {
  const A = s1.box;
  const r = await s1.c.ok('NOOP');
  s1.apply(r.untagged, { unsolicited: true });
  s1.expectUids(`${where}: after NOOP`);
  if (A.msgs.length) {
    const f = await s1.c.ok('FETCH 1:* (UID FLAGS)');
    s1.apply(f.untagged, { unsolicited: false });
    const seqs = new Set(f.untagged.filter((u) => u.kind === 'fetch' && u.uid !== undefined && u.flags).map((u) => (u as { seq: number }).seq));
    for (let i = 1; i <= A.msgs.length; i++) if (!seqs.has(i)) s1.fail(`${where}: FETCH 1:* did not return message ${i}`);
    s1.expectAll(`${where}: FETCH 1:* (UID FLAGS)`);
  }
  const k = search(q.key, A);
  const line = `${q.uid ? 'UID ' : ''}SEARCH ${q.ret ? 'RETURN (MIN MAX COUNT ALL) ' : ''}${k.text}`;
  const sr = await s1.c.cmd(line);
  if (sr.status !== 'OK') s1.fail(`${where}: ${line} -> ${sr.status} ${sr.text}`);
  s1.apply(sr.untagged, { unsolicited: true });
  const want = A.msgs.flatMap((m, i) => (k.match(m, i) ? [q.uid ? m.uid : i + 1] : []));
  let got: number[];
  if (q.ret) {
    // RFC 4731 §3.1: * ESEARCH (TAG "t") [UID] MIN n MAX n COUNT n ALL set; MIN/MAX/ALL left out when nothing matched
    const es = sr.untagged.filter((u) => u.kind === 'other' && /^\* ESEARCH /i.test(u.line)).map((u) => (u as { line: string }).line);
    if (es.length !== 1) s1.fail(`${where}: ${line}: ${es.length} ESEARCH responses, expected 1 (RFC 4731 §3.1)`);
    const m = /^\* ESEARCH \(TAG "[^"]*"\)( UID)?((?: (?:MIN|MAX|COUNT) \d+| ALL [\d:,]+)*)$/i.exec(es[0]);
    if (!m) s1.fail(`${where}: ${line}: malformed ${JSON.stringify(es[0])}`);
    if (!!m[1] !== q.uid) s1.fail(`${where}: ${line}: ESEARCH ${q.uid ? 'without' : 'with'} UID (RFC 4731 §3.1)`);
    const items = new Map<string, string>();
    for (const it of m[2].trim().split(/ (?=MIN|MAX|COUNT|ALL)/i).filter(Boolean)) items.set(it.split(' ')[0].toUpperCase(), it.split(' ')[1]);
    got = items.has('ALL') ? expandSet(items.get('ALL')!).sort((x, y) => x - y) : [];
    const expect = new Map<string, string>([['COUNT', String(want.length)]]);
    if (want.length) { expect.set('MIN', String(want[0])); expect.set('MAX', String(want[want.length - 1])); }
    for (const key of ['MIN', 'MAX', 'COUNT']) {
      if (items.get(key) !== expect.get(key)) s1.fail(`${where}: ${line}: ${key} ${items.get(key) ?? '(absent)'}, model ${expect.get(key) ?? '(absent)'}`);
    }
  } else {
    got = sr.untagged.flatMap((u) => (u.kind === 'search' ? u.nums : [])).sort((x, y) => x - y);
  }
  if (JSON.stringify(got) !== JSON.stringify(want)) s1.fail(`${where}: ${line} -> ${got.join(' ') || '(none)'}, model ${want.join(' ') || '(none)'}`);
  stats.searchHits += got.length;
  // RFC 3501 §6.3.10 STATUS of the other mailbox: its counts and next UID agree with the model
  const st = await s1.c.ok(`STATUS ${B.name} (MESSAGES UIDNEXT UNSEEN)`);
  const line2 = st.untagged.find((u) => u.kind === 'other' && /^\* STATUS /i.test(u.line));
  const sm = line2 && /\(MESSAGES (\d+) UIDNEXT (\d+) UNSEEN (\d+)\)$/i.exec((line2 as { line: string }).line);
  if (!sm) s1.fail(`${where}: no STATUS MESSAGES UIDNEXT UNSEEN for ${B.name}`);
  const unseen = B.msgs.filter((m) => !m.flags.has('\\Seen')).length;
  if (Number(sm[1]) !== B.msgs.length || Number(sm[2]) <= B.maxUid || Number(sm[3]) !== unseen) {
    s1.fail(`${where}: STATUS ${B.name} says MESSAGES ${sm[1]} UIDNEXT ${sm[2]} UNSEEN ${sm[3]}; model ${B.msgs.length} messages, highest UID ${B.maxUid}, ${unseen} unseen`);
  }
}

/** A session that only watches: one NOOP must bring every known message up to date. */
async function checkObserver(v: View, where: string): Promise<void> {
  const r = await v.c.ok('NOOP');
  v.apply(r.untagged, { unsolicited: true });
  v.expectKnownFlags(`${where}: after NOOP`);
  const first = v.msgs.findIndex((m) => m.uid === null || m.flags === null);
  if (first >= 0) {
    const f = await v.c.ok(`FETCH ${first + 1}:* (UID FLAGS)`);
    v.apply(f.untagged, { unsolicited: false });
  }
  v.expectAll(`${where}: after NOOP and FETCH of the new messages`);
}

// ------------------------------------------------------------------ the property

/**
 * common.ts params, but the short run is a fixed count (each run takes a fraction of a second)
 * rather than a time limit: fast-check's time limit also cuts shrinking short, and a long
 * unshrunk sequence is a poor report. A failure shrinks to the few steps that matter.
 */
function quickRuns(): fc.Parameters<unknown> {
  const { interruptAfterTimeLimit: _limit, markInterruptAsFailure: _mark, ...p } = params(20, 0, 40);
  return p;
}

test('IMAP model: STORE/EXPUNGE/COPY/MOVE/APPEND sequences agree with a model, in the acting and the watching sessions', { timeout: testTimeout(180_000) }, async (t) => {
  const lab = await fuzzLab(t);
  let runs = 0, stepsRun = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.tuple(modeArb, modeArb, modeArb),
      fc.array(fc.record({ action: fc.record({ k: fc.constant('append' as const), to: fc.constant('A' as const), flags: flagsArb }), search: checkArb }), { maxLength: 5 }),
      fc.array(stepArb, { minLength: 1, maxLength: 30, size: 'medium' }),
      async (modes, fill, steps) => {
        runs++;
        stepsRun += fill.length + steps.length;
        await run(lab, modes, [...fill, ...steps]);
      },
    ),
    quickRuns(),
  );
  t.diagnostic(`${runs} runs, ${stepsRun} steps; seen: ${JSON.stringify(stats)}`);
});
