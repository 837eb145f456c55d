import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dotStuff, toCrlf } from '../../src/mail/dot-stuffing.js';
import { crlfSize, DotStuffer, topOf } from '../../src/pop3/body.js';
import { Pop3Err } from '../../src/pop3/errors.js';
import { needMore, parseCommand, Pop3Parser, type Pop3Cmd } from '../../src/pop3/parser.js';

const GOOD: [string, Pop3Cmd][] = [
  ['USER bob@example.test', { verb: 'USER', name: 'bob@example.test' }],
  ['user bob', { verb: 'USER', name: 'bob' }],
  ['PASS secret with spaces', { verb: 'PASS', pass: 'secret with spaces' }],
  ['AUTH', { verb: 'AUTH', mechanism: null, initial: null }],
  ['AUTH plain', { verb: 'AUTH', mechanism: 'PLAIN', initial: null }],
  ['AUTH PLAIN AGJvYgBwdw==', { verb: 'AUTH', mechanism: 'PLAIN', initial: 'AGJvYgBwdw==' }],
  ['STLS', { verb: 'STLS' }],
  ['capa', { verb: 'CAPA' }],
  ['QUIT', { verb: 'QUIT' }],
  ['STAT', { verb: 'STAT' }],
  ['LIST', { verb: 'LIST', msg: null }],
  ['LIST 2', { verb: 'LIST', msg: 2 }],
  ['RETR 1', { verb: 'RETR', msg: 1 }],
  ['DELE 10', { verb: 'DELE', msg: 10 }],
  ['NOOP', { verb: 'NOOP' }],
  ['RSET', { verb: 'RSET' }],
  ['TOP 1 0', { verb: 'TOP', msg: 1, lines: 0 }],
  ['top 3 10', { verb: 'TOP', msg: 3, lines: 10 }],
  ['UIDL', { verb: 'UIDL', msg: null }],
  ['UIDL 7', { verb: 'UIDL', msg: 7 }],
];

const BAD: [string, string][] = [
  ['', 'unknown command'],
  ['APOP bob 1234', 'unknown command'],
  ['XYZZY', 'unknown command'],
  ['USER', 'USER needs a name'],
  ['PASS', 'PASS needs a password'],
  ['RETR', 'RETR needs a message number'],
  ['RETR x', 'invalid message number'],
  ['RETR -1', 'invalid message number'],
  ['DELE 1 2', 'DELE needs a message number'],
  ['LIST 1 2', 'LIST takes at most one argument'],
  ['TOP 1', 'TOP needs a message number and a line count'],
  ['TOP 1 x', 'invalid line count'],
  ['STAT 1', 'STAT takes no arguments'],
  ['UIDL 99999999999', 'invalid message number'],
];

test('parser: wire text -> command (table)', () => {
  for (const [wire, cmd] of GOOD) assert.deepEqual(parseCommand(wire), cmd, wire);
  for (const [wire, msg] of BAD) assert.throws(() => parseCommand(wire), (e) => e instanceof Pop3Err && e.message === msg, wire);
});

test('parser: fed one byte at a time, pipelined, CRLF or bare LF', () => {
  const p = new Pop3Parser();
  const wire = GOOD.map(([w], i) => w + (i % 3 === 0 ? '\n' : '\r\n')).join('');
  const got: Pop3Cmd[] = [];
  for (const b of Buffer.from(wire)) {
    p.push(Buffer.from([b]));
    for (let c = p.next(); c !== needMore; c = p.next()) got.push(c);
  }
  assert.deepEqual(got, GOOD.map(([, c]) => c));
  assert.equal(p.buffered, 0);
});

test('parser: all of it in one chunk gives the same commands in order', () => {
  const p = new Pop3Parser();
  p.push(Buffer.from(GOOD.map(([w]) => w + '\r\n').join('') + 'NOOP'));
  const got: Pop3Cmd[] = [];
  for (let c = p.next(); c !== needMore; c = p.next()) got.push(c);
  assert.deepEqual(got, GOOD.map(([, c]) => c));
  p.push(Buffer.from('\r\n'));
  assert.deepEqual(p.next(), { verb: 'NOOP' });
});

test('parser: a bad line is consumed and the next one still parses', () => {
  const p = new Pop3Parser();
  p.push(Buffer.from('FOO\r\nSTAT\r\n'));
  assert.throws(() => p.next(), /unknown command/);
  assert.deepEqual(p.next(), { verb: 'STAT' });
});

test('parser: line length is bounded; the overlong line is dropped, once', () => {
  const p = new Pop3Parser(100);
  p.push(Buffer.alloc(150, 'A'));
  assert.throws(() => p.next(), /line too long/);
  assert.equal(p.buffered, 0);
  p.push(Buffer.alloc(500, 'B'));
  assert.equal(p.next(), needMore); // still inside the long line: nothing buffered, no second error
  assert.equal(p.buffered, 0);
  p.push(Buffer.from('BBB\r\nNOOP\r\n'));
  assert.deepEqual(p.next(), { verb: 'NOOP' });
  // a complete overlong line in one chunk
  p.push(Buffer.from('USER ' + 'x'.repeat(200) + '\r\nQUIT\r\n'));
  assert.throws(() => p.next(), /line too long/);
  assert.deepEqual(p.next(), { verb: 'QUIT' });
});

