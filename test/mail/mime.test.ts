import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  parseMime, parseHeaderBlock, findSection, decodeMimeWords,
  type MimePart, type MimeTree,
} from '../../src/mail/mime.js';

const crlf = (lines: string[]) => lines.join('\r\n');
const body = (raw: Buffer, p: MimePart) => raw.subarray(p.bodyStart, p.bodyEnd).toString('utf8');
const header = (raw: Buffer, p: MimePart) => raw.subarray(p.headerStart, p.bodyStart).toString('utf8');

/** Every part of the tree, embedded messages included (iterative, like the parser). */
function allParts(tree: MimeTree): MimePart[] {
  const out: MimePart[] = [];
  const stack: MimePart[] = [tree.root];
  while (stack.length) {
    const p = stack.pop()!;
    out.push(p);
    if (p.parts) for (const c of p.parts) stack.push(c);
    if (p.message) stack.push(p.message.root);
  }
  return out;
}

/** Structural invariants that must hold for any input. */
function checkInvariants(raw: Buffer, tree: MimeTree): void {
  const parts = allParts(tree);
  assert.equal(parts.length, tree.partCount);
  for (const p of parts) {
    assert.ok(p.headerStart >= 0 && p.headerStart <= raw.length, 'headerStart in range');
    assert.ok(p.bodyStart >= p.headerStart && p.bodyStart <= raw.length, 'bodyStart in range');
    assert.ok(p.bodyEnd >= p.bodyStart && p.bodyEnd <= raw.length, 'bodyEnd in range');
    assert.equal(p.size, p.bodyEnd - p.bodyStart);
    assert.ok(p.lines >= 0 && p.lines <= p.size);
    assert.equal(typeof p.type, 'string');
    assert.equal(typeof p.subtype, 'string');
    for (const c of p.parts ?? []) {
      assert.ok(c.headerStart >= p.bodyStart && c.bodyEnd <= p.bodyEnd, 'child inside parent body');
    }
    if (p.message) {
      assert.equal(p.message.root.headerStart, p.bodyStart);
      assert.equal(p.message.root.bodyEnd, p.bodyEnd);
    }
  }
  assertPlainJson(tree);
}

/**
 * Plain JSON data only (no Buffers, Maps, class instances, undefined, NaN), checked iteratively
 * (assert.deepEqual recurses, and trees here can be thousands of levels deep), then a round trip.
 */
function assertPlainJson(value: unknown): void {
  const stack: unknown[] = [value];
  while (stack.length) {
    const v = stack.pop();
    if (v === null || typeof v === 'string' || typeof v === 'boolean') continue;
    if (typeof v === 'number') { assert.ok(Number.isFinite(v)); continue; }
    assert.equal(typeof v, 'object', 'only JSON types');
    if (Array.isArray(v)) {
      assert.equal(Object.getPrototypeOf(v), Array.prototype);
      for (const x of v) stack.push(x);
    } else {
      assert.equal(Object.getPrototypeOf(v), Object.prototype, 'plain objects only');
      for (const x of Object.values(v as object)) stack.push(x);
    }
  }
  const json = JSON.stringify(value);
  assert.equal(JSON.stringify(JSON.parse(json)), json);
}

// ---------------------------------------------------------------------------------------------

