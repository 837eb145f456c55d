// Redaction and excerpts as tables: what a line becomes before it leaves the session.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clip, excerpt } from '../../src/log/transcript.js';
import { redactPop3 } from '../../src/pop3/session.js';
import { redactSmtpCommand } from '../../src/smtp/server.js';

test('SMTP: AUTH initial responses and continuation lines become ***', () => {
  const cases: [string | undefined, string, string][] = [
    ['AUTH', 'AUTH PLAIN AGJvYgBwdw==', 'AUTH PLAIN ***'],
    ['AUTH', 'auth login Ym9i', 'auth login ***'],
    ['AUTH', 'AUTH LOGIN', 'AUTH LOGIN'],
    ['AUTH', 'AUTH PLAIN', 'AUTH PLAIN'],
    ['AUTH', 'Ym9i', '***'],           // a continuation (smtp-server names it AUTH too)
    ['AUTH', '/* secured */', '***'],
    ['AUTH', '*', '***'],
    ['MAIL', 'MAIL FROM:<a@b.test>', 'MAIL FROM:<a@b.test>'],
    [undefined, 'EHLO x', 'EHLO x'],
  ];
  for (const [cmd, line, want] of cases) assert.equal(redactSmtpCommand(cmd, line), want, line);
});

test('POP3: PASS and AUTH initial responses become ***', () => {
  const cases: [string, string][] = [
    ['PASS secret with spaces', 'PASS ***'],
    ['pass x', 'pass ***'],
    ['PASS', 'PASS'],
    ['AUTH PLAIN AGJvYgBwdw==', 'AUTH PLAIN ***'],
    ['AUTH PLAIN', 'AUTH PLAIN'],
    ['AUTH', 'AUTH'],
    ['USER bob@example.test', 'USER bob@example.test'],
    ['PASSWORD x', 'PASSWORD x'],
  ];
  for (const [line, want] of cases) assert.equal(redactPop3(line), want, line);
});

test('excerpt: header lines, the blank line, the first body lines, and the bytes left out', () => {
  const raw = Buffer.from('A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\nl3\r\nl4\r\nl5\r\n');
  assert.deepEqual(excerpt(raw), { lines: ['A: 1', 'B: 2', '', 'l1', 'l2', 'l3'], elided: 8 });
  assert.deepEqual(excerpt(raw, { header: false, bodyLines: 2 }), { lines: ['A: 1', 'B: 2'], elided: raw.length - 12 });
  assert.deepEqual(excerpt(Buffer.from('no line end')), { lines: ['no line end'], elided: 0 });
  assert.deepEqual(excerpt(Buffer.from('Subject: =?utf-8?q?x?=\r\n\r\nünïcode\r\n')).lines, ['Subject: =?utf-8?q?x?=', '', 'ünïcode']);
  const many = Buffer.from(Array.from({ length: 100 }, (_, i) => `H${i}: x\r\n`).join('') + '\r\nbody\r\n');
  const ex = excerpt(many);
  assert.equal(ex.lines.length, 40);
  assert.equal(ex.elided, many.length - ex.lines.reduce((n, l) => n + l.length + 2, 0));
});

test('clip: one line, bounded', () => {
  assert.equal(clip('a\r\nb'), 'a b');
  assert.equal(clip('x'.repeat(1005)), `${'x'.repeat(1000)}… (5 more characters)`);
});
