// Fuzzing MIME structure (RFC 2045/2046) and its IMAP rendering (RFC 3501 §7.4.2): parseMime never
// throws and keeps its offsets consistent; BODYSTRUCTURE, BODY and ENVELOPE always follow the
// RFC 3501 §9 grammar (checked by an independent reader below) and agree with the tree; every
// section's bytes are where the tree says; a message built from a random tree parses back to it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { findSection, parseMime, type MimePart, type MimeTree } from '../../src/mail/mime.js';
import { bodyStructure, envelope, parseSection, sectionBytes } from '../../src/imap/render.js';
import { ImapBad } from '../../src/imap/wire.js';
import { mimeSeeds, mutated, params, testTimeout } from './common.js';

// ------------------------------------------------------------------ an independent reader of IMAP data

type Sx = { t: 'nil' } | { t: 'num'; v: number } | { t: 'str'; v: Buffer } | { t: 'list'; v: Sx[] };

/** Read one IMAP value (list, quoted, literal, NIL, number) from `b` at `pos`; strict. */
function readSx(b: Buffer): Sx {
  let pos = 0;
  const stack: Sx[][] = [];
  let result: Sx | null = null;
  // what came last: "(" opens a list, a value, or the single space between values
  const st = { prev: 'open' as 'open' | 'value' | 'space' };
  const put = (x: Sx) => { st.prev = 'value'; if (stack.length) stack[stack.length - 1].push(x); else result = x; };
  while (result === null) {
    if (pos >= b.length) throw new Error('unexpected end');
    const c = b[pos];
    if (c === 0x20) {
      assert.ok(stack.length && st.prev === 'value' && b[pos + 1] !== 0x29 && b[pos + 1] !== 0x20, `stray space at ${pos}`);
      st.prev = 'space';
      pos++;
      continue;
    }
    // values in a list are separated by one space, except that a list may follow a list directly
    // (multipart bodies: "((...)(...) "MIXED")")
    if (st.prev === 'value' && c !== 0x29 && !(c === 0x28 && b[pos - 1] === 0x29)) throw new Error(`missing space at ${pos}`);
    if (c === 0x28) { stack.push([]); st.prev = 'open'; pos++; continue; }
    if (c === 0x29) {
      const l = stack.pop();
      if (!l) throw new Error(`unbalanced ) at ${pos}`);
      pos++;
      put({ t: 'list', v: l });
      continue;
    }
    if (c === 0x22) {
      const out: number[] = [];
      pos++;
      for (;;) {
        if (pos >= b.length) throw new Error('unterminated quoted');
        const d = b[pos];
        if (d === 0x5c) { const e = b[pos + 1]; if (e !== 0x22 && e !== 0x5c) throw new Error('bad escape'); out.push(e); pos += 2; continue; }
        if (d === 0x22) { pos++; break; }
        if (d < 0x20 || d > 0x7e) throw new Error(`byte ${d} in a quoted string`);
        out.push(d);
        pos++;
      }
      put({ t: 'str', v: Buffer.from(out) });
      continue;
    }
    if (c === 0x7b) {
      const m = /^\{(\d+)\}\r\n/.exec(b.toString('latin1', pos, pos + 24));
      if (!m) throw new Error(`bad literal at ${pos}`);
      pos += m[0].length;
      const n = Number(m[1]);
      if (pos + n > b.length) throw new Error('literal past the end');
      put({ t: 'str', v: b.subarray(pos, pos + n) });
      pos += n;
      continue;
    }
    const m = /^(NIL|\d+)(?=[ )]|$)/.exec(b.toString('latin1', pos, pos + 24));
    if (!m) throw new Error(`unexpected ${JSON.stringify(b.toString('latin1', pos, pos + 10))} at ${pos}`);
    pos += m[1].length;
    put(m[1] === 'NIL' ? { t: 'nil' } : { t: 'num', v: Number(m[1]) });
  }
  if (pos !== b.length) throw new Error(`trailing bytes at ${pos}`);
  return result;
}

