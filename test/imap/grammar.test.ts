// The IMAP grammar as a table: wire bytes -> the typed command (RFC 3501 §9, RFC 9051 §9 and the
// extensions' grammars), each fed whole and one byte at a time; and wire bytes -> the BAD they earn.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ImapParser, type ParseResult } from '../../src/imap/parser.js';

function parseAll(wire: string | Buffer, byteByByte: boolean): ParseResult[] {
  const p = new ImapParser();
  const buf = Buffer.isBuffer(wire) ? wire : Buffer.from(wire, 'utf8');
  const out: ParseResult[] = [];
  const drain = () => { for (;;) { const r = p.next(); if (r.kind === 'needMore') break; if (r.kind !== 'continue') out.push(r); } };
  if (byteByByte) for (let i = 0; i < buf.length; i++) { p.push(buf.subarray(i, i + 1)); drain(); }
  else { p.push(buf); drain(); }
  return out;
}

/** One command: parsed whole and byte by byte, the same typed command both ways. */
function one(wire: string): unknown {
  const whole = parseAll(wire, false);
  const bytes = parseAll(wire, true);
  assert.deepEqual(bytes, whole, `${wire}: byte by byte differs`);
  assert.equal(whole.length, 1, `${wire}: ${JSON.stringify(whole)}`);
  return whole[0].kind === 'command' ? whole[0].cmd : whole[0];
}

const ALL = { saved: false, set: [[1, Infinity]] };
const sec = (path: number[], kind: string, fields: string[], label: string) => ({ path, kind, fields, label });

