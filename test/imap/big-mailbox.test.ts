// A mailbox of 20,000 messages (issue 15): SELECT opens from the store's UID vector and counters
// (mailboxes.view), SEARCH of header fields narrows down through the header index
// (messages.headerCandidates), FETCH/STORE read records in chunks (messages.some). Everything the
// server says is compared with a recount: the store's own full list, a model of what was seeded,
// and, for SEARCH, the server's full evaluation of the same program (wrapped in NOT NOT, which no
// prefilter looks into).
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { ImapFlow } from 'imapflow';
import type { ImportItem, MessageRecord } from '../../src/store/index.js';
import { startLab, type Lab } from '../helpers/lab.js';
import { rng } from '../helpers/rng.js';

const N = 20_000;
const USER = 'bob@example.test';

// ------------------------------------------------------------------ a client that waits long enough

/**
 * A raw IMAP client over the plain listener: tagged commands, untagged lines collected (a reply
 * literal is read whole and kept inline), no time limit shorter than the test's own.
 */
class Conn {
  private buf = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  private closed = false;
  private tag = 0;

  private constructor(private readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => { this.buf = Buffer.concat([this.buf, d]); this.poke(); });
    sock.on('close', () => { this.closed = true; this.poke(); });
    sock.on('error', () => undefined);
  }

  static async open(lab: Lab, login = true): Promise<Conn> {
    const sock = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port: lab.port('imap') }, () => resolve(s));
      s.once('error', reject);
    });
    const c = new Conn(sock);
    assert.match(await c.line(), /^\* OK/);
    if (login) await c.ok(`LOGIN ${USER} pw`);
    return c;
  }

  private poke(): void { const w = this.wake; this.wake = null; w?.(); }

  /** the next response line; a literal at its end ({n}) is read and appended whole */
  async line(): Promise<string> {
    let out = '';
    for (;;) {
      const i = this.buf.indexOf('\r\n');
      if (i < 0) {
        if (this.closed) throw new Error('connection closed');
        await new Promise<void>((r) => { this.wake = r; });
        continue;
      }
      const l = this.buf.subarray(0, i).toString('utf8');
      const lit = /\{(\d+)\}$/.exec(l);
      if (!lit) { this.buf = this.buf.subarray(i + 2); return out + l; }
      const n = Number(lit[1]);
      while (this.buf.length < i + 2 + n && !this.closed) await new Promise<void>((r) => { this.wake = r; });
      out += l + this.buf.subarray(i + 2, i + 2 + n).toString('latin1');
      this.buf = this.buf.subarray(i + 2 + n);
    }
  }

  /** a tagged command: the untagged lines, and the tagged one last */
  async cmd(line: string): Promise<{ untagged: string[]; done: string }> {
    const tag = `b${++this.tag}`;
    this.sock.write(`${tag} ${line}\r\n`);
    const untagged: string[] = [];
    for (;;) {
      const l = await this.line();
      if (l.startsWith(tag + ' ')) return { untagged, done: l.slice(tag.length + 1) };
      untagged.push(l);
    }
  }

  async ok(line: string): Promise<string[]> {
    const r = await this.cmd(line);
    if (!r.done.startsWith('OK')) throw new Error(`${line} -> ${r.done}`);
    return r.untagged;
  }

  close(): void { this.sock.destroy(); }
}

/** RFC 3501 §9 sequence set of numbers ("1:3,7") -> the numbers. */
function expand(set: string): number[] {
  const out: number[] = [];
  for (const part of set.split(',')) {
    const [a, b] = part.split(':').map(Number);
    if (b === undefined) out.push(a);
    else for (let x = Math.min(a, b); x <= Math.max(a, b); x++) out.push(x);
  }
  return out;
}

/** the numbers of a SEARCH (or ESEARCH ALL) response */
function searched(lines: string[]): number[] {
  for (const l of lines) {
    let m = /^\* SEARCH((?: \d+)*)/.exec(l);
    if (m) return m[1].trim() ? m[1].trim().split(' ').map(Number) : [];
    if (l.startsWith('* ESEARCH')) { const a = / ALL ([\d:,]+)/.exec(l); return a ? expand(a[1]) : []; }
  }
  throw new Error(`no SEARCH response in ${lines.join(' | ')}`);
}

/** a non-ASCII search string as a LITERAL+ (RFC 7888), in octets */
const lit = (s: string) => `{${Buffer.byteLength(s)}+}\r\n${s}`;

