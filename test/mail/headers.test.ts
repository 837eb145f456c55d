// mail/headers.ts: where the header block ends (RFC 5322 §2.1), as a table, and the helpers on top.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countFields, fieldValue, hasField, headerBlock, headerEnd, headerText, unfold } from '../../src/mail/headers.js';

test('headerEnd: the first empty line, CRLF or bare LF; null without one', () => {
  const table: [string, string, [number, number] | null][] = [
    ['CRLF', 'A: 1\r\nB: 2\r\n\r\nbody\r\n', [12, 14]],
    ['bare LF', 'A: 1\nB: 2\n\nbody\n', [10, 11]],
    ['mixed: a bare LF empty line after CRLF fields', 'A: 1\r\n\nbody', [6, 7]],
    ['mixed: CRLF empty line after LF fields', 'A: 1\n\r\nbody', [5, 7]],
    ['starts with an empty line: no header fields', '\r\nbody\r\n\r\nmore', [0, 2]],
    ['starts with a bare LF', '\nbody', [0, 1]],
    ['empty body', 'A: 1\r\n\r\n', [6, 8]],
    ['a folded field is not an empty line', 'A: 1\r\n  2\r\n\r\nx', [11, 13]],
    ['a line of spaces is not empty', 'A: 1\r\n \r\nB: 2\r\n\r\nx', [15, 17]],
    ['no empty line: all header', 'A: 1\r\nB: 2\r\n', null],
    ['no line end at all', 'A: 1', null],
    ['nothing', '', null],
    ['a lone CR is not a line end', 'A: 1\r\r\nB\r\n\r\n', [10, 12]],
  ];
  for (const [name, text, want] of table) {
    const h = headerEnd(Buffer.from(text, 'latin1'));
    assert.deepEqual(h && [h.fieldsEnd, h.bodyStart], want, name);
  }
});

test('headerEnd looks no further than its limit; headerBlock and headerText then give the bounded prefix', () => {
  const raw = Buffer.from(`A: ${'x'.repeat(100)}\r\n\r\nbody`);
  assert.equal(headerEnd(raw, 50), null);
  assert.deepEqual(headerEnd(raw, 200), { fieldsEnd: 105, bodyStart: 107 });
  assert.equal(headerBlock(raw, 50).length, 50);
  assert.equal(headerBlock(raw).toString(), `A: ${'x'.repeat(100)}\r\n\r\n`);
  assert.equal(headerText(raw), `A: ${'x'.repeat(100)}\r\n`);
  assert.equal(headerBlock(Buffer.from('no end')).toString(), 'no end');
});

test('fields: hasField, fieldValue (unfolded), countFields; only the header block is read', () => {
  const raw = Buffer.from('Received: from a\r\n\tby b\r\nreceived: from c\r\nSubject: one\r\n two\r\nX-Empty:\r\n\r\nReceived: in the body\r\nDate: not a header\r\n');
  assert.equal(countFields(raw, 'Received'), 2);
  assert.equal(hasField(raw, 'subject'), true);
  assert.equal(hasField(raw, 'date'), false, 'a Date: line in the body is no field');
  assert.equal(hasField(raw, 'x-empty'), true);
  assert.equal(fieldValue(raw, 'SUBJECT'), 'one two');
  assert.equal(fieldValue(raw, 'received'), 'from a\tby b', 'the first of several');
  assert.equal(fieldValue(raw, 'x-empty'), '');
  assert.equal(fieldValue(raw, 'date'), null);
  assert.equal(unfold('A: 1\r\n 2\n\t3\r\nB: 4'), 'A: 1 2\t3\r\nB: 4');
});