test('simple text/plain with CRLF', () => {
  const text = 'Hello Bob,\r\nHow are you?\r\n';
  const raw = Buffer.from(crlf([
    'Return-Path: <alice@example.com>',
    'From: "Alice Example" <alice@example.com>',
    'To: bob@example.org',
    'Subject: Hello',
    'Date: Mon, 1 Jan 2024 10:00:00 +0000',
    'Message-ID: <1@example.com>',
    '',
    '',
  ]) + text);
  const tree = parseMime(raw);
  const r = tree.root;
  assert.equal(r.type, 'text');
  assert.equal(r.subtype, 'plain');
  assert.deepEqual(r.params, [['charset', 'us-ascii']]); // RFC 2045 §5.2 default
  assert.equal(r.encoding, '7bit');
  assert.equal(r.headerStart, 0);
  assert.equal(r.bodyStart, raw.indexOf('\r\n\r\n') + 4);
  assert.equal(r.bodyEnd, raw.length);
  assert.equal(body(raw, r), text);
  assert.equal(r.size, Buffer.byteLength(text));
  assert.equal(r.lines, 2);
  assert.equal(r.parts, undefined);
  assert.equal(tree.headerCount, 6);
  assert.equal(tree.partCount, 1);
  assert.equal(tree.truncated, false);
  assert.equal(tree.envelope.subject, 'Hello');
  assert.equal(tree.envelope.date, 'Mon, 1 Jan 2024 10:00:00 +0000');
  assert.equal(tree.envelope.messageId, '<1@example.com>');
  assert.equal(tree.envelope.inReplyTo, null);
  assert.deepEqual(tree.envelope.from, [{ name: 'Alice Example', adl: null, mailbox: 'alice', host: 'example.com' }]);
  assert.deepEqual(tree.envelope.sender, tree.envelope.from);
  assert.deepEqual(tree.envelope.replyTo, tree.envelope.from);
  assert.deepEqual(tree.envelope.to, [{ name: null, adl: null, mailbox: 'bob', host: 'example.org' }]);
  assert.equal(tree.envelope.cc, null);
  assert.equal(tree.envelope.bcc, null);
  // sections: [] is the message, [1] its only body, nothing past it
  assert.equal(findSection(tree, []), r);
  assert.equal(findSection(tree, [1]), r);
  assert.equal(findSection(tree, [2]), null);
  assert.equal(findSection(tree, [1, 1]), null);
  assert.equal(findSection(tree, [0]), null);
  checkInvariants(raw, tree);
});

test('simple text/plain with bare LF, body without final newline', () => {
  const raw = Buffer.from('From: a@b.example\nSubject: LF only\nContent-Type: text/plain; charset=UTF-8; format=flowed\n\nline one\nline two\nno newline');
  const tree = parseMime(raw);
  const r = tree.root;
  assert.deepEqual(r.params, [['charset', 'UTF-8'], ['format', 'flowed']]);
  assert.equal(r.bodyStart, raw.indexOf('\n\n') + 2);
  assert.equal(body(raw, r), 'line one\nline two\nno newline');
  assert.equal(r.lines, 2, 'LFs are counted, as Dovecot does');
  assert.equal(tree.envelope.subject, 'LF only');
  assert.equal(tree.envelope.date, null);
  checkInvariants(raw, tree);
});

test('header only (no blank line) and empty input', () => {
  const raw = Buffer.from('Subject: only a header\r\nFrom: x@y.example\r\n');
  const tree = parseMime(raw);
  assert.equal(tree.root.bodyStart, raw.length);
  assert.equal(tree.root.size, 0);
  assert.equal(tree.root.lines, 0);
  assert.equal(tree.envelope.subject, 'only a header');
  checkInvariants(raw, tree);

  const empty = parseMime(Buffer.alloc(0));
  assert.equal(empty.root.size, 0);
  assert.equal(empty.envelope.from, null);
  checkInvariants(Buffer.alloc(0), empty);
});