const code = (lines: string[], name: string): string | undefined => {
  for (const l of lines) { const m = new RegExp(`^\\* OK \\[${name} ([^\\]]*)\\]`).exec(l); if (m) return m[1]; }
  return undefined;
};
const untaggedNum = (lines: string[], what: string): number | undefined => {
  for (const l of lines) { const m = new RegExp(`^\\* (\\d+) ${what}$`).exec(l); if (m) return Number(m[1]); }
  return undefined;
};

// ------------------------------------------------------------------ the seeded mailbox and its model

interface Seeded { uid: number; subject: string; from: string[]; to: string[]; cc: string[]; note: string | null }


const b64 = (s: string) => `=?UTF-8?B?${Buffer.from(s).toString('base64')}?=`;
const WORDS = ['alpha', 'bravo', 'Zebra', 'zebra crossing', 'yak', 'quokka', 'invoice', 'meeting', 'report', 'hello'];
/** names as written in the header, and as SEARCH reads them (RFC 2047 decoded) */
const NAMES: [string, string][] = [
  ['Alice Example', 'Alice Example'], [b64('Zoë Zebra'), 'Zoë Zebra'], ['=?ISO-8859-1?Q?Andr=E9_Yak?=', 'André Yak'],
  ['"Smith, John"', 'Smith, John'], ['', ''],
];