const isStr = (x: Sx | undefined) => x?.t === 'str';
const isNstr = (x: Sx | undefined) => x?.t === 'str' || x?.t === 'nil';
const text = (x: Sx) => (x.t === 'str' ? x.v.toString('utf8') : '');
function list(x: Sx | undefined, what: string): Sx[] {
  assert.ok(x && x.t === 'list', `${what}: expected a list`);
  return x.v;
}

function checkParams(x: Sx | undefined, what: string): void {
  if (x?.t === 'nil') return;
  const l = list(x, what);
  assert.ok(l.length >= 2 && l.length % 2 === 0 && l.every(isStr), `${what}: attribute/value strings in pairs`);
}

function checkEnvelope(x: Sx | undefined): void {
  const e = list(x, 'envelope');
  assert.equal(e.length, 10, 'envelope has 10 fields');
  assert.ok(isNstr(e[0]) && isNstr(e[1]) && isNstr(e[8]) && isNstr(e[9]), 'envelope date/subject/in-reply-to/message-id');
  for (let i = 2; i < 8; i++) {
    if (e[i].t === 'nil') continue;
    const addrs = list(e[i], 'address list');
    assert.ok(addrs.length > 0, 'empty address list must be NIL');
    for (const a of addrs) {
      const f = list(a, 'address');
      assert.equal(f.length, 4, 'address has 4 fields');
      assert.ok(f.every(isNstr), 'address fields are nstrings');
    }
  }
}

function checkExt(l: Sx[], i: number, multipart: boolean): void {
  if (multipart) checkParams(l[i], 'multipart params');
  else assert.ok(isNstr(l[i]), 'md5');
  const dsp = l[i + 1];
  if (dsp.t !== 'nil') {
    const d = list(dsp, 'disposition');
    assert.equal(d.length, 2);
    assert.ok(isStr(d[0]));
    checkParams(d[1], 'disposition params');
  }
  const lang = l[i + 2];
  if (lang.t === 'list') assert.ok(lang.v.length > 0 && lang.v.every(isStr), 'language list');
  else assert.ok(isNstr(lang), 'language');
  assert.ok(isNstr(l[i + 3]), 'location');
  assert.equal(l.length, i + 4, 'nothing after the extension data');
}

/** RFC 3501 §9 body, checked against the MIME part it was rendered from. */
function checkBody(x: Sx, p: MimePart, ext: boolean): void {
  const l = list(x, 'body');
  if (l[0]?.t === 'list') {
    let n = 0;
    while (l[n]?.t === 'list') n++;
    assert.ok(p.parts && p.parts.length === n, `multipart with ${n} bodies, tree has ${p.parts?.length}`);
    for (let i = 0; i < n; i++) checkBody(l[i], p.parts[i], ext);
    assert.ok(isStr(l[n]), 'multipart subtype');
    assert.equal(text(l[n]).toLowerCase(), p.subtype);
    if (ext) checkExt(l, n + 1, true);
    else assert.equal(l.length, n + 1);
    return;
  }
  assert.ok(isStr(l[0]) && isStr(l[1]), 'media type and subtype');
  checkParams(l[2], 'body params');
  assert.ok(isNstr(l[3]) && isNstr(l[4]) && isStr(l[5]), 'id, description, encoding');
  assert.ok(l[6]?.t === 'num' && l[6].v === p.size, `octets ${JSON.stringify(l[6])} vs ${p.size}`);
  const type = text(l[0]).toLowerCase();
  const sub = text(l[1]).toLowerCase();
  let i = 7;
  if (type === 'message' && (sub === 'rfc822' || sub === 'global')) {
    assert.ok(p.message, 'message body rendered for a parsed message only');
    checkEnvelope(l[7]);
    checkBody(l[8], p.message.root, ext);
    assert.ok(l[9]?.t === 'num' && l[9].v === p.lines, 'message lines');
    i = 10;
  } else if (type === 'text') {
    assert.ok(l[7]?.t === 'num' && l[7].v === p.lines, 'text lines');
    i = 8;
  }
  if (ext) checkExt(l, i, false);
  else assert.equal(l.length, i, 'BODY has no extension data');
}

// ------------------------------------------------------------------ the checks on any tree