// A realistic multipart/mixed message:
//   1 text/plain, 2 multipart/alternative (2.1 text/plain, 2.2 text/html), 3 image/png,
//   4 message/rfc822 (4.1 text/plain, 4.2 multipart/alternative: 4.2.1, 4.2.2)
const PNG_B64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
const FORWARDED = crlf([
  'From: Carol <carol@example.net>',
  'To: Alice <alice@example.com>',
  'Subject: Original',
  'Date: Sun, 31 Dec 2023 09:00:00 -0500',
  'Message-ID: <orig@example.net>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="fwd-b"',
  '',
  '--fwd-b',
  'Content-Type: text/plain; charset=us-ascii',
  '',
  'forwarded first part',
  '--fwd-b',
  'Content-Type: multipart/alternative; boundary=fwd-alt',
  '',
  '--fwd-alt',
  'Content-Type: text/plain',
  '',
  'forwarded plain',
  '--fwd-alt',
  'Content-Type: text/html',
  '',
  '<b>forwarded html</b>',
  '--fwd-alt--',
  '--fwd-b--',
  '',
]);
const MULTI = Buffer.from(crlf([
  'From: Alice <alice@example.com>',
  'To: Bob <bob@example.org>',
  'Subject: =?UTF-8?B?5L2g5aW9?= with parts',
  'Date: Tue, 2 Jan 2024 12:34:56 +0100',
  'Message-ID: <multi@example.com>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed;',
  '\tboundary="----=_Part_0_123.456"',
  '',
  'This is a multi-part message in MIME format.',
  '',
  '------=_Part_0_123.456',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: 8bit',
  '',
  'Hi Bob, here is the picture. 你好',
  '',
  '------=_Part_0_123.456',
  'Content-Type: multipart/alternative; boundary=alt',
  '',
  '--alt',
  'Content-Type: text/plain; charset="utf-8"',
  '',
  'plain alternative',
  '--alt',
  'Content-Type: text/html; charset="utf-8"',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  '<p>html alternative</p>',
  '--alt--',
  '',
  '------=_Part_0_123.456',
  'Content-Type: image/png; name*=UTF-8\'\'%E4%B8%AD%E6%96%87.png',
  'Content-Transfer-Encoding: base64',
  'Content-Disposition: attachment;',
  ' filename*=UTF-8\'\'%E4%B8%AD%E6%96%87.png; size=70',
  'Content-ID: <img1@example.com>',
  'Content-Description: a tiny picture',
  'Content-Language: en, zh',
  'Content-Location: http://example.com/tiny.png',
  'Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==',
  '',
  PNG_B64,
  '------=_Part_0_123.456',
  'Content-Type: message/rfc822',
  'Content-Disposition: inline',
  '',
  FORWARDED,
  '------=_Part_0_123.456--',
  'epilogue is ignored',
  '',
]));

