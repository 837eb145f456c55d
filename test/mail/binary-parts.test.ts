// mail/binary-parts.ts: binary parts of a literal8 APPEND (RFC 3516 §4.3) stored as base64, the
// rest of the message byte for byte; the parser then finds the same structure and BINARY[]
// (render.ts binaryBytes) gives back the original octets.
import assert from 'node:assert/strict';
import test from 'node:test';
import { encodeBinaryParts } from '../../src/mail/binary-parts.js';
import { parseMime } from '../../src/mail/mime.js';
import { binaryBytes } from '../../src/imap/render.js';

const crlf = (s: string) => Buffer.from(s.replace(/\n/g, '\r\n'), 'latin1');

test('a single-part binary message: CTE becomes base64, BINARY[1] is the original bytes', () => {
  const body = Buffer.from([0x00, 0x2d, 0xe4, 0x0a, 0x0d, 0x0a, 0x0a]);
  const raw = Buffer.concat([crlf('From: a@b.c\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: binary\n\n'), body]);
  const out = encodeBinaryParts(raw)!;
  assert.ok(out);
  assert.ok(!out.includes(0), 'no NUL left');
  const text = out.toString('latin1');
  assert.match(text, /^From: a@b\.c\r\nContent-Type: application\/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAC3kCg0KCg==\r\n$/);
  const tree = parseMime(out);
  assert.equal(tree.root.encoding, 'base64');
  assert.deepEqual(binaryBytes(out, tree, [1]), body);
});

test('a multipart message: only the binary leaf changes; preamble, other parts, delimiters and epilogue stay', () => {
  const bin = Buffer.alloc(200, 0x00);
  for (let i = 0; i < bin.length; i++) bin[i] = i;
  const head = crlf('From: a@b.c\nContent-Type: multipart/mixed; boundary="xx"\n\npreamble\n--xx\nContent-Type: text/plain\n\nhello\n--xx\nContent-Type: image/png\nContent-Transfer-Encoding: binary\nContent-Disposition: attachment;\n filename="a.png"\n\n');
  const tail = crlf('\n--xx--\nepilogue\n');
  const raw = Buffer.concat([head, bin, tail]);
  const out = encodeBinaryParts(raw)!;
  const text = out.toString('latin1');
  assert.ok(text.startsWith(head.toString('latin1').split('Content-Type: image/png')[0]), 'everything before the binary part is kept');
  assert.ok(text.endsWith(tail.toString('latin1')), 'delimiter and epilogue kept');
  assert.match(text, /Content-Type: image\/png\r\nContent-Disposition: attachment;\r\n filename="a.png"\r\nContent-Transfer-Encoding: base64\r\n\r\n/);
  assert.ok(text.split('\r\n').every((l) => l.length <= 998));
  const tree = parseMime(out);
  assert.equal(tree.root.parts?.length, 2);
  assert.deepEqual(binaryBytes(out, tree, [2]), bin);
  assert.deepEqual(binaryBytes(out, tree, [1]), crlf('hello'));
});

test('nothing binary: null (the message is stored as it came)', () => {
  assert.equal(encodeBinaryParts(crlf('From: a@b.c\n\nplain text\n')), null);
  assert.equal(encodeBinaryParts(crlf('From: a@b.c\nContent-Transfer-Encoding: base64\n\nAAAA\n')), null);
});
