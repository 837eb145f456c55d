// The IMAP wire tap alone: bytes each way -> redacted transcript lines, fed whole and one byte at
// a time (a literal or a line may be cut anywhere by TCP).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ImapTranscript } from '../../src/imap/transcript.js';
import type { Recorder } from '../../src/log/transcript.js';

function recorder(out: string[]): Recorder {
  return {
    on: true, sid: 'x',
    client: (t) => out.push(`C: ${t}`), server: (t) => out.push(`S: ${t}`), note: (t) => out.push(`note: ${t}`), tls: (t) => out.push(`TLS: ${t}`),
    user() {}, local() {}, msgId() {}, end() {},
  };
}

type Step = ['C' | 'S', string];

function run(steps: Step[], bytewise: boolean): string[] {
  const out: string[] = [];
  const tap = new ImapTranscript(recorder(out));
  for (const [dir, text] of steps) {
    const b = Buffer.from(text, 'utf8');
    const pieces = bytewise ? [...b].map((x) => Buffer.from([x])) : [b];
    for (const p of pieces) if (dir === 'C') tap.read(p); else tap.wrote(p);
  }
  return out;
}

const body = Array.from({ length: 50 }, (_, i) => `line ${i}`).join('\r\n') + '\r\n';
const message = `Subject: hi\r\nFrom: a@b.test\r\n\r\n${body}`;

const CASES: { name: string; steps: Step[]; want: string[] }[] = [
  {
    name: 'LOGIN with atoms',
    steps: [['C', 'a1 LOGIN bob@example.test s3cret\r\n'], ['S', 'a1 OK logged in\r\n']],
    want: ['C: a1 LOGIN bob@example.test ***', 'S: a1 OK logged in'],
  },
  {
    name: 'LOGIN with quoted strings (spaces, escapes)',
    steps: [['C', 'a2 login "bob@example.test" "pa ss \\" word"\r\n']],
    want: ['C: a2 login "bob@example.test" ***'],
  },
  {
    name: 'LOGIN with a quoted user and a literal password',
    steps: [['C', 'a3 LOGIN "bob" {6}\r\n'], ['S', '+ go\r\n'], ['C', 's3cret\r\n']],
    want: ['C: a3 LOGIN "bob" ***', 'S: + go', 'C: ***'],
  },
  {
    name: 'LOGIN with LITERAL+ for both',
    steps: [['C', 'a4 LOGIN {3+}\r\nbob {6+}\r\ns3cret\r\n'], ['S', 'a4 OK\r\n']],
    want: ['C: a4 LOGIN {3+}', 'C: bob', 'C:  ***', 'C: ***', 'S: a4 OK'],
  },
  {
    name: 'AUTHENTICATE with an initial response, then the next command is shown again',
    steps: [['C', 'a5 AUTHENTICATE PLAIN AGJvYgBzM2NyZXQ=\r\n'], ['S', 'a5 OK\r\n'], ['C', 'a6 NOOP\r\n']],
    want: ['C: a5 AUTHENTICATE PLAIN ***', 'S: a5 OK', 'C: a6 NOOP'],
  },
  {
    name: 'AUTHENTICATE with a continuation, cancelled by *',
    steps: [['C', 'a7 AUTHENTICATE PLAIN\r\n'], ['S', '+ \r\n'], ['C', '*\r\n'], ['S', 'a7 BAD cancelled\r\n'], ['C', 'a8 LOGOUT\r\n']],
    want: ['C: a7 AUTHENTICATE PLAIN', 'S: + ', 'C: *', 'S: a7 BAD cancelled', 'C: a8 LOGOUT'],
  },
  {
    name: 'APPEND: the message literal as header and first lines',
    steps: [['C', `a9 APPEND Sent (\\Seen) {${Buffer.byteLength(message)}}\r\n`], ['S', '+ Ready\r\n'], ['C', message + '\r\n'], ['S', 'a9 OK [APPENDUID 1 1] done\r\n']],
    want: [`C: a9 APPEND Sent (\\Seen) {${Buffer.byteLength(message)}}`, 'S: + Ready', 'C: Subject: hi', 'C: From: a@b.test', 'C: ', 'C: line 0', 'C: line 1', 'C: line 2',
      `note: <${Buffer.byteLength(body) - 24} bytes of the message elided>`, 'S: a9 OK [APPENDUID 1 1] done'],
  },
  {
    name: 'FETCH BODY[]: two lines of the literal, then the rest of the response line',
    steps: [['S', `* 1 FETCH (UID 7 BODY[] {${Buffer.byteLength(message)}}\r\n${message} FLAGS (\\Seen))\r\nb1 OK done\r\n`]],
    want: [`S: * 1 FETCH (UID 7 BODY[] {${Buffer.byteLength(message)}}`, 'S: Subject: hi', 'S: From: a@b.test',
      `note: <${Buffer.byteLength(message) - 29} bytes of the literal elided>`, 'S:  FLAGS (\\Seen))', 'S: b1 OK done'],
  },
  {
    name: 'an empty literal and a literal8',
    steps: [['S', '* 2 FETCH (BODY[1] {0}\r\n BINARY[1] ~{3}\r\nabc)\r\n']],
    want: ['S: * 2 FETCH (BODY[1] {0}', 'S:  BINARY[1] ~{3}', 'S: abc', 'S: )'],
  },
];

for (const c of CASES) {
  test(`IMAP wire tap: ${c.name}`, () => {
    assert.deepEqual(run(c.steps, false), c.want);
    assert.deepEqual(run(c.steps, true), c.want, 'fed one byte at a time');
  });
}

test('IMAP wire tap: a literal announced at the end of a line longer than what is kept is still framed', () => {
  const long = `s1 SEARCH TEXT ${'x'.repeat(6000)} BODY {5}`;
  for (const bytewise of [false, true]) {
    const out = run([['C', `${long}\r\nhello\r\n`], ['C', 's2 NOOP\r\n']], bytewise);
    assert.equal(out.length, 3, out.join('\n').slice(0, 300));
    assert.match(out[0], /^C: s1 SEARCH TEXT x+$/);
    assert.deepEqual(out.slice(1), ['C: hello', 'C: s2 NOOP']);
  }
});

test('IMAP wire tap: a refused synchronizing literal does not swallow the next command', () => {
  const out: string[] = [];
  const tap = new ImapTranscript(recorder(out));
  tap.read(Buffer.from('a1 APPEND INBOX {99999999999}\r\n'));
  tap.wrote('a1 NO [TOOBIG] literal too large\r\n');
  tap.literalRefused();
  tap.read(Buffer.from('a2 NOOP\r\n'));
  assert.deepEqual(out, ['C: a1 APPEND INBOX {99999999999}', 'S: a1 NO [TOOBIG] literal too large', 'C: a2 NOOP']);
});