const TABLE: [string, unknown][] = [
  // RFC 3501 §6.1 any state
  ['a1 NOOP\r\n', { verb: 'NOOP', tag: 'a1' }],
  ['a2 capability\r\n', { verb: 'CAPABILITY', tag: 'a2' }],
  // §6.2.3 LOGIN: astrings (atom, quoted with escapes, literal)
  ['a3 login bob "p w\\"x"\r\n', { verb: 'LOGIN', user: 'bob', password: 'p w"x', tag: 'a3' }],
  ['a4 LOGIN {3+}\r\nbob {2+}\r\npw\r\n', { verb: 'LOGIN', user: 'bob', password: 'pw', tag: 'a4' }],
  // RFC 4959 SASL-IR
  ['a5 AUTHENTICATE plain AGJvYgBwdw==\r\n', { verb: 'AUTHENTICATE', mechanism: 'PLAIN', initial: 'AGJvYgBwdw==', tag: 'a5' }],
  // §6.3.1 SELECT, RFC 7162 §3.1.8 CONDSTORE, §3.2.5 QRESYNC
  ['b1 SELECT INBOX (CONDSTORE)\r\n', { verb: 'SELECT', mailbox: 'INBOX', condstore: true, qresync: null, tag: 'b1' }],
  ['b2 EXAMINE "a b" (QRESYNC (67890007 715194045000 41,43:211))\r\n',
    { verb: 'EXAMINE', mailbox: 'a b', condstore: false, qresync: { uidValidity: 67890007, modseq: 715194045000, known: [[41, 41], [43, 211]] }, tag: 'b2' }],
  // RFC 3501 §9 atom-specials: every other printable character is an ATOM-CHAR, "]" an ASTRING-CHAR
  ["b3 SELECT !#$&'+,-.0123456789:;<=>?@^_`|[}\r\n", { verb: 'SELECT', mailbox: "!#$&'+,-.0123456789:;<=>?@^_`|[}", condstore: false, qresync: null, tag: 'b3' }],
  ['b4 SELECT ~foo\r\n', { verb: 'SELECT', mailbox: '~foo', condstore: false, qresync: null, tag: 'b4' }],
  ['b5 SELECT a]b\r\n', { verb: 'SELECT', mailbox: 'a]b', condstore: false, qresync: null, tag: 'b5' }],
  // RFC 6154 §3 CREATE ... (USE (...))
  ['c1 CREATE Sent (USE (\\Sent))\r\n', { verb: 'CREATE', mailbox: 'Sent', use: ['\\Sent'], tag: 'c1' }],
  ['c2 RENAME a "b/c"\r\n', { verb: 'RENAME', from: 'a', to: 'b/c', tag: 'c2' }],
  ['c3 DELETE {1}\r\nx\r\n', { verb: 'DELETE', mailbox: 'x', tag: 'c3' }],
  // §6.3.8 LIST; RFC 5258 LIST-EXTENDED; RFC 5819 LIST-STATUS; NIL is an atom here
  ['d1 LIST "" %\r\n', { verb: 'LIST', select: null, reference: '', patterns: ['%'], returns: null, tag: 'd1' }],
  ['d2 LIST "" NIL\r\n', { verb: 'LIST', select: null, reference: '', patterns: ['NIL'], returns: null, tag: 'd2' }],
  ["d3 list \"\" !#$&'+,-.0123456789:;<=>?@^_`|[}%*\r\n", { verb: 'LIST', select: null, reference: '', patterns: ["!#$&'+,-.0123456789:;<=>?@^_`|[}%*"], returns: null, tag: 'd3' }],
  ['d4 LIST (SUBSCRIBED RECURSIVEMATCH) "" ("a" b) RETURN (CHILDREN STATUS (MESSAGES UNSEEN))\r\n',
    { verb: 'LIST', select: { subscribed: true, specialUse: false, recursiveMatch: true, remote: false }, reference: '', patterns: ['a', 'b'],
      returns: { subscribed: false, children: true, specialUse: false, status: ['MESSAGES', 'UNSEEN'] }, tag: 'd4' }],
  ['d5 LSUB "" *\r\n', { verb: 'LSUB', reference: '', pattern: '*', tag: 'd5' }],
  ['d6 STATUS INBOX (MESSAGES HIGHESTMODSEQ)\r\n', { verb: 'STATUS', mailbox: 'INBOX', items: ['MESSAGES', 'HIGHESTMODSEQ'], tag: 'd6' }],
  // §6.3.11 APPEND (flags, date-time, literal; RFC 7888 LITERAL+)
  ['e1 APPEND INBOX (\\seen $x) "01-Jan-2020 00:00:00 +0100" {3+}\r\nabc\r\n',
    { verb: 'APPEND', mailbox: 'INBOX', messages: [{ flags: ['\\Seen', '$x'], date: Date.UTC(2019, 11, 31, 23), data: { kind: 'literal', bytes: Buffer.from('abc'), binary: false } }], tag: 'e1' }],
  ['e2 APPEND INBOX {2}\r\nhi\r\n', { verb: 'APPEND', mailbox: 'INBOX', messages: [{ flags: [], date: null, data: { kind: 'literal', bytes: Buffer.from('hi'), binary: false } }], tag: 'e2' }],
  // RFC 3502 MULTIAPPEND, RFC 3516 literal8, RFC 4469 CATENATE
  ['e3 APPEND INBOX (\\Draft) {1+}\r\na ~{2+}\r\nb\x00 CATENATE (URL "/INBOX;UID=1" TEXT {1+}\r\nc)\r\n', {
    verb: 'APPEND', mailbox: 'INBOX', tag: 'e3', messages: [
      { flags: ['\\Draft'], date: null, data: { kind: 'literal', bytes: Buffer.from('a'), binary: false } },
      { flags: [], date: null, data: { kind: 'literal', bytes: Buffer.from('b\x00'), binary: true } },
      { flags: [], date: null, data: { kind: 'catenate', parts: [{ url: '/INBOX;UID=1' }, { text: Buffer.from('c') }] } },
    ],
  }],
  // RFC 2971 ID, RFC 5161 ENABLE, RFC 4978 COMPRESS
  ['f1 ID ("name" "x" "version" NIL)\r\n', { verb: 'ID', params: [['name', 'x'], ['version', null]], tag: 'f1' }],
  ['f2 ID NIL\r\n', { verb: 'ID', params: null, tag: 'f2' }],
  ['f3 ENABLE CONDSTORE qresync\r\n', { verb: 'ENABLE', caps: ['CONDSTORE', 'qresync'], tag: 'f3' }],
  ['f4 COMPRESS deflate\r\n', { verb: 'COMPRESS', mechanism: 'DEFLATE', tag: 'f4' }],
  // §6.4.3 EXPUNGE, RFC 4315 §2.1 UID EXPUNGE
  ['g1 EXPUNGE\r\n', { verb: 'EXPUNGE', uid: false, set: null, tag: 'g1' }],
  ['g2 UID EXPUNGE 3:5,7\r\n', { verb: 'EXPUNGE', uid: true, set: { saved: false, set: [[3, 5], [7, 7]] }, tag: 'g2' }],
  // §6.4.5 FETCH: macros, sections with spaces inside brackets, partials, RFC 3516 BINARY, RFC 7162 modifiers
  ['h1 FETCH 1:* ALL\r\n', { verb: 'FETCH', uid: false, set: ALL, items: [{ k: 'FLAGS' }, { k: 'INTERNALDATE' }, { k: 'RFC822.SIZE' }, { k: 'ENVELOPE' }], changedSince: null, vanished: false, tag: 'h1' }],
  ['h2 UID FETCH $ (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.100>)\r\n', {
    verb: 'FETCH', uid: true, set: { saved: true }, changedSince: null, vanished: false, tag: 'h2',
    items: [{ k: 'FLAGS' }, { k: 'SECTION', peek: true, binary: false, sizeOnly: false, section: sec([], 'HEADER.FIELDS', ['From', 'To'], 'HEADER.FIELDS (From To)'), partial: [0, 100], label: 'BODY[HEADER.FIELDS (From To)]<0>' }],
  }],
  ['h3 FETCH 2 (BINARY.SIZE[1] modseq) (CHANGEDSINCE 12345)\r\n', {
    verb: 'FETCH', uid: false, set: { saved: false, set: [[2, 2]] }, changedSince: 12345, vanished: false, tag: 'h3',
    items: [{ k: 'SECTION', peek: false, binary: true, sizeOnly: true, section: sec([1], '', [], '1'), partial: null, label: 'BINARY.SIZE[1]' }, { k: 'MODSEQ' }],
  }],
  ['h4 UID FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)\r\n', { verb: 'FETCH', uid: true, set: ALL, items: [{ k: 'FLAGS' }], changedSince: 1, vanished: true, tag: 'h4' }],
  // §6.4.6 STORE, RFC 7162 §3.1.3 UNCHANGEDSINCE; NIL is a keyword here
  ['i1 STORE 1 +FLAGS.SILENT (\\Seen \\seen foo)\r\n', { verb: 'STORE', uid: false, set: { saved: false, set: [[1, 1]] }, unchangedSince: null, op: 'add', silent: true, flags: ['\\Seen', 'foo'], tag: 'i1' }],
  ['i2 UID STORE 1:* (UNCHANGEDSINCE 7) FLAGS \\Answered bar\r\n', { verb: 'STORE', uid: true, set: ALL, unchangedSince: 7, op: 'set', silent: false, flags: ['\\Answered', 'bar'], tag: 'i2' }],
  ['i3 STORE 1 +flags NIL\r\n', { verb: 'STORE', uid: false, set: { saved: false, set: [[1, 1]] }, unchangedSince: null, op: 'add', silent: false, flags: ['NIL'], tag: 'i3' }],
  ['i4 UID MOVE 4 Trash\r\n', { verb: 'MOVE', uid: true, set: { saved: false, set: [[4, 4]] }, mailbox: 'Trash', tag: 'i4' }],
  // §6.4.4 SEARCH: keys, NIL as astring, dates, RFC 4731 RETURN, RFC 5182 "$", RFC 7162 MODSEQ with an entry
  ['j1 SEARCH SUBJECT NIL\r\n', { verb: 'SEARCH', uid: false, ret: null, charset: null, key: { k: 'header', name: 'subject', value: 'NIL' }, tag: 'j1' }],
  ['j2 SEARCH CHARSET UTF-8 OR (FROM "a b") NOT SEEN 2:4\r\n', {
    verb: 'SEARCH', uid: false, ret: null, charset: 'UTF-8', tag: 'j2',
    key: { k: 'and', keys: [{ k: 'or', a: { k: 'address', field: 'from', value: 'a b' }, b: { k: 'not', a: { k: 'flag', flag: '\\Seen', set: true } } }, { k: 'seq', set: [[2, 4]] }] },
  }],
  ['j3 UID SEARCH RETURN () SENTBEFORE 24-Mar-2007 SINCE "1-feb-1994"\r\n', {
    verb: 'SEARCH', uid: true, ret: ['ALL'], charset: null, tag: 'j3',
    key: { k: 'and', keys: [{ k: 'date', field: 'sent', op: 'before', day: Date.UTC(2007, 2, 24) }, { k: 'date', field: 'internal', op: 'since', day: Date.UTC(1994, 1, 1) }] },
  }],
  ['j4 SEARCH RETURN (MIN MAX SAVE) 1:3 MODSEQ "/flags/\\\\seen" all 5\r\n', {
    verb: 'SEARCH', uid: false, ret: ['MIN', 'MAX', 'SAVE'], charset: null, tag: 'j4',
    key: { k: 'and', keys: [{ k: 'seq', set: [[1, 3]] }, { k: 'modseq', n: 5 }] },
  }],
  ['j5 SEARCH $ UID $ KEYWORD $Forwarded LARGER 10\r\n', {
    verb: 'SEARCH', uid: false, ret: null, charset: null, tag: 'j5',
    key: { k: 'and', keys: [{ k: 'saved' }, { k: 'saved' }, { k: 'flag', flag: '$Forwarded', set: true }, { k: 'size', larger: true, n: 10 }] },
  }],
  ['j6 SEARCH SUBJECT "modseq"\r\n', { verb: 'SEARCH', uid: false, ret: null, charset: null, key: { k: 'header', name: 'subject', value: 'modseq' }, tag: 'j6' }],
  // RFC 5256 SORT and THREAD
  ['k0 SORT RETURN (MIN COUNT) (DISPLAYFROM) UTF-8 ALL\r\n', { verb: 'SORT', uid: false, ret: ['MIN', 'COUNT'], criteria: [{ key: 'DISPLAYFROM', reverse: false }], charset: 'UTF-8', key: { k: 'all' }, tag: 'k0' }],
  ['k1 UID SORT (REVERSE DATE SUBJECT) UTF-8 ALL\r\n', { verb: 'SORT', uid: true, ret: null, criteria: [{ key: 'DATE', reverse: true }, { key: 'SUBJECT', reverse: false }], charset: 'UTF-8', key: { k: 'all' }, tag: 'k1' }],
  ['k2 THREAD references US-ASCII UNDELETED\r\n', { verb: 'THREAD', uid: false, algorithm: 'REFERENCES', charset: 'US-ASCII', key: { k: 'flag', flag: '\\Deleted', set: false }, tag: 'k2' }],
];