/** One message: its bytes and what SEARCH should see of it. */
function message(i: number, rand: () => number): { raw: Buffer; seen: Omit<Seeded, 'uid'> } {
  const pick = <T>(a: T[]) => a[Math.floor(rand() * a.length)];
  const words = [pick(WORDS), pick(WORDS), `n${i}`];
  const plain = words.join(' ');
  const r = rand();
  // subjects plain, encoded whole, encoded in part, or absent
  let subjectHeader: string | null;
  let subject: string;
  if (r < 0.6) { subjectHeader = plain; subject = plain; }
  else if (r < 0.8) { subjectHeader = b64(`Grüße ${plain}`); subject = `Grüße ${plain}`; }
  else if (r < 0.95) { subjectHeader = `Re: =?ISO-8859-1?Q?caf=E9?= ${plain}`; subject = `Re: café ${plain}`; }
  else { subjectHeader = null; subject = ''; }
  const addr = (k: number) => {
    const [written, name] = pick(NAMES);
    const box = `user${k}@${pick(['example.org', 'zebra.example', 'example.test'])}`;
    return { header: written ? `${written} <${box}>` : box, text: name ? `${name} <${box}>` : `<${box}>` };
  };
  const from = addr(i % 37);
  const to = [addr(i % 11), ...(rand() < 0.3 ? [addr(i % 5)] : [])];
  const cc = rand() < 0.2 ? [addr(i % 7)] : [];
  const note = rand() < 0.1 ? `zebra ${i}` : null;
  const lines = [
    `From: ${from.header}`,
    `To: ${to.map((a) => a.header).join(', ')}`,
    ...(cc.length ? [`Cc: ${cc.map((a) => a.header).join(', ')}`] : []),
    ...(subjectHeader !== null ? [`Subject: ${subjectHeader}`] : []),
    `Date: Mon, 1 Jun 2026 10:00:00 +0000`,
    `Message-ID: <m${i}.big@example.test>`,
    ...(note ? [`X-Note: ${note}`] : []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    `Body of message ${i}${rand() < 0.05 ? ' with a zebra in the body' : ''}.`,
    '',
  ];
  return { raw: Buffer.from(lines.join('\r\n')), seen: { subject, from: [from.text], to: to.map((a) => a.text), cc: cc.map((a) => a.text), note } };
}

function flagsFor(i: number, rand: () => number): string[] {
  const f: string[] = [];
  // the first 1,000 are all seen, so UNSEEN is not simply 1
  if (i < 1000 || rand() < 0.7) f.push('\\Seen');
  if (rand() < 0.1) f.push('\\Flagged');
  if (rand() < 0.05) f.push('\\Answered');
  if (rand() < 0.05) f.push('$Work');
  if (rand() < 0.02) f.push('Zebra-Tag');
  return f;
}

async function seed(lab: Lab): Promise<{ mailboxId: number; model: Map<number, Seeded> }> {
  const store = lab.po.store;
  const u = (await store.users.get(USER))!;
  const inbox = (await store.mailboxes.get(u.id, 'INBOX'))!;
  const rand = rng(42);
  const model = new Map<number, Seeded>();
  for (let at = 0; at < N; at += 1000) {
    const batch: ImportItem[] = [];
    const seen: Omit<Seeded, 'uid'>[] = [];
    for (let i = at; i < at + 1000; i++) {
      const m = message(i, rand);
      batch.push({ raw: m.raw, flags: flagsFor(i, rand), internalDate: Date.UTC(2026, 5, 1) + i * 1000, msgId: `big.${i}` });
      seen.push(m.seen);
    }
    if (at === N / 2) {
      // one message whose header text is too long for the index (mail/search-text.ts keeps none
      // over 64 KiB): it is always a SEARCH candidate, and must still be found exactly
      const to = Array.from({ length: 3000 }, (_, k) => `"Reader ${k}" <reader${k}@example.org>`);
      const raw = Buffer.from(`From: Yak Zebra <big@zebra.example>\r\nTo: ${to.join(',\r\n ')}\r\nSubject: unindexed zebra crossing\r\nMessage-ID: <huge@example.test>\r\n\r\nhuge\r\n`);
      batch[batch.length - 1] = { raw, flags: [], internalDate: Date.UTC(2026, 5, 1), msgId: 'big.huge' };
      seen[seen.length - 1] = { subject: 'unindexed zebra crossing', from: ['Yak Zebra <big@zebra.example>'], to: to.map((x) => x.replace(/"/g, '')), cc: [], note: null };
    }
    const out = await store.messages.appendMany(inbox.id, batch);
    out.forEach((o, k) => {
      if (!('uid' in o)) throw new Error(`seeding: ${JSON.stringify(o)}`);
      model.set(o.uid, { uid: o.uid, ...seen[k] });
    });
  }
  return { mailboxId: inbox.id, model };
}

/** What SELECT should say, counted from the store's full list (the old way of opening a mailbox). */
async function recount(lab: Lab, mailboxId: number) {
  const store = lab.po.store;
  const list: readonly MessageRecord[] = await store.messages.list(mailboxId);
  const mb = (await store.mailboxes.getById(mailboxId))!;
  const keywords = new Set<string>();
  let unseen = 0;
  let unseenCount = 0;
  list.forEach((m, i) => {
    for (const f of m.flags) if (!f.startsWith('\\')) keywords.add(f);
    if (!m.flags.includes('\\Seen')) { if (!unseen) unseen = i + 1; unseenCount++; }
  });
  return { list, exists: list.length, unseen, unseenCount, keywords, uidNext: mb.uidNext, highestModseq: mb.highestModseq, uidValidity: mb.uidValidity };
}

/** SELECT's report against a recount. */
async function checkSelect(lab: Lab, mailboxId: number, lines: string[]): Promise<void> {
  const want = await recount(lab, mailboxId);
  assert.equal(untaggedNum(lines, 'EXISTS'), want.exists, 'EXISTS');
  assert.equal(code(lines, 'UNSEEN'), want.unseen ? String(want.unseen) : undefined, 'UNSEEN');
  assert.equal(code(lines, 'UIDNEXT'), String(want.uidNext), 'UIDNEXT');
  assert.equal(code(lines, 'UIDVALIDITY'), String(want.uidValidity), 'UIDVALIDITY');
  assert.equal(code(lines, 'HIGHESTMODSEQ'), String(Math.max(want.highestModseq, ...want.list.map((m) => m.modseq))), 'HIGHESTMODSEQ');
  const flags = lines.find((l) => l.startsWith('* FLAGS ('))!;
  const announced = new Set(flags.slice(9, -1).split(' '));
  for (const k of want.keywords) assert.ok(announced.has(k), `FLAGS announces ${k}`);
  for (const f of ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft']) assert.ok(announced.has(f));
}

// ------------------------------------------------------------------ the tests

test('a mailbox of 20,000 messages over IMAP: SELECT, SEARCH, FETCH, STATUS and updates agree with a recount', { timeout: 900_000 }, async (t) => {
  const lab = await startLab(t, { users: { [USER]: 'pw' } });
  const store = lab.po.store;
  const { mailboxId, model } = await seed(lab);
  const uids = [...model.keys()];
  assert.equal(uids.length, N);

  await t.test('SELECT reports EXISTS, RECENT, UNSEEN, FLAGS, UIDNEXT and HIGHESTMODSEQ as a recount finds them', async () => {
    const c = await Conn.open(lab);
    const sel = await c.ok('SELECT INBOX');
    await checkSelect(lab, mailboxId, sel);
    assert.equal(untaggedNum(sel, 'RECENT'), N, 'the first SELECT takes every imported message as \\Recent');
    // a second session: nothing left to claim; EXAMINE shows no \Recent either
    const d = await Conn.open(lab);
    assert.equal(untaggedNum(await d.ok('EXAMINE INBOX'), 'RECENT'), 0);
    // \Recent as the first session sees it
    assert.match((await c.ok('SEARCH RETURN (COUNT) RECENT')).join(' '), new RegExp(`COUNT ${N}$`));
    // change what the counters count (flags, keywords, expunges) from another session, then again
    await d.ok('SELECT INBOX');
    const unseen = (await recount(lab, mailboxId)).unseen;
    await d.ok(`STORE 1:${unseen} +FLAGS.SILENT (\\Seen)`);
    await d.ok('STORE 5000:5100 +FLAGS.SILENT (\\Deleted)');
    await d.ok('STORE 7000 +FLAGS.SILENT (NewKeyword)');
    await d.ok('EXPUNGE');
    const again = await Conn.open(lab);
    await checkSelect(lab, mailboxId, await again.ok('SELECT INBOX'));
    await checkSelect(lab, mailboxId, await again.ok('EXAMINE INBOX'));
    assert.equal(untaggedNum(await again.ok('SELECT INBOX'), 'EXISTS'), N - 101);
    // the first session hears the expunges and ends with the same view
    await c.ok('NOOP');
    assert.deepEqual(searched(await c.ok('UID SEARCH ALL')), searched(await again.ok('UID SEARCH ALL')));
    for (const x of [c, d, again]) x.close();
    for (const u of uids.slice(4999, 5100)) model.delete(u);
  });

  await t.test('SEARCH of header fields (narrowed by the header index) finds exactly what a full evaluation finds', async () => {
    // the header index narrows (else this would test only the full evaluation)
    const narrowed = await store.messages.headerCandidates(mailboxId, ['zebra crossing']);
    assert.ok(narrowed.length > 0 && narrowed.length < N / 4, `header index: ${narrowed.length} candidates`);
    const c = await Conn.open(lab);
    await c.ok('SELECT INBOX');
    const live = [...model.values()];
    const has = (x: string, y: string) => x.toLowerCase().includes(y.toLowerCase());
    const cases: [string, (m: Seeded) => boolean][] = [
      ['SUBJECT zebra', (m) => has(m.subject, 'zebra')],
      ['SUBJECT "zebra crossing"', (m) => has(m.subject, 'zebra crossing')],
      ['SUBJECT n1234', (m) => has(m.subject, 'n1234')],
      [`SUBJECT ${lit('café')}`, (m) => has(m.subject, 'café')],
      ['SUBJECT "re: caf"', (m) => has(m.subject, 're: caf')],
      ['FROM zebra', (m) => m.from.some((a) => has(a, 'zebra'))],
      [`FROM ${lit('zoë zebra <user1')}`, (m) => m.from.some((a) => has(a, 'zoë zebra <user1'))],
      [`FROM ${lit('andré')}`, (m) => m.from.some((a) => has(a, 'andré'))],
      ['TO "smith, john"', (m) => m.to.some((a) => has(a, 'smith, john'))],
      ['CC zebra.example', (m) => m.cc.some((a) => has(a, 'zebra.example'))],
      ['BCC zebra', () => false],
      [`HEADER Subject ${lit('Grüße')}`, (m) => has(m.subject, 'grüße')],
      ['HEADER X-Note zebra', (m) => m.note !== null],
      ['SUBJECT zebra FROM yak', (m) => has(m.subject, 'zebra') && m.from.some((a) => has(a, 'yak'))],
      ['OR SUBJECT zebra FROM zebra', (m) => has(m.subject, 'zebra') || m.from.some((a) => has(a, 'zebra'))],
      [`SUBJECT crossing OR FROM ${lit('zoë')} (OR CC ${lit('andré')} SUBJECT yak)`,
        (m) => has(m.subject, 'crossing') && (m.from.some((a) => has(a, 'zoë')) || m.cc.some((a) => has(a, 'andré')) || has(m.subject, 'yak'))],
      ['NOT SUBJECT zebra', (m) => !has(m.subject, 'zebra')],
      ['SUBJECT zebra NOT FROM zebra', (m) => has(m.subject, 'zebra') && !m.from.some((a) => has(a, 'zebra'))],
      ['OR SUBJECT quokka NOT TO example.org', (m) => has(m.subject, 'quokka') || !m.to.some((a) => has(a, 'example.org'))],
      ['SUBJECT nothing-matches-this', () => false],
      ['SUBJECT unindexed', (m) => has(m.subject, 'unindexed')],
      ["TO \"reader 2999 <reader2999@\"", (m) => m.to.some((a) => has(a, "reader 2999 <reader2999@"))],
    ];
    for (const [keys, want] of cases) {
      const expect = live.filter(want).map((m) => m.uid).sort((a, b) => a - b);
      if (!/BCC zebra|nothing-matches/.test(keys)) assert.ok(expect.length > 0 && expect.length < live.length, `${keys}: a test that can fail`);
      const got = searched(await c.ok(`UID SEARCH CHARSET UTF-8 ${keys}`));
      assert.deepEqual(got, expect, `UID SEARCH ${keys} against the model`);
      const full = searched(await c.ok(`UID SEARCH CHARSET UTF-8 NOT NOT (${keys})`));
      assert.deepEqual(got, full, `UID SEARCH ${keys} against the full evaluation`);
    }
    // keys on flags, sequence numbers and MODSEQ around a header key; ESEARCH; SAVE and $
    for (const keys of ['SUBJECT zebra UNSEEN', 'SUBJECT zebra KEYWORD $Work', 'OR SUBJECT zebra FLAGGED', '1:500 SUBJECT zebra',
      'SUBJECT zebra MODSEQ 1', 'HEADER X-Note zebra SUBJECT yak', 'SUBJECT zebra UID 10000:*', 'FROM zebra SMALLER 100000 NOT SEEN']) {
      // (the first MODSEQ key enables CONDSTORE: RFC 7162 §3.1 reports HIGHESTMODSEQ once, before)
      const only = (lines: string[]) => lines.filter((l) => l.startsWith('* SEARCH'));
      const got = only(await c.ok(`SEARCH ${keys}`));
      const full = only(await c.ok(`SEARCH NOT NOT (${keys})`));
      assert.deepEqual(searched(got), searched(full), `SEARCH ${keys}`);
      assert.deepEqual(got.map((l) => l.replace(/\(MODSEQ \d+\)/, '')), full.map((l) => l.replace(/\(MODSEQ \d+\)/, '')));
      if (keys.includes('MODSEQ')) assert.deepEqual(got, full, 'the same highest MODSEQ');
    }
    const es = await c.ok('UID SEARCH RETURN (MIN MAX COUNT ALL) SUBJECT zebra');
    const esFull = await c.ok('UID SEARCH RETURN (MIN MAX COUNT ALL) NOT NOT SUBJECT zebra');
    assert.equal(es[0].replace(/TAG "[^"]*"/, ''), esFull[0].replace(/TAG "[^"]*"/, ''));
    await c.ok('UID SEARCH RETURN (SAVE) SUBJECT zebra FROM yak');
    const saved = searched(await c.ok('UID SEARCH $'));
    assert.deepEqual(saved, live.filter((m) => has(m.subject, 'zebra') && m.from.some((a) => has(a, 'yak'))).map((m) => m.uid));
    assert.deepEqual(searched(await c.ok('UID SEARCH $ SUBJECT crossing')), saved.filter((u) => has(model.get(u)!.subject, 'crossing')));
    c.close();
  });

  await t.test('FETCH of the newest 100 (headers) and of 15,000 messages (flags, sizes) is right', async () => {
    const list = await store.messages.list(mailboxId);
    const newest = list.slice(-100);
    const flow = new ImapFlow({ host: '127.0.0.1', port: lab.port('imap'), secure: false, tls: { rejectUnauthorized: false }, auth: { user: USER, pass: 'pw' }, logger: false });
    await flow.connect();
    try {
      await flow.mailboxOpen('INBOX', { readOnly: true });
      const got: { uid: number; flags: string[]; header: string }[] = [];
      for await (const m of flow.fetch(`${newest[0].uid}:*`, { uid: true, flags: true, headers: true }, { uid: true })) {
        got.push({ uid: m.uid, flags: [...(m.flags ?? [])].sort(), header: m.headers!.toString() });
      }
      assert.deepEqual(got.map((m) => m.uid), newest.map((m) => m.uid));
      for (const [k, m] of got.entries()) {
        assert.deepEqual(m.flags, [...newest[k].flags].sort());
        assert.match(m.header, new RegExp(`Message-ID: <m\\d+\\.big@example\\.test>`));
        assert.ok(m.header.endsWith('\r\n\r\n'));
      }
    } finally {
      await flow.logout();
    }
    const c = await Conn.open(lab);
    await c.ok('EXAMINE INBOX');
    const some = list.slice(1000, 16_000);
    // (MODSEQ enables CONDSTORE: RFC 7162 §3.1 reports HIGHESTMODSEQ once, before the FETCH lines)
    const lines = (await c.ok(`UID FETCH ${some[0].uid}:${some[some.length - 1].uid} (UID FLAGS RFC822.SIZE MODSEQ)`)).filter((l) => !l.startsWith('* OK'));
    assert.equal(lines.length, some.length);
    lines.forEach((l, k) => {
      const m = some[k];
      const want = `* ${1001 + k} FETCH (UID ${m.uid} FLAGS (${m.flags.join(' ')}) RFC822.SIZE ${m.size} MODSEQ (${m.modseq}))`;
      assert.equal(l, want);
    });
    // fewer than half of the mailbox: read and answered a chunk (5,000 records) at a time, in order, each once
    const part = list.slice(2000, 10_000);
    const partLines = (await c.ok(`UID FETCH ${part[0].uid}:${part[part.length - 1].uid} (UID FLAGS RFC822.SIZE)`)).filter((l) => !l.startsWith('* OK'));
    assert.deepEqual(partLines, part.map((m, k) => `* ${2001 + k} FETCH (UID ${m.uid} FLAGS (${m.flags.join(' ')}) RFC822.SIZE ${m.size})`));
    // a set of many ranges, and sequence numbers
    const picked = list.filter((_, k) => k % 97 === 0);
    const byRanges = await c.ok(`UID FETCH ${picked.map((m) => m.uid).join(',')} (UID)`);
    assert.deepEqual(byRanges.map((l) => Number(/UID (\d+)/.exec(l)![1])), picked.map((m) => m.uid));
    const bySeq = await c.ok('FETCH 19800:* (UID)');
    assert.deepEqual(bySeq.map((l) => Number(/UID (\d+)/.exec(l)![1])), list.slice(19_799).map((m) => m.uid));
    c.close();
  });

  await t.test('SELECT with QRESYNC reports what changed and vanished since a MODSEQ (RFC 7162 §3.2.5.2)', async () => {
    const c = await Conn.open(lab);
    await c.ok('ENABLE QRESYNC');
    const first = await c.ok('SELECT INBOX');
    const validity = code(first, 'UIDVALIDITY');
    const since = Number(code(first, 'HIGHESTMODSEQ'));
    const d = await Conn.open(lab);
    await d.ok('SELECT INBOX');
    await d.ok('STORE 10:30 +FLAGS.SILENT ($Qresync)');
    await d.ok('STORE 12000 -FLAGS.SILENT (\\Seen)');
    await d.ok('STORE 40:42 +FLAGS.SILENT (\\Deleted)');
    await d.ok('EXPUNGE');
    d.close();
    await c.ok('UNSELECT');
    const again = await c.ok(`SELECT INBOX (QRESYNC (${validity} ${since}))`);
    const list = await store.messages.list(mailboxId);
    const changed = list.map((m, i) => ({ m, seq: i + 1 })).filter(({ m }) => m.modseq > since);
    const fetches = again.filter((l) => / FETCH /.test(l));
    assert.deepEqual(fetches, changed.map(({ m, seq }) => `* ${seq} FETCH (UID ${m.uid} FLAGS (${m.flags.join(' ')}) MODSEQ (${m.modseq}))`));
    assert.equal(changed.length, 22);
    const vanished = again.find((l) => l.startsWith('* VANISHED (EARLIER) '));
    assert.ok(vanished, 'VANISHED (EARLIER)');
    const gone = await store.messages.expungedSince(mailboxId, since);
    assert.deepEqual(expand(vanished.slice(21)), gone);
    assert.equal(gone.length, 3);
    // FLAGS already names the new keyword (RFC 3501 §7.2.6)
    assert.ok(again.find((l) => l.startsWith('* FLAGS ('))!.includes('$Qresync'));
    c.close();
  });

  await t.test('STATUS right after another session\'s STORE, EXPUNGE, APPEND and a delivery', async () => {
    const a = await Conn.open(lab);
    await a.ok('SELECT INBOX');
    const b = await Conn.open(lab);
    const status = async () => {
      const l = (await b.ok('STATUS INBOX (MESSAGES UNSEEN UIDNEXT HIGHESTMODSEQ DELETED SIZE)'))[0];
      const want = await recount(lab, mailboxId);
      const deleted = want.list.filter((m) => m.flags.includes('\\Deleted')).length;
      const size = want.list.reduce((n, m) => n + m.size, 0);
      assert.equal(l, `* STATUS "INBOX" (MESSAGES ${want.exists} UNSEEN ${want.unseenCount} UIDNEXT ${want.uidNext} HIGHESTMODSEQ ${want.highestModseq} DELETED ${deleted} SIZE ${size})`);
    };
    await status();
    await a.ok('STORE 100:200 -FLAGS.SILENT (\\Seen)');
    await status();
    await a.ok('STORE 300:310 +FLAGS.SILENT (\\Deleted)');
    await status();
    await a.ok('EXPUNGE');
    await status();
    const msg = 'From: a@example.test\r\nSubject: appended zebra\r\n\r\nhi\r\n';
    await a.ok(`APPEND INBOX (\\Flagged) {${msg.length}+}\r\n${msg}`);
    await status();
    await lab.deliver(USER, Buffer.from('From: c@example.test\r\nSubject: delivered\r\n\r\nhello\r\n'));
    await status();
    a.close();
    b.close();
  });

  await t.test('a session that SELECTs while deliveries and expunges arrive ends with the view of a fresh SELECT', async () => {
    const writer = await Conn.open(lab);
    await writer.ok('SELECT INBOX');
    let running = true;
    // deliveries and expunges (of the oldest messages) while other sessions SELECT again and again
    const churn = (async () => {
      for (let i = 0; running && i < 200; i++) {
        await lab.deliver(USER, Buffer.from(`From: d@example.test\r\nSubject: churn ${i}\r\n\r\nx\r\n`));
        if (i % 3 === 0) {
          await writer.ok(`STORE ${1 + (i % 50)} +FLAGS.SILENT (\\Deleted)`);
          await writer.ok('EXPUNGE');
        }
        if (i % 5 === 0) await writer.ok(`STORE ${100 + i} FLAGS.SILENT (\\Flagged $Churn)`);
      }
    })();
    const watchers: { c: Conn; exists: number }[] = [];
    for (let k = 0; k < 8; k++) {
      const c = await Conn.open(lab);
      const lines = await c.ok(k % 2 ? 'EXAMINE INBOX' : 'SELECT INBOX');
      watchers.push({ c, exists: untaggedNum(lines, 'EXISTS')! });
      await new Promise((r) => setTimeout(r, 20));
    }
    await churn;
    running = false;
    const fresh = await Conn.open(lab);
    const freshSel = await fresh.ok('EXAMINE INBOX');
    const freshUids = searched(await fresh.ok('UID SEARCH ALL'));
    const noRecent = (l: string) => l.replace(/^\* \d+ /, '').replace(/ ?\\Recent/, '').replace('( ', '(');
    const freshFlags = (await fresh.ok('FETCH 1:* (UID FLAGS)')).map(noRecent);
    for (const w of watchers) {
      // the untagged EXISTS / EXPUNGE it is sent keep its count right (RFC 3501 §7.3.1, §7.4.1)
      for (const l of await w.c.ok('NOOP')) {
        const m = /^\* (\d+) (EXISTS|EXPUNGE)$/.exec(l);
        if (m?.[2] === 'EXISTS') w.exists = Number(m[1]);
        else if (m) w.exists--;
      }
      assert.equal(w.exists, untaggedNum(freshSel, 'EXISTS'));
      assert.deepEqual(searched(await w.c.ok('UID SEARCH ALL')), freshUids);
      const flags = (await w.c.ok('FETCH 1:* (UID FLAGS)')).map(noRecent);
      assert.deepEqual(flags, freshFlags);
      w.c.close();
    }
    writer.close();
    fresh.close();
  });
});