test('multipart/mixed: types, params, offsets, lines', () => {
  const raw = MULTI;
  const tree = parseMime(raw);
  checkInvariants(raw, tree);
  assert.equal(tree.truncated, false);
  const r = tree.root;
  assert.equal(r.type, 'multipart');
  assert.equal(r.subtype, 'mixed');
  assert.deepEqual(r.params, [['boundary', '----=_Part_0_123.456']]);
  assert.equal(r.parts?.length, 4);
  assert.equal(tree.envelope.subject, '=?UTF-8?B?5L2g5aW9?= with parts'); // raw, not decoded
  assert.equal(decodeMimeWords(tree.envelope.subject!), '你好 with parts');

  const [t1, alt, png, msg] = r.parts!;
  // 1: text/plain; the CRLF before the next delimiter is not part of the body
  assert.equal(t1.type, 'text');
  assert.deepEqual(t1.params, [['charset', 'utf-8']]);
  assert.equal(t1.encoding, '8bit');
  assert.equal(body(raw, t1), 'Hi Bob, here is the picture. 你好\r\n');
  assert.equal(t1.size, Buffer.byteLength('Hi Bob, here is the picture. 你好\r\n'));
  assert.equal(t1.lines, 1);
  assert.equal(header(raw, t1), 'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n');

  // 2: multipart/alternative
  assert.equal(alt.subtype, 'alternative');
  assert.equal(alt.parts?.length, 2);
  const [plain, html] = alt.parts!;
  assert.equal(body(raw, plain), 'plain alternative');
  assert.equal(plain.lines, 0, '"plain alternative" has no LF: 0 lines, as Dovecot reports');
  assert.equal(html.subtype, 'html');
  assert.equal(html.encoding, 'quoted-printable');
  assert.equal(body(raw, html), '<p>html alternative</p>');
  assert.ok(body(raw, alt).startsWith('--alt\r\n') && body(raw, alt).endsWith('--alt--\r\n'));

  // 3: the PNG with RFC 2231 parameters
  assert.equal(png.type, 'image');
  assert.equal(png.subtype, 'png');
  assert.deepEqual(png.params, [['name', '中文.png']]);
  assert.equal(png.encoding, 'base64');
  assert.deepEqual(png.disposition, { type: 'attachment', params: [['filename', '中文.png'], ['size', '70']] });
  assert.equal(png.id, '<img1@example.com>');
  assert.equal(png.description, 'a tiny picture');
  assert.deepEqual(png.language, ['en', 'zh']);
  assert.equal(png.location, 'http://example.com/tiny.png');
  assert.equal(png.md5, 'Q2hlY2sgSW50ZWdyaXR5IQ==');
  assert.equal(body(raw, png), PNG_B64);
  assert.equal(png.lines, PNG_B64.split('\n').length - 1);
  const decoded = Buffer.from(body(raw, png), 'base64');
  assert.deepEqual([...decoded.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"

  // 4: message/rfc822 parsed in place, absolute offsets into the same buffer
  assert.equal(msg.type, 'message');
  assert.equal(msg.subtype, 'rfc822');
  assert.deepEqual(msg.params, []);
  assert.deepEqual(msg.disposition, { type: 'inline', params: [] });
  assert.equal(body(raw, msg), FORWARDED);
  assert.equal(msg.lines, FORWARDED.split('\n').length - 1);
  assert.ok(msg.message);
  const inner = msg.message!;
  assert.equal(inner.envelope.subject, 'Original');
  assert.equal(inner.envelope.messageId, '<orig@example.net>');
  assert.deepEqual(inner.envelope.from, [{ name: 'Carol', adl: null, mailbox: 'carol', host: 'example.net' }]);
  assert.equal(inner.root.headerStart, msg.bodyStart);
  assert.equal(inner.root.subtype, 'mixed');
  assert.equal(inner.root.parts?.length, 2);
  assert.equal(body(raw, inner.root.parts![0]), 'forwarded first part');

  assert.equal(tree.partCount, 1 + 4 + 2 + 1 + 2 + 2);
});

test('findSection follows RFC 3501 §6.4.5 numbering', () => {
  const raw = MULTI;
  const tree = parseMime(raw);
  const sec = (...p: number[]) => findSection(tree, p);
  assert.equal(sec(), tree.root);
  assert.equal(body(raw, sec(1)!), 'Hi Bob, here is the picture. 你好\r\n');
  assert.equal(sec(2)!.subtype, 'alternative');
  assert.equal(body(raw, sec(2, 1)!), 'plain alternative');
  assert.equal(body(raw, sec(2, 2)!), '<p>html alternative</p>');
  assert.equal(sec(2, 3), null);
  assert.equal(sec(3)!.subtype, 'png');
  assert.equal(body(raw, sec(3)!), PNG_B64);
  assert.equal(sec(3, 1), null); // a leaf has no sub-parts
  assert.equal(sec(4)!.subtype, 'rfc822');
  // inside the attached message: its parts are numbered 4.1, 4.2, 4.2.1 ...
  assert.equal(body(raw, sec(4, 1)!), 'forwarded first part');
  assert.equal(sec(4, 2)!.subtype, 'alternative');
  assert.equal(body(raw, sec(4, 2, 1)!), 'forwarded plain');
  assert.equal(body(raw, sec(4, 2, 2)!), '<b>forwarded html</b>');
  assert.equal(sec(4, 3), null);
  assert.equal(sec(5), null);
  assert.equal(sec(-1), null);
  assert.equal(sec(1.5), null);
});

test('a message/rfc822 attachment: its section 2.1 and a non-multipart embedded message', () => {
  const raw = Buffer.from(crlf([
    'From: a@example.com',
    'Content-Type: multipart/mixed; boundary=X',
    '',
    '--X',
    '',
    'body text without headers',
    '--X',
    'Content-Type: message/rfc822',
    '',
    'Subject: inner',
    'Content-Type: multipart/mixed; boundary=Y',
    '',
    '--Y',
    'Content-Type: text/plain',
    '',
    'inner one',
    '--Y',
    'Content-Type: multipart/related; boundary=Z',
    '',
    '--Z',
    'Content-Type: text/html',
    '',
    '<i>inner two-one</i>',
    '--Z--',
    '--Y--',
    '--X',
    'Content-Type: message/rfc822',
    '',
    'Subject: simple',
    '',
    'just text',
    '--X--',
  ]));
  const tree = parseMime(raw);
  checkInvariants(raw, tree);
  const p1 = findSection(tree, [1])!;
  assert.equal(p1.headerStart, p1.bodyStart - 2); // empty header block
  assert.deepEqual(p1.params, [['charset', 'us-ascii']]);
  assert.equal(body(raw, p1), 'body text without headers');
  assert.equal(body(raw, findSection(tree, [2, 1])!), 'inner one');
  assert.equal(findSection(tree, [2, 2])!.subtype, 'related');
  assert.equal(body(raw, findSection(tree, [2, 2, 1])!), '<i>inner two-one</i>');
  // a non-multipart embedded message: 3.1 is its body
  const m3 = findSection(tree, [3])!;
  assert.equal(m3.message?.envelope.subject, 'simple');
  assert.equal(findSection(tree, [3, 1]), m3.message?.root);
  assert.equal(body(raw, findSection(tree, [3, 1])!), 'just text');
  assert.equal(findSection(tree, [3, 2]), null);
});

test('RFC 2231 continuations, charsets and duplicates', () => {
  const raw = Buffer.from(crlf([
    'Content-Type: application/octet-stream;',
    ' name*0*=UTF-8\'zh\'%E4%B8%AD; name*2=".png"; name*1*=%E6%96%87;',
    ' title*=iso-8859-1\'en\'caf%E9; Charset="x"; charset=y; (comment) format = fixed (a comment)',
    'Content-Disposition: ATTACHMENT; filename="plain.bin"; filename*=utf-8\'\'%F0%9F%93%8E.bin',
    '',
    'data',
  ]));
  const r = parseMime(raw).root;
  assert.equal(r.type, 'application');
  assert.deepEqual(r.params, [['name', '中文.png'], ['title', 'café'], ['charset', 'x'], ['format', 'fixed']]);
  assert.deepEqual(r.disposition, { type: 'attachment', params: [['filename', '📎.bin']] });
});

test('envelope: groups, quoted names, comments, folding, defaults', () => {
  const raw = Buffer.from(crlf([
    'From: "Doe, John" <john@example.com>',
    'Sender: secretary@example.com',
    'Reply-To: =?UTF-8?Q?J=C3=B6rg?= <joerg@example.de>',
    'To: undisclosed-recipients:;',
    'Cc: Friends: "Mary Q. Smith" <mary@x.test>, jdoe@example.org;,',
    '  Pete <pete(his account)@silly.test>, John Q. Public <@relay.test:jqp@public.test>',
    'Bcc: someone@example.com (Some One), "quoted local"@example.com, nodomain',
    'Subject: a folded',
    '\tsubject line',
    'In-Reply-To: <abc@example.com>',
    'Message-ID: <def@example.com>',
    'Date: Wed, 3 Jan 2024 08:00:00 +0000',
    '',
    'body',
  ]));
  const env = parseMime(raw).envelope;
  assert.equal(env.subject, 'a folded\tsubject line');
  assert.equal(env.inReplyTo, '<abc@example.com>');
  assert.equal(env.messageId, '<def@example.com>');
  assert.deepEqual(env.from, [{ name: 'Doe, John', adl: null, mailbox: 'john', host: 'example.com' }]);
  assert.deepEqual(env.sender, [{ name: null, adl: null, mailbox: 'secretary', host: 'example.com' }]);
  assert.deepEqual(env.replyTo, [{ name: '=?UTF-8?Q?J=C3=B6rg?=', adl: null, mailbox: 'joerg', host: 'example.de' }]);
  assert.deepEqual(env.to, [
    { name: null, adl: null, mailbox: 'undisclosed-recipients', host: null },
    { name: null, adl: null, mailbox: null, host: null },
  ]);
  assert.deepEqual(env.cc, [
    { name: null, adl: null, mailbox: 'Friends', host: null },
    { name: 'Mary Q. Smith', adl: null, mailbox: 'mary', host: 'x.test' },
    { name: null, adl: null, mailbox: 'jdoe', host: 'example.org' },
    { name: null, adl: null, mailbox: null, host: null },
    { name: 'Pete', adl: null, mailbox: 'pete', host: 'silly.test' },
    // RFC 3501 §7.4.2: the obsolete source route is the address's at-domain-list
    { name: 'John Q. Public', adl: '@relay.test', mailbox: 'jqp', host: 'public.test' },
  ]);
  assert.deepEqual(env.bcc, [
    { name: 'Some One', adl: null, mailbox: 'someone', host: 'example.com' },
    { name: null, adl: null, mailbox: '"quoted local"', host: 'example.com' },
    { name: null, adl: null, mailbox: 'nodomain', host: '' },
  ]);

  // absent Sender/Reply-To (or present but empty) are filled from From (RFC 3501 §7.4.2)
  const env2 = parseMime(Buffer.from('From: Ann <ann@a.example>\nReply-To:\nTo:\n\nx')).envelope;
  assert.deepEqual(env2.sender, env2.from);
  assert.deepEqual(env2.replyTo, env2.from);
  assert.equal(env2.to, null);
  assert.equal(env2.subject, null);
  // UTF-8 header bytes (RFC 6532) come out as text
  const env3 = parseMime(Buffer.from('Subject: Grüße\r\nFrom: "Jörg" <j@ö.example>\r\n\r\n')).envelope;
  assert.equal(env3.subject, 'Grüße');
  assert.deepEqual(env3.from, [{ name: 'Jörg', adl: null, mailbox: 'j', host: 'ö.example' }]);
});

test('parseHeaderBlock unfolds and keeps names as written', () => {
  const raw = Buffer.from('From sender@x Mon Jan  1 00:00:00 2024\r\nX-Custom :  value\r\nSubject: one\r\n two\r\n\tthree\r\nno colon here\r\n\r\nbody: not a header\r\n');
  const end = raw.indexOf('\r\n\r\n') + 2;
  assert.deepEqual(parseHeaderBlock(raw, 0, end), [
    ['X-Custom', 'value'],
    ['Subject', 'one two\tthree'],
  ]);
  assert.deepEqual(parseHeaderBlock(raw, 0, end, 1), [['X-Custom', 'value']]);
  assert.deepEqual(parseHeaderBlock(raw, 5, 5), []);
});

test('boundaries: line start only, longer boundaries, no close delimiter, no boundary', () => {
  const raw = Buffer.from(crlf([
    'Content-Type: multipart/mixed; boundary=abc',
    '',
    '--abc',
    '',
    'text with --abc inside a line',
    '--abcdef',
    'still the first part',
    '--abc  \t',
    'Content-Type: text/plain',
    '',
    'second part, no close delimiter',
    '',
  ]));
  const tree = parseMime(raw);
  checkInvariants(raw, tree);
  const parts = tree.root.parts!;
  assert.equal(parts.length, 2);
  assert.equal(body(raw, parts[0]), 'text with --abc inside a line\r\n--abcdef\r\nstill the first part');
  assert.equal(body(raw, parts[1]), 'second part, no close delimiter\r\n');

  // multipart without a boundary parameter: one opaque body
  const nb = Buffer.from('Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\nhello\r\n--x--\r\n');
  const t2 = parseMime(nb);
  assert.equal(t2.root.type, 'multipart');
  assert.equal(t2.root.parts, undefined);
  assert.equal(body(nb, t2.root), '--x\r\n\r\nhello\r\n--x--\r\n');
  assert.equal(t2.root.lines, 4);
  assert.equal(findSection(t2, [1]), t2.root);

  // a boundary that never occurs: opaque as well
  const t3 = parseMime(Buffer.from('Content-Type: multipart/mixed; boundary=zz\r\n\r\nno parts here\r\n'));
  assert.equal(t3.root.parts, undefined);

  // empty parts and a delimiter at the very start of the body
  const ep = Buffer.from('Content-Type: multipart/mixed; boundary=q\n\n--q\n--q\n\n\n--q--\n');
  const t4 = parseMime(ep);
  checkInvariants(ep, t4);
  assert.equal(t4.root.parts!.length, 2);
  assert.equal(t4.root.parts![0].size, 0);
  assert.equal(t4.root.parts![1].size, 0);
});

test('multipart/digest children default to message/rfc822; encoded message/rfc822 stays opaque', () => {
  const raw = Buffer.from(crlf([
    'Content-Type: multipart/digest; boundary=d',
    '',
    '--d',
    '',
    'Subject: digest one',
    '',
    'one',
    '--d',
    'Content-Type: message/rfc822',
    'Content-Transfer-Encoding: base64',
    '',
    'U3ViamVjdDogeA0KDQp4',
    '--d--',
  ]));
  const tree = parseMime(raw);
  checkInvariants(raw, tree);
  const [d1, d2] = tree.root.parts!;
  assert.equal(d1.type, 'message');
  assert.equal(d1.subtype, 'rfc822');
  assert.deepEqual(d1.params, []);
  assert.equal(d1.message?.envelope.subject, 'digest one');
  assert.equal(body(raw, findSection(tree, [1, 1])!), 'one');
  assert.equal(d2.message, undefined); // RFC 2046 §5.2.1: base64 is not allowed there
});

test('1,000 nested multiparts: fast, iterative, truncated at maxDepth', () => {
  const N = 1000;
  const open: string[] = [];
  const close: string[] = [];
  for (let i = 0; i < N; i++) {
    open.push(`Content-Type: multipart/mixed; boundary="b${i}"`, '', `--b${i}`);
    close.unshift(`--b${i}--`);
  }
  const raw = Buffer.from(crlf([...open, 'Content-Type: text/plain', '', 'leaf', ...close, '']));

  let t0 = performance.now();
  const limited = parseMime(raw);
  assert.ok(performance.now() - t0 < 1000);
  assert.equal(limited.truncated, true);
  assert.equal(limited.partCount, 64); // one part per level, root included
  const deepest = findSection(limited, Array(63).fill(1))!;
  assert.equal(deepest.type, 'multipart');
  assert.equal(deepest.parts, undefined); // opaque past the limit
  assert.equal(findSection(limited, Array(64).fill(1)), null);
  checkInvariants(raw, limited);

  t0 = performance.now();
  const full = parseMime(raw, { maxDepth: 5000 });
  assert.ok(performance.now() - t0 < 1000);
  assert.equal(full.truncated, false);
  assert.equal(full.partCount, N + 1);
  const leaf = findSection(full, Array(N).fill(1))!;
  assert.equal(leaf.subtype, 'plain');
  assert.equal(body(raw, leaf), 'leaf');
  checkInvariants(raw, full);
});

test('1,000 nested message/rfc822 parts', () => {
  const N = 1000;
  let s = 'Subject: innermost\r\n\r\ncore\r\n';
  for (let i = 0; i < N; i++) s = `Subject: level ${i}\r\nContent-Type: message/rfc822\r\n\r\n` + s;
  const raw = Buffer.from(s);
  const t0 = performance.now();
  const tree = parseMime(raw, { maxDepth: 10000 });
  assert.ok(performance.now() - t0 < 1000);
  assert.equal(tree.truncated, false);
  assert.equal(tree.partCount, N + 1);
  // [1] is the root's body (the message/rfc822 root itself), each further 1 goes one level in
  const core = findSection(tree, Array(N + 1).fill(1))!;
  assert.equal(body(raw, core), 'core\r\n');
  assert.equal(core.lines, 1);
  assert.equal(parseMime(raw).truncated, true);
  checkInvariants(raw, tree);
});

test('20,000 parts: fast, truncated at maxParts', () => {
  const N = 20000;
  const lines = ['Subject: wide', 'Content-Type: multipart/mixed; boundary=w', ''];
  for (let i = 0; i < N; i++) lines.push('--w', 'Content-Type: text/plain', '', `part ${i}`);
  lines.push('--w--', '');
  const raw = Buffer.from(crlf(lines));

  let t0 = performance.now();
  const limited = parseMime(raw);
  assert.ok(performance.now() - t0 < 1000);
  assert.equal(limited.truncated, true);
  assert.equal(limited.partCount, 10000);
  assert.equal(limited.root.parts!.length, 9999);
  checkInvariants(raw, limited);

  t0 = performance.now();
  const full = parseMime(raw, { maxParts: 100000 });
  assert.ok(performance.now() - t0 < 1000);
  assert.equal(full.truncated, false);
  assert.equal(full.partCount, N + 1);
  assert.equal(full.headerCount, 2 + N);
  assert.equal(body(raw, findSection(full, [N])!), `part ${N - 1}`);
  assert.equal(body(raw, findSection(full, [1])!), 'part 0');

  const fewHeaders = parseMime(raw, { maxParts: 100000, maxHeaders: 1 });
  assert.equal(fewHeaders.truncated, true);
  assert.equal(fewHeaders.root.type, 'text'); // Content-Type was the second field
});

test('decodeMimeWords (RFC 2047)', () => {
  assert.equal(decodeMimeWords('=?UTF-8?B?5L2g5aW9?='), '你好');
  assert.equal(decodeMimeWords('=?iso-8859-1?q?caf=E9_au_lait?='), 'café au lait');
  assert.equal(decodeMimeWords('=?ISO-8859-2?Q?=A9koda?='), 'Škoda');
  assert.equal(decodeMimeWords('=?gb2312?B?1tDOxA==?='), '中文');
  assert.equal(decodeMimeWords('=?big5?B?pKSk5Q==?='), '中文');
  assert.equal(decodeMimeWords('=?GB18030?B?1tDOxA==?='), '中文');
  // whitespace between adjacent encoded words disappears (RFC 2047 §6.2); text around stays
  assert.equal(decodeMimeWords('Re: =?utf-8?q?a?= =?utf-8?q?b?=  tail'), 'Re: ab  tail');
  // a UTF-8 character split across two words
  const bytes = Buffer.from('你好');
  const split = `=?UTF-8?B?${bytes.subarray(0, 4).toString('base64')}?= =?UTF-8?B?${bytes.subarray(4).toString('base64')}?=`;
  assert.equal(decodeMimeWords(split), '你好');
  // RFC 2231 §5 language suffix
  assert.equal(decodeMimeWords('=?US-ASCII*EN?Q?Keith_Moore?='), 'Keith Moore');
  // unknown charsets and non-words are left alone
  assert.equal(decodeMimeWords('=?x-nope?Q?abc?= plain'), '=?x-nope?Q?abc?= plain');
  assert.equal(decodeMimeWords('no words =? here ?='), 'no words =? here ?=');
});

// ---------------------------------------------------------------------------------------------
// Property tests: never throw, offsets always sane

const SAMPLES = [
  MULTI,
  Buffer.from(crlf(['Content-Type: multipart/mixed; boundary=b', '', '--b', 'Content-Type: message/rfc822', '', 'Content-Type: multipart/alternative; boundary=c', '', '--c', '', 'x', '--c--', '--b--', ''])),
  Buffer.from('From: a@b\nContent-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: s\n\nbody\n--d--\n'),
];

const FRAGMENTS = [
  '\r\n', '\n', '\r', '--', '--b', '--b--', '--c', ' ', ':', ';', '"', '(', ')', '=', '*', "'", '%E4', 'x',
  'Content-Type: multipart/mixed; boundary=b\r\n', 'Content-Type: multipart/digest; boundary=c\n',
  'Content-Type: message/rfc822\r\n', 'Content-Type: text/plain; name*0*=utf-8\'\'%E4; name*1=x\r\n',
  'Content-Transfer-Encoding: base64\r\n', 'From: "a" <b@c>, g:;\r\n', 'To: <@r:x@y>, (c) z\r\n',
  '=?utf-8?B?5L2g?=', '\r\n\r\n', '\t', '\xff', '\u4e2d',
];

function checkAll(raw: Buffer): void {
  const tree = parseMime(raw, { maxDepth: 40, maxParts: 500 });
  checkInvariants(raw, tree);
  // random section paths must not throw either
  for (const path of [[], [1], [1, 1], [2, 1], [1, 2, 1], [3, 1, 1, 1]]) findSection(tree, path);
  parseHeaderBlock(raw, 0, raw.length);
}

test('property: random bytes never throw', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 3000 }), (bytes) => {
    checkAll(Buffer.from(bytes));
  }), { numRuns: 500 });
});

test('property: random MIME-ish fragments never throw', () => {
  fc.assert(fc.property(fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 200 }), (frags) => {
    checkAll(Buffer.from(frags.join('')));
  }), { numRuns: 500 });
});

test('property: mutated real messages never throw', () => {
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.constantFrom(...FRAGMENTS) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  );
  fc.assert(fc.property(fc.constantFrom(...SAMPLES), fc.array(mutation, { maxLength: 20 }), (sample, muts) => {
    let buf = Buffer.from(sample);
    for (const m of muts) {
      const at = buf.length === 0 ? 0 : m.at % (buf.length + 1);
      if (m.kind === 'flip') { if (at < buf.length) buf[at] = m.byte; }
      else if (m.kind === 'delete') buf = Buffer.concat([buf.subarray(0, at), buf.subarray(at + m.len)]);
      else if (m.kind === 'insert') buf = Buffer.concat([buf.subarray(0, at), Buffer.from(m.text, 'latin1'), buf.subarray(at)]);
      else buf = buf.subarray(0, at);
    }
    checkAll(buf);
  }), { numRuns: 1000 });
});
