// Findings of the fuzz properties, each as a plain test with its minimal failing input.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../helpers/lab.js';
import { TokenReader as ImapParser } from '../../src/imap/parser.js';
import { Pop3Err } from '../../src/pop3/errors.js';
import { needMore, parseCommand, Pop3Parser } from '../../src/pop3/parser.js';

test('fuzz finding: an IMAP line starting with NUL is answered "* BAD", never with the NUL echoed as tag', () => {
  const p = new ImapParser();
  p.push(Buffer.from('\x00a1 CAPABILITY\r\n\x01\r\n\xff\xfeb2 X\r\n', 'latin1'));
  for (let i = 0; i < 3; i++) {
    const r = p.next();
    assert.equal(r.kind, 'bad');
    assert.equal(r.kind === 'bad' && r.tag, null);
  }
});

test('fuzz finding: the POP3 line limit does not depend on how the bytes are chunked', () => {
  // 65 octets and a bare LF, max 64: one chunk or two, it is "line too long" both ways
  const line = Buffer.from('NOOP ' + 'x'.repeat(60) + '\nSTAT\r\n');
  for (const cut of [line.length, 65, 30]) {
    const p = new Pop3Parser(64);
    const seen: string[] = [];
    for (const c of [line.subarray(0, cut), line.subarray(cut)]) {
      p.push(c);
      for (;;) {
        try { const r = p.next(); if (r === needMore) break; seen.push(r.verb); } catch (err) { assert.ok(err instanceof Pop3Err); seen.push(err.message); }
      }
    }
    assert.deepEqual(seen, ['line too long', 'STAT'], `cut at ${cut}`);
  }
  // exactly 64 octets with CRLF is fine, even with CR and LF in different chunks
  const ok = Buffer.from('USER ' + 'x'.repeat(59) + '\r\n');
  const p = new Pop3Parser(64);
  p.push(ok.subarray(0, ok.length - 1));
  assert.equal(p.next(), needMore);
  p.push(ok.subarray(ok.length - 1));
  assert.deepEqual(p.next(), { verb: 'USER', name: 'x'.repeat(59) });
});

test('fuzz finding: POP3 "AUTH  1" (empty mechanism) is an error, not the mechanism list', () => {
  assert.throws(() => parseCommand('AUTH  1'), Pop3Err);
  assert.throws(() => parseCommand('AUTH  '), Pop3Err);
  assert.deepEqual(parseCommand('AUTH'), { verb: 'AUTH', mechanism: null, initial: null });
  assert.deepEqual(parseCommand('AUTH plain'), { verb: 'AUTH', mechanism: 'PLAIN', initial: null });
});

// Fuzz finding, fixed: LIST/LSUB patterns were a backtracking RegExp, so
// 'a LIST "" "*%*%*%*%*%*%*%x"' took ~10 s against "INBOX/Sent Messages" and "*a*a*a*a*a*a*b"
// against a 100-octet name ~20 s: one logged-in client froze the whole process. The matcher is
// now a table over (pattern, name) positions. Run in a child process, which a timeout can kill.
test('fuzz finding: LIST wildcard patterns match in bounded time', { timeout: 10_000 }, async () => {
  const mod = pathToFileURL(path.join(ROOT, 'dist', 'src', 'imap', 'commands', 'list.js')).href;
  const code = `const { patternMatcher } = await import(${JSON.stringify(mod)});
    if (patternMatcher('', '*%*%*%*%*%*%*%x')('INBOX/Sent Messages')) process.exit(2);
    if (patternMatcher('', '*a*a*a*a*a*a*b')('a'.repeat(100))) process.exit(2);
    if (!patternMatcher('', '*%*%*%*%*%*%*%s')('INBOX/Sent Messages')) process.exit(3);
    patternMatcher('', '*a'.repeat(5000) + 'b')('a'.repeat(1000));`;
  await new Promise<void>((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', code], { timeout: 3000 }, (err) => (err ? reject(new Error(`took over 3 s or failed: ${err.message}`)) : resolve()));
  });
});
