// Findings of the fuzz properties, each as a plain test with its minimal failing input.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ImapParser } from '../../src/imap/parser.js';
import { Pop3Err } from '../../src/pop3/errors.js';
import { needMore, Pop3Parser } from '../../src/pop3/parser.js';

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