test('grammar: wire bytes -> typed command, whole and one byte at a time', () => {
  for (const [wire, want] of TABLE) assert.deepEqual(one(wire), want, wire);
});

const BAD: [string, string][] = [
  ['x1 FROB\r\n', 'unknown command FROB'],
  ['x2 UID NOOP\r\n', 'unknown command UID NOOP'],
  ['x3 NOOP extra\r\n', 'too many arguments'],
  ['x4 LOGIN bob\r\n', 'missing password'],
  ['x5 SELECT INBOX (FOO)\r\n', 'unknown select parameter FOO'],
  ['x6 FETCH 1 (FLAGS BOGUS)\r\n', 'unknown fetch item BOGUS'],
  ['x7 FETCH 0 FLAGS\r\n', 'invalid sequence number'],
  ['x8 FETCH 1 FLAGS (VANISHED)\r\n', 'VANISHED needs UID FETCH, QRESYNC and CHANGEDSINCE'],
  ['x9 STORE 1 +FLAGS (\\Bogus)\r\n', 'invalid system flag \\Bogus'],
  ['y1 STORE 1 XFLAGS (\\Seen)\r\n', 'unknown store item XFLAGS'],
  ['y2 SEARCH\r\n', 'missing search key'],
  ['y3 SEARCH FROB\r\n', 'unknown search key FROB'],
  ['y4 SEARCH SENTON 32-Foo-2007\r\n', 'invalid date month'],
  ['y5 SEARCH RETURN (BOGUS) ALL\r\n', 'unknown return option BOGUS'],
  ['y6 SORT () UTF-8 ALL\r\n', 'SORT needs a list of sort criteria'],
  ['y7 THREAD FOO UTF-8 ALL\r\n', 'unknown threading algorithm FOO'],
  ['y8 LIST (RECURSIVEMATCH) "" *\r\n', 'RECURSIVEMATCH needs another selection option'],
  ['y9 APPEND INBOX "text"\r\n', 'invalid date-time'],
  ['z1 APPEND INBOX {1}\r\na FOO\r\n', 'APPEND needs the message as a literal'],
  ['z2 STATUS INBOX (BOGUS)\r\n', 'unknown status item BOGUS'],
  ['z3 FETCH 1 BODY[HEADER\r\n', 'unterminated ['],
];

