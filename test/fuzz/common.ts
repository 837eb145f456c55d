// Shared bits of the fuzz tests: run counts (FUZZ_RUNS), a byte-level mutator and the seed corpora.
// `npm test` runs every property briefly (a few seconds at most); `npm run fuzz` sets FUZZ_RUNS
// for a long campaign. FUZZ_SEED replays a failing run (fast-check prints seed and path).
import fc from 'fast-check';

/** FUZZ_RUNS=n: the long campaign (0 = the short runs of npm test) */
export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS) || 0;
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;

/**
 * fast-check parameters for one property: `quick` runs (npm test) within `budgetMs`, or under
 * FUZZ_RUNS the campaign's count divided by `cost` (a live-socket run costs more than a parse),
 * without a time limit.
 */
export function params(quick: number, budgetMs: number, cost = 1): fc.Parameters<unknown> {
  const numRuns = FUZZ_RUNS ? Math.max(quick, Math.ceil(FUZZ_RUNS / cost)) : quick;
  return {
    numRuns,
    includeErrorInReport: true,
    ...(FUZZ_RUNS ? {} : { interruptAfterTimeLimit: budgetMs, markInterruptAsFailure: false }),
    ...(SEED !== undefined ? { seed: SEED } : {}),
  };
}

/** Test timeout (node:test) for a property: generous in the campaign, tight in npm test. */
export const testTimeout = (ms: number) => (FUZZ_RUNS ? 4 * 3600_000 : ms);

// ------------------------------------------------------------------ mutation

/** Tokens that tend to upset parsers: literals, huge numbers, brackets, quotes, NUL, 8-bit, line ends. */
export const INTERESTING = [
  '{0}', '{1}', '{5}', '{3+}', '{0+}', '~{4}', '{4294967296}', '{99999999999999999999}', '{-1}', '{1e3}',
  '4294967295', '4294967296', '18446744073709551616', '9007199254740993', '0', '-1', '*', '1:*', '*:1', '1,,2',
  '(', ')', '((((((((', '))))', '[', ']', '<', '>', '<0.4294967296>', '"', '\\', '\\"', '""', 'NIL', '()',
  '\0', '\x7f', '\xff', '\xc3\x28', '\xe2\x82', '\xf0\x9f\x92\xa9', '\r', '\n', '\r\n', '\r\n.\r\n', '\n.\n',
  ' ', '  ', '\t', '=?utf-8?B?w6k=?=', '%', '&-', '&AOk-', '&', '+', '=', 'A'.repeat(300),
];

const asBuf = (s: string | Buffer) => (Buffer.isBuffer(s) ? s : Buffer.from(s, 'latin1'));

type Mutation =
  | { k: 'insert'; at: number; b: Buffer }
  | { k: 'delete'; at: number; n: number }
  | { k: 'flip'; at: number; v: number }
  | { k: 'dup'; at: number; n: number }
  | { k: 'splice'; at: number; other: number; from: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ k: fc.constant('insert' as const), at: fc.nat(), b: fc.oneof(fc.constantFrom(...INTERESTING).map(asBuf), fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a))) }),
  fc.record({ k: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ k: fc.constant('flip' as const), at: fc.nat(), v: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ k: fc.constant('dup' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 32 }) }),
  fc.record({ k: fc.constant('splice' as const), at: fc.nat(), other: fc.nat(), from: fc.nat() }),
);

function apply(b: Buffer, m: Mutation, corpus: Buffer[]): Buffer {
  const at = b.length ? m.at % (b.length + 1) : 0;
  switch (m.k) {
    case 'insert': return Buffer.concat([b.subarray(0, at), m.b, b.subarray(at)]);
    case 'delete': return Buffer.concat([b.subarray(0, at), b.subarray(at + m.n)]);
    case 'flip': { if (!b.length) return b; const c = Buffer.from(b); c[at % b.length] = m.v; return c; }
    case 'dup': return Buffer.concat([b.subarray(0, at + m.n), b.subarray(at)]);
    case 'splice': {
      const o = corpus[m.other % corpus.length];
      return Buffer.concat([b.subarray(0, at), o.subarray(o.length ? m.from % o.length : 0)]);
    }
  }
}