/** Every part with its RFC 3501 §6.4.5 part number (the root as [] and, when not multipart, as [1]). */
function allParts(tree: MimeTree): { p: MimePart; path: number[] }[] {
  const out: { p: MimePart; path: number[] }[] = [{ p: tree.root, path: [] }];
  const stack: { p: MimePart; path: number[] }[] = [];
  if (tree.root.parts) tree.root.parts.forEach((k, i) => stack.push({ p: k, path: [i + 1] }));
  else stack.push({ p: tree.root, path: [1] });
  while (stack.length) {
    const f = stack.pop()!;
    out.push(f);
    const inner = f.p.message?.root;
    const kids = f.p.parts ?? inner?.parts ?? null;
    if (kids) kids.forEach((k, i) => stack.push({ p: k, path: [...f.path, i + 1] }));
    else if (inner) stack.push({ p: inner, path: [...f.path, 1] });
  }
  return out;
}

function checkTree(raw: Buffer, tree: MimeTree): void {
  for (const p of allParts(tree).map((x) => x.p)) {
    assert.ok(p.headerStart >= 0 && p.headerStart <= p.bodyStart && p.bodyStart <= p.bodyEnd && p.bodyEnd <= raw.length, 'offsets in order');
    assert.equal(p.size, p.bodyEnd - p.bodyStart);
  }
  assert.deepEqual(JSON.parse(JSON.stringify(tree)), tree, 'plain JSON');
  for (const ext of [true, false]) checkBody(readSx(Buffer.from(bodyStructure(tree.root, ext), 'utf8')), tree.root, ext);
  checkEnvelope(readSx(Buffer.from(envelope(tree.envelope), 'utf8')));
  // BODY[path] is the part's body; MIME and HEADER sections come out without throwing
  for (const { p, path } of allParts(tree).slice(0, 50)) {
    if (!path.length) continue;
    const found = findSection(tree, path);
    assert.ok(found === p, `section ${path.join('.')} is the part found there`);
    const sec = parseSection(path.join('.'));
    assert.deepEqual(sectionBytes(raw, tree, sec), raw.subarray(found.bodyStart, found.bodyEnd));
    for (const k of ['MIME', 'HEADER', 'TEXT', 'HEADER.FIELDS (Subject From)', 'HEADER.FIELDS.NOT (Received)']) sectionBytes(raw, tree, parseSection(`${path.join('.')}.${k}`));
  }
}

test('MIME: mutated tricky messages parse, render to valid BODYSTRUCTURE/ENVELOPE, and sections agree', { timeout: testTimeout(60_000) }, () => {
  const seeds = mimeSeeds();
  const msg = fc.oneof({ weight: 6, arbitrary: mutated(seeds, 8) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 500 }).map((a) => Buffer.from(a)) });
  fc.assert(fc.property(msg, (raw) => checkTree(raw, parseMime(raw))), params(300, 5000));
});

test('MIME: the seed corpus itself (1000-deep multipart, 200-deep message/rfc822, NUL, 8-bit)', () => {
  for (const raw of mimeSeeds()) checkTree(raw, parseMime(raw));
});

test('IMAP sections: any section text parses or gives ImapBad', { timeout: testTimeout(30_000) }, () => {
  const spec = fc.oneof(fc.string({ maxLength: 30 }), mutated(['1.2.HEADER.FIELDS (From To)', 'HEADER.FIELDS.NOT (A)', '1.MIME', 'TEXT', '4294967296.1', '0', '1..2'], 4).map((b) => b.toString('latin1')));
  const raw = mimeSeeds()[4];
  const tree = parseMime(raw);
  fc.assert(fc.property(spec, (s) => {
    try {
      sectionBytes(raw, tree, parseSection(s));
    } catch (err) {
      assert.ok(err instanceof ImapBad, String(err));
    }
  }), params(1000, 2000));
});

// ------------------------------------------------------------------ generated trees round trip

type Node =
  | { k: 'leaf'; type: string; body: Buffer }
  | { k: 'multi'; subtype: string; parts: Node[] }
  | { k: 'msg'; subject: string; inner: Node };

