import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { TokenReader as ImapParser, type TokenResult as ParseResult } from '../../src/imap/parser.js';

function parseAll(wire: string | Buffer, byteByByte = false, limits = {}): ParseResult[] {
  const p = new ImapParser(limits);
  const buf = Buffer.isBuffer(wire) ? wire : Buffer.from(wire, 'utf8');
  const out: ParseResult[] = [];
  const drain = () => { for (;;) { const r = p.next(); if (r.kind === 'needMore') break; out.push(r); if (r.kind === 'linetoolong') break; } };
  if (byteByByte) for (let i = 0; i < buf.length; i++) { p.push(buf.subarray(i, i + 1)); drain(); }
  else { p.push(buf); drain(); }
  return out;
}

const TABLE: [string, unknown][] = [
  ['a1 NOOP\r\n', { tag: 'a1', name: 'NOOP', uid: false, args: [] }],
  ['a2 login bob "p w\\"x"\r\n', { tag: 'a2', name: 'LOGIN', uid: false, args: [{ t: 'atom', v: 'bob' }, { t: 'string', v: 'p w"x', literal: false }] }],
  ['a3 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.100>)\r\n',
    { tag: 'a3', name: 'FETCH', uid: true, args: [{ t: 'atom', v: '1:*' }, { t: 'list', v: [{ t: 'atom', v: 'FLAGS' }, { t: 'atom', v: 'BODY.PEEK[HEADER.FIELDS (From To)]<0.100>' }] }] }],
  ['a4 LIST "" %\r\n', { tag: 'a4', name: 'LIST', uid: false, args: [{ t: 'string', v: '', literal: false }, { t: 'atom', v: '%' }] }],
  ['a5 STORE 1 +FLAGS (\\Seen)\r\n', { tag: 'a5', name: 'STORE', uid: false, args: [{ t: 'atom', v: '1' }, { t: 'atom', v: '+FLAGS' }, { t: 'list', v: [{ t: 'atom', v: '\\Seen' }] }] }],
  ['a6 ID NIL\r\n', { tag: 'a6', name: 'ID', uid: false, args: [{ t: 'nil' }] }],
  ['a7 APPEND INBOX {3+}\r\nabc\r\n', { tag: 'a7', name: 'APPEND', uid: false, args: [{ t: 'atom', v: 'INBOX' }, { t: 'string', v: 'abc', literal: true }] }],
];

function simplify(r: ParseResult): unknown {
  if (r.kind !== 'command') return r;
  return { ...r.cmd, args: r.cmd.args.map(function strip(t): unknown { return t.t === 'string' ? { t: 'string', v: t.v, literal: t.literal } : t.t === 'list' ? { t: 'list', v: t.v.map(strip) } : t; }) };
}

test('parser: wire text -> command, whole and one byte at a time', () => {
  for (const [wire, want] of TABLE) {
    for (const bb of [false, true]) {
      const res = parseAll(wire, bb).filter((r) => r.kind !== 'continue');
      assert.equal(res.length, 1, wire);
      assert.deepEqual(simplify(res[0]), want, `${wire} (byte by byte: ${bb})`);
    }
  }
});

test('parser: a synchronizing literal asks for continuation, then reads exact bytes', () => {
  const res = parseAll('x LOGIN {3}\r\nbob {2}\r\npw\r\n');
  assert.deepEqual(res.map((r) => r.kind), ['continue', 'continue', 'command']);
  const c = res[2].kind === 'command' ? res[2].cmd : null;
  assert.equal(c?.args.length, 2);
  assert.deepEqual(c?.args.map((a) => (a.t === 'string' ? a.v : null)), ['bob', 'pw']);
});

test('parser: literal limits are checked before reading', () => {
  const r1 = parseAll('x LOGIN {999999}\r\n', false, { maxLiteral: 1000 });
  assert.deepEqual(r1, [{ kind: 'toobig', tag: 'x', size: 999999, sync: true }]);
  const r2 = parseAll('y APPEND INBOX {5000+}\r\n', false, { maxAppendLiteral: 4000 });
  assert.deepEqual(r2, [{ kind: 'toobig', tag: 'y', size: 5000, sync: false }]);
  const r3 = parseAll('z NOOP' + 'x'.repeat(2000), false, { maxLine: 1000 });
  assert.deepEqual(r3, [{ kind: 'linetoolong' }]);
});

test('parser: bad syntax is reported with the tag, and the stream goes on', () => {
  const res = parseAll('b1 LOGIN "unterminated\r\nb2 NOOP\r\n(( x\r\nb3 FETCH 1 (FLAGS\r\n');
  assert.deepEqual(res.map((r) => r.kind), ['bad', 'command', 'bad', 'bad']);
  assert.equal(res[0].kind === 'bad' && res[0].tag, 'b1');
  assert.equal(res[3].kind === 'bad' && res[3].tag, 'b3');
});

test('parser property: random and mutated command lines never throw', () => {
  const seeds = ['a FETCH 1:* (BODY.PEEK[1.2.HEADER.FIELDS (A B)]<0.5>)', 'b LOGIN "x\\"y" {3}', 'c SEARCH OR (FROM "a") NOT SEEN', 'd APPEND INBOX (\\Seen) "01-Jan-2020 00:00:00 +0000" {2+}', 'e LIST "" "*"'];
  const line = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a).toString('latin1')),
    fc.tuple(fc.constantFrom(...seeds), fc.nat(60), fc.string({ maxLength: 10 })).map(([s, i, ins]) => s.slice(0, i) + ins + s.slice(i)),
  );
  fc.assert(fc.property(fc.array(line, { maxLength: 8 }), fc.boolean(), (lines, bb) => {
    const wire = Buffer.from(lines.join('\r\n') + '\r\n', 'latin1');
    parseAll(wire, bb, { maxLine: 300, maxLiteral: 50 });
  }), { numRuns: 400 });
});