/** Seeds from the corpus with 0..maxMutations byte-level mutations applied. */
export function mutated(corpus: (string | Buffer)[], maxMutations = 4): fc.Arbitrary<Buffer> {
  const bufs = corpus.map(asBuf);
  return fc.tuple(fc.nat(bufs.length - 1), fc.array(mutationArb, { maxLength: maxMutations }))
    .map(([i, ms]) => ms.reduce((b, m) => apply(b, m, bufs), bufs[i]));
}

/** A buffer cut into random chunks (how bytes arrive from a socket). */
export function chunked(b: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => (b.length ? c % b.length : 0)))].sort((x, y) => x - y);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of at) { if (c > prev) out.push(b.subarray(prev, c)); prev = Math.max(prev, c); }
  out.push(b.subarray(prev));
  return out;
}

// ------------------------------------------------------------------ seed corpora

/** IMAP command lines (CRLF added by the user), from real clients and from RFC corners. */
export const IMAP_SEEDS: string[] = [
  'a1 CAPABILITY', 'a2 NOOP', 'a3 LOGOUT', 'a4 ID ("name" "fuzz" "version" "1")', 'a5 ID NIL',
  'a6 ENABLE CONDSTORE QRESYNC', 'a7 ENABLE IMAP4rev2', 'a8 NAMESPACE', 'a9 LIST "" "*"', 'b1 LIST "" %',
  'b2 LSUB "" "*"', 'b3 LIST (SUBSCRIBED) "" "*" RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN))',
  'b4 STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ SIZE)', 'b5 SELECT INBOX',
  'b6 EXAMINE INBOX', 'b7 SELECT INBOX (CONDSTORE)', 'b8 SELECT INBOX (QRESYNC (1 1 1:* (1 1)))',
  'b9 CREATE "Fuzz/&AOk-t&AOk-"', 'c1 DELETE "Fuzz/&AOk-t&AOk-"', 'c2 RENAME Fuzz Fuzz2', 'c3 SUBSCRIBE Fuzz',
  'c4 UNSUBSCRIBE Fuzz', 'c5 GETQUOTAROOT INBOX', 'c6 GETQUOTA ""', 'c7 CHECK', 'c8 UNSELECT', 'c9 CLOSE',
  'd1 FETCH 1:* (FLAGS UID RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE)',
  'd2 FETCH 1 (BODY.PEEK[HEADER.FIELDS (From To Subject)]<0.100>)', 'd3 FETCH * BODY[1.2.MIME]',
  'd4 UID FETCH 1:4294967295 (BODY[TEXT]<5.10> BINARY.PEEK[1] BINARY.SIZE[1])', 'd5 FETCH 1,2:3,* (BODY[HEADER.FIELDS.NOT (Received)])',
  'd6 FETCH 1 (MODSEQ) (CHANGEDSINCE 1 VANISHED)', 'd7 FETCH 1 RFC822', 'd8 FETCH 1 (RFC822.HEADER RFC822.TEXT)',
  'd9 FETCH 1:* FAST', 'e1 FETCH 1:* FULL', 'e2 FETCH 1 BODY[1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1]',
  'e3 SEARCH ALL', 'e4 UID SEARCH OR (FROM "a") (NOT SEEN) SINCE 1-Feb-1994 LARGER 10',
  'e5 SEARCH CHARSET UTF-8 SUBJECT {4}', 'e6 SEARCH RETURN (MIN MAX COUNT ALL SAVE) UNSEEN', 'e7 SEARCH $',
  'e8 SEARCH HEADER "X-Fuzz" "" BODY "x" TEXT "y" UID 1:* MODSEQ 1', 'e9 SEARCH ((((((((((ALL))))))))))',
  'f1 STORE 1 +FLAGS (\\Seen \\Flagged $Label)', 'f2 UID STORE 1:* -FLAGS.SILENT (\\Deleted)',
  'f3 STORE 1 (UNCHANGEDSINCE 0) FLAGS ()', 'f4 COPY 1:* Fuzz', 'f5 UID MOVE 1 Trash', 'f6 EXPUNGE',
  'f7 UID EXPUNGE 1:*', 'f8 APPEND INBOX (\\Seen) "17-Jul-1996 02:44:25 -0700" {12+}\r\nSubject: x\r\n',
  'f9 APPEND INBOX {0+}\r\n', 'g1 APPEND Fuzz {4}\r\nabcd', 'g2 LOGIN {3+}\r\nbob {2+}\r\npw',
  'g3 LOGIN "a\\"b" "c\\\\d"', 'g4 AUTHENTICATE PLAIN', 'g5 AUTHENTICATE PLAIN AGJvYgBwdw==', 'g6 IDLE',
  'g7 UID FETCH 1:* (UID) (CHANGEDSINCE 18446744073709551615)', 'g8 FETCH 0 FLAGS', 'g9 FETCH 4294967296 FLAGS',
  'h1 SELECT "\0"', 'h2 LIST "" "\xff\xfe"', 'h3 FETCH 1 (BODY[HEADER.FIELDS ()])', 'h4 FETCH 1 BODY[]<4294967295.4294967295>',
  'h5 STATUS INBOX ()', 'h6 SEARCH NOT NOT NOT NOT NOT NOT ALL', 'h7 X-UNKNOWN-COMMAND arg', 'h8 UID', '*', '+ x',
];