test('grammar: bad arguments -> BAD with the tag and a reason, whole and one byte at a time', () => {
  for (const [wire, message] of BAD) {
    const tag = wire.slice(0, 2);
    assert.deepEqual(one(wire), { kind: 'bad', tag, message }, wire);
  }
});

test('grammar: a 25 MiB literal arriving in 64 KiB chunks is joined once (no copy per chunk)', () => {
  const size = 25 * 1024 * 1024;
  const p = new ImapParser({ maxAppendLiteral: size });
  p.push(Buffer.from(`a APPEND INBOX {${size}+}\r\n`));
  assert.equal(p.next().kind, 'needMore');
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  // count the joins: none while the chunks arrive (the old parser joined the whole buffer on every one)
  const concat = Buffer.concat;
  let joins = 0;
  Buffer.concat = ((list: readonly Uint8Array[], len?: number) => { joins++; return concat(list, len); }) as typeof Buffer.concat;
  let r: ParseResult;
  try {
    for (let sent = 0; sent + chunk.length < size; sent += chunk.length) {
      p.push(chunk);
      assert.equal(p.next().kind, 'needMore');
      assert.equal(p.buffered, sent + chunk.length);
    }
    assert.equal(joins, 0);
    p.push(Buffer.concat([chunk, Buffer.from('\r\nb NOOP\r\n')]));
    joins = 0;
    r = p.next();
    assert.equal(joins, 1);
  } finally {
    Buffer.concat = concat;
  }
  assert.equal(r.kind, 'command');
  const m = r.kind === 'command' && r.cmd.verb === 'APPEND' ? r.cmd.messages[0].data : null;
  assert.equal(m?.kind === 'literal' && m.bytes.length, size);
  assert.deepEqual(p.next(), { kind: 'command', cmd: { verb: 'NOOP', tag: 'b' } });
});