test('parser: reset() drops what was pipelined (STLS)', () => {
  const p = new Pop3Parser();
  p.push(Buffer.from('STLS\r\nUSER evil\r\nPA'));
  assert.deepEqual(p.next(), { verb: 'STLS' });
  p.reset();
  assert.equal(p.next(), needMore);
});

// ---------------------------------------------------------------- byte-stuffing, chunk by chunk
const SAMPLES: Buffer[] = [
  Buffer.from('Subject: x\r\n\r\n.\r\n..\r\n.a\r\nb.\r\n.'),
  Buffer.from('.starts with a dot\r\nno end of line'),
  Buffer.from('bare LF\n.dot after LF\nbare CR\r.dot after CR\rend\r'),
  Buffer.from('mixed\r\n\n\r\r\n.\n\r.\r\n'),
  Buffer.from(''),
  Buffer.from('\r\n'),
  Buffer.from('.'),
];

/** What RETR must send: CRLF line ends, stuffed, ending CRLF . CRLF */
function reference(raw: Buffer): Buffer {
  const crlf = toCrlf(raw);
  const body = dotStuff(crlf);
  const tail = crlf.length === 0 || crlf.subarray(-2).equals(Buffer.from('\r\n')) ? '.\r\n' : '\r\n.\r\n';
  return Buffer.concat([body, Buffer.from(tail)]);
}

function stuffInChunks(raw: Buffer, cuts: number[]): Buffer {
  const d = new DotStuffer();
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of [...cuts, raw.length]) {
    out.push(...d.push(raw.subarray(prev, c)));
    prev = c;
  }
  out.push(d.end());
  return Buffer.concat(out);
}

test('DotStuffer: same bytes whatever the chunk boundaries', () => {
  for (const raw of SAMPLES) {
    const want = reference(raw);
    assert.deepEqual(stuffInChunks(raw, []).toString('latin1'), want.toString('latin1'));
    for (let a = 0; a <= raw.length; a++) {
      assert.equal(stuffInChunks(raw, [a]).toString('latin1'), want.toString('latin1'), `cut at ${a} of ${JSON.stringify(raw.toString())}`);
      for (let b = a; b <= raw.length; b++) assert.equal(stuffInChunks(raw, [a, b]).toString('latin1'), want.toString('latin1'));
    }
    // one byte at a time
    assert.equal(stuffInChunks(raw, [...raw.keys()].slice(1)).toString('latin1'), want.toString('latin1'));
  }
});

test('DotStuffer: random messages, random chunking', () => {
  const alphabet = Buffer.from('ab.\r\n');
  for (let round = 0; round < 300; round++) {
    const raw = Buffer.alloc(1 + Math.floor(Math.random() * 60));
    for (let i = 0; i < raw.length; i++) raw[i] = alphabet[Math.floor(Math.random() * alphabet.length)];
    const cuts = [...raw.keys()].filter(() => Math.random() < 0.2);
    assert.equal(stuffInChunks(raw, cuts).toString('latin1'), reference(raw).toString('latin1'), JSON.stringify(raw.toString()));
  }
});

test('crlfSize: the octets once every line end is CRLF', () => {
  for (const raw of SAMPLES) assert.equal(crlfSize(raw), toCrlf(raw).length, JSON.stringify(raw.toString()));
});

test('topOf: header, blank line, n body lines', () => {
  const msg = Buffer.from('A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\nl3\r\n');
  assert.equal(topOf(msg, 0).toString(), 'A: 1\r\nB: 2\r\n\r\n');
  assert.equal(topOf(msg, 2).toString(), 'A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n');
  assert.equal(topOf(msg, 99).toString(), msg.toString());
  assert.equal(topOf(Buffer.from('A: 1\nB: 2\n\nl1\nl2\n'), 1).toString(), 'A: 1\r\nB: 2\r\n\r\nl1\r\n');
  assert.equal(topOf(Buffer.from('\r\nbody\r\n'), 0).toString(), '\r\n');
});

test('the command table: which verb runs in which state', async () => {
  const { COMMANDS } = await import('../../src/pop3/commands/index.js');
  const by = (state: string) => Object.entries(COMMANDS).filter(([, c]) => (c.states as string[]).includes(state)).map(([v]) => v).sort();
  assert.deepEqual(by('authorization'), ['AUTH', 'CAPA', 'PASS', 'QUIT', 'STLS', 'USER']);
  assert.deepEqual(by('transaction'), ['CAPA', 'DELE', 'LIST', 'NOOP', 'QUIT', 'RETR', 'RSET', 'STAT', 'TOP', 'UIDL']);
  assert.deepEqual(by('update'), []);
});