export const POP3_SEEDS: string[] = [
  'CAPA', 'USER bob@example.test', 'PASS pw', 'PASS pass with spaces', 'AUTH', 'AUTH PLAIN', 'AUTH PLAIN AGJvYkBleGFtcGxlLnRlc3QAcHc=',
  'AUTH LOGIN', 'AUTH PLAIN =', 'STAT', 'LIST', 'LIST 1', 'LIST 999999999', 'LIST 9999999999', 'UIDL', 'UIDL 1', 'RETR 1',
  'RETR 0', 'RETR -1', 'TOP 1 0', 'TOP 1 999999999', 'TOP 1', 'DELE 1', 'RSET', 'NOOP', 'QUIT', 'APOP bob 0123456789abcdef',
  'LIST 1 2', 'RETR  1', 'retr 1', 'Stat', '', ' ', 'USER', 'LIST \xff', 'USER b\0b', 'XTND XMIT', 'LAST',
];

export const SMTP_SEEDS: string[] = [
  'EHLO fuzz.test', 'HELO fuzz.test', 'EHLO [127.0.0.1]', 'EHLO', 'HELO', 'MAIL FROM:<a@fuzz.test>', 'MAIL FROM:<>',
  'MAIL FROM:<a@fuzz.test> SIZE=100 BODY=8BITMIME', 'MAIL FROM:<a@fuzz.test> SMTPUTF8', 'MAIL FROM:<a@fuzz.test> RET=HDRS ENVID=x+2By',
  'MAIL FROM:<a@fuzz.test> SIZE=99999999999999999999', 'MAIL FROM: <a@fuzz.test>', 'MAIL FROM:a@fuzz.test', 'MAIL FROM:<@relay:a@fuzz.test>',
  'RCPT TO:<alice@example.test>', 'RCPT TO:<bob@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.test',
  'RCPT TO:<alice+tag@example.test>', 'RCPT TO:<postmaster>', 'RCPT TO:<nobody@example.test>', 'RCPT TO:<x@elsewhere.test>',
  'RCPT TO:<"quoted local"@example.test>', 'RCPT TO:<\xc3\xa9@example.test>', 'RCPT TO:<alice@EXAMPLE.TEST>',
  'DATA', 'RSET', 'NOOP', 'NOOP hello', 'VRFY alice', 'EXPN list', 'HELP', 'AUTH PLAIN', 'AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABwdw==',
  'AUTH LOGIN', 'BDAT 10 LAST', 'XCLIENT ADDR=1.2.3.4', 'ETRN x', 'TURN', 'MAIL FROM:<a@fuzz.test>\0', 'RCPT TO:<alice@example.test\0>',
  'MAIL FROM:<' + 'a'.repeat(600) + '@fuzz.test>',
];