const bodyArb = fc.array(fc.oneof(fc.stringMatching(/^[a-z0-9 .,;:=!?]{0,30}$/), fc.constantFrom('', ' ', '\xe9\xff', '\0', '.', '..')), { maxLength: 5 })
  .map((ls) => Buffer.from(ls.join('\r\n'), 'latin1'));

const { node } = fc.letrec<{ node: Node }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.tuple(fc.constantFrom('text/plain', 'text/html', 'application/octet-stream', 'image/png'), bodyArb).map(([type, body]): Node => ({ k: 'leaf', type, body })),
    fc.tuple(fc.constantFrom('mixed', 'alternative', 'related', 'digest'), fc.array(tie('node'), { minLength: 1, maxLength: 4 })).map(([subtype, parts]): Node => ({ k: 'multi', subtype, parts })),
    fc.tuple(fc.stringMatching(/^[A-Za-z ]{0,10}$/), tie('node')).map(([subject, inner]): Node => ({ k: 'msg', subject, inner })),
  ),
}));

let boundaries = 0;
/** A node as [header lines, body]; boundaries are unique and never occur in bodies. */
function build(n: Node, inDigest = false): [string, Buffer] {
  switch (n.k) {
    case 'leaf': return [`Content-Type: ${n.type}\r\n`, n.body];
    case 'msg': {
      const [h, b] = build(n.inner);
      return [inDigest ? '' : 'Content-Type: message/rfc822\r\n', Buffer.concat([Buffer.from(`Subject: ${n.subject}\r\n${h}\r\n`, 'latin1'), b])];
    }
    case 'multi': {
      const bd = `=_b${++boundaries}-x`;
      const pieces: Buffer[] = [Buffer.from('preamble\r\n')];
      for (const p of n.parts) {
        const [h, b] = build(p, n.subtype === 'digest');
        pieces.push(Buffer.from(`--${bd}\r\n${h}\r\n`, 'latin1'), b, Buffer.from('\r\n'));
      }
      pieces.push(Buffer.from(`--${bd}--\r\nepilogue\r\n`));
      return [`Content-Type: multipart/${n.subtype}; boundary="${bd}"\r\n`, Buffer.concat(pieces)];
    }
  }
}

function compare(raw: Buffer, n: Node, p: MimePart, inDigest = false): void {
  switch (n.k) {
    case 'leaf':
      assert.equal(`${p.type}/${p.subtype}`, n.type);
      assert.deepEqual(raw.subarray(p.bodyStart, p.bodyEnd), n.body);
      return;
    case 'msg':
      assert.equal(`${p.type}/${p.subtype}`, 'message/rfc822', `digest child ${inDigest}`);
      assert.ok(p.message);
      return compare(raw, n.inner, p.message.root);
    case 'multi':
      assert.equal(`${p.type}/${p.subtype}`, `multipart/${n.subtype}`);
      assert.equal(p.parts?.length, n.parts.length);
      n.parts.forEach((c, i) => compare(raw, c, p.parts![i], n.subtype === 'digest'));
  }
}

const depthOf = (n: Node): number => (n.k === 'leaf' ? 1 : n.k === 'msg' ? 1 + depthOf(n.inner) : 1 + Math.max(...n.parts.map(depthOf)));

test('MIME: a message built from a random tree parses back to that tree', { timeout: testTimeout(60_000) }, () => {
  const digestLeaf = (n: Node, inDigest: boolean): boolean =>
    n.k === 'leaf' ? !inDigest : n.k === 'msg' ? digestLeaf(n.inner, false) : n.parts.every((c) => digestLeaf(c, n.subtype === 'digest'));
  // in a digest a part without Content-Type is message/rfc822 (RFC 2046 §5.1.5): leaves there need their header
  fc.assert(fc.property(node.filter((n) => depthOf(n) <= 12 && digestLeaf(n, false)), (n) => {
    const [h, b] = build(n);
    const raw = Buffer.concat([Buffer.from(`From: a@b\r\nMIME-Version: 1.0\r\n${h}\r\n`, 'latin1'), b]);
    const tree = parseMime(raw);
    assert.equal(tree.truncated, false);
    compare(raw, n, tree.root);
    checkTree(raw, tree);
  }), params(300, 4000));
});