/** Message bodies that stress MIME parsing; each is a full RFC 5322 message. */
export function mimeSeeds(): Buffer[] {
  const crlf = (s: string) => Buffer.from(s.replace(/\r?\n/g, '\r\n'), 'latin1');
  const deep = (n: number) => {
    let s = '';
    for (let i = 0; i < n; i++) s += `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n`;
    s += 'Content-Type: text/plain\r\n\r\ninnermost\r\n';
    for (let i = n - 1; i >= 0; i--) s += `--b${i}--\r\n`;
    return Buffer.from('Subject: deep\r\nMIME-Version: 1.0\r\n' + s, 'latin1');
  };
  const deepMessage = (n: number) => {
    let s = '';
    for (let i = 0; i < n; i++) s += `Subject: level ${i}\r\nContent-Type: message/rfc822\r\n\r\n`;
    return Buffer.from(s + 'Subject: bottom\r\n\r\nbody\r\n', 'latin1');
  };
  return [
    crlf('From: Alice <alice@example.test>\nTo: bob@example.test\nSubject: hello\nDate: Mon, 23 Nov 2026 10:00:00 +0000\nMessage-ID: <1@x>\n\nhi\n'),
    crlf('From: "J\\"o\\\\e" <j@x>, (comment) <k@y>, undisclosed-recipients:;\nTo: group: a@b, "c d" <c@d>;\nCc: <@route,@r2:x@y>\nSubject: =?utf-8?q?caf=C3=A9?= =?iso-8859-1?b?6Q==?=\n\nbody'),
    Buffer.concat([crlf('From: \xe9\xe8 <h\xe9@x>\nSubject: 8-bit \xff\xfe header\nContent-Type: text/plain; charset="iso-8859-1"\n\n'), Buffer.from([0xe9, 0x00, 0xff, 0x0d, 0x0a])]),
    Buffer.from('Subject: utf8 \xc3\xa9\xf0\x9f\x92\xa9\r\nFrom: =?utf-8?B?w6k=?= <\xc3\xa9@x>\r\n\r\nNUL \0 inside\r\n', 'latin1'),
    crlf('MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=XX\n\npreamble\n--XX\nContent-Type: text/plain; charset*=utf-8\'\'%C3%A9; name*0="a"; name*1="b"\n\none\n--XX\nContent-Type: message/rfc822\nContent-Disposition: attachment; filename="m.eml"\nContent-Language: en, fr\nContent-Location: http://x/\n\nSubject: inner\nContent-Type: multipart/alternative; boundary=YY\n\n--YY\n\ntext\n--YY\nContent-Type: text/html\nContent-Transfer-Encoding: base64\nContent-MD5: abc\n\nPGI+\n--YY--\n--XX\nContent-Type: application/octet-stream\n\n\x00\x01\x02\n--XX--\nepilogue\n'),
    crlf('Content-Type: multipart/mixed\n\nno boundary\n'),
    crlf('Content-Type: multipart/mixed; boundary=""\n\n--\n\nx\n----\n'),
    crlf('Content-Type: multipart/mixed; boundary=a\n\n--a\n--a\n--a--\n--a\n'),
    crlf('Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogeA0KDQp5\n'),
    crlf('Content-Type: text/plain; charset=us-ascii; format=flowed; delsp=yes; ; ;=; x="unterminated\n\nbody\n'),
    Buffer.from('no header at all, just a line without CRLF', 'latin1'),
    Buffer.from('Subject: bare LF\nContent-Type: multipart/mixed; boundary=z\n\n--z\n\nbare\n--z--\n', 'latin1'),
    Buffer.from('Subject: bare CR\rFrom: x\r\r\rbody\r', 'latin1'),
    Buffer.from('\r\n\r\n', 'latin1'),
    Buffer.alloc(0),
    Buffer.from(':\r\n : \r\n\t\r\nX: ' + 'y'.repeat(5000) + '\r\n\r\n', 'latin1'),
    deep(1000),
    deepMessage(200),
  ];
}

/** No lone surrogates (String.prototype.isWellFormed is ES2024, newer than our lib). */
export const wellFormed = (s: string) => Buffer.from(s, 'utf8').toString('utf8') === s;
