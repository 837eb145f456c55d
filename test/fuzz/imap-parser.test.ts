// Fuzzing the IMAP command parser (RFC 3501 §9, RFC 7888): any bytes, cut anywhere, never throw,
// give the same commands however they are chunked, and keep the buffer bounded; commands built
// from the grammar parse back to what was built; what the server renders as a string parses back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { TokenReader as ImapParser, type TokenResult as ParseResult, type ParserLimits, type Token } from '../../src/imap/parser.js';
import { astr, str } from '../../src/imap/wire.js';
import { chunked, IMAP_SEEDS, mutated, params, testTimeout, wellFormed } from './common.js';

const LIMITS: Partial<ParserLimits> = { maxLine: 300, maxLiteral: 50, maxAppendLiteral: 200, maxLiterals: 5 };

/** Plain data for comparisons (Buffers as hex). */
function plain(r: ParseResult): unknown {
  if (r.kind !== 'command') return r;
  const tok = (t: Token): unknown => t.t === 'string' ? { t: 's', hex: t.bytes.toString('hex'), literal: t.literal } : t.t === 'list' ? { t: 'l', v: t.v.map(tok) } : t;
  return { ...r.cmd, args: r.cmd.args.map(tok) };
}

/** Feed the chunks, draining after each; checks the buffer bound whenever the parser waits. */
function feed(chunks: Buffer[], limits = LIMITS): ParseResult[] {
  const p = new ImapParser(limits);
  const out: ParseResult[] = [];
  const bound = Math.max(p.limits.maxLine, p.limits.maxLiteral, p.limits.maxAppendLiteral);
  for (const c of chunks) {
    p.push(c);
    for (;;) {
      const r = p.next();
      if (r.kind === 'needMore') {
        assert.ok(p.buffered <= bound, `buffer ${p.buffered} over the bound ${bound} while waiting`);
        break;
      }
      out.push(r);
      // the session closes the connection after these: nothing after them counts
      if (r.kind === 'linetoolong' || (r.kind === 'toobig' && !r.sync)) return out;
      if (r.kind === 'bad') assert.ok(r.tag === null || /^[\x21-\x7e]+$/.test(r.tag), `tag ${JSON.stringify(r.tag)}`);
      if (r.kind === 'command') {
        assert.match(r.cmd.tag, /^[\x21-\x7e]+$/);
        assert.match(r.cmd.name, /^[A-Z0-9.=-]+$/);
      }
    }
  }
  return out;
}

const wireArb = fc.oneof(
  { weight: 5, arbitrary: fc.array(mutated(IMAP_SEEDS.map((l) => l + '\r\n'), 6), { minLength: 1, maxLength: 8 }).map((a) => Buffer.concat(a)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: fc.array(fc.constantFrom('a', ' ', '{', '}', '3', '+', '\r\n', '(', ')', '"', '\\', '[', ']', 'x', '~', '0', 'NIL'), { maxLength: 120 }).map((a) => Buffer.from(a.join(''), 'latin1')) },
);

test('IMAP parser: any bytes, any chunking: no throw, same results, bounded buffer', { timeout: testTimeout(30_000) }, () => {
  fc.assert(fc.property(wireArb, fc.array(fc.nat(), { maxLength: 12 }), (wire, cuts) => {
    const whole = feed([wire]).map(plain);
    const pieces = feed(chunked(wire, cuts)).map(plain);
    const bytes = feed([...wire].map((b) => Buffer.from([b]))).map(plain);
    assert.deepEqual(pieces, whole);
    assert.deepEqual(bytes, whole);
  }), params(300, 3000));
});

// ------------------------------------------------------------------ grammar round trip

type Model = { t: 'atom'; v: string } | { t: 'string'; bytes: Buffer; literal: '' | 'sync' | 'nonsync' } | { t: 'nil' } | { t: 'list'; v: Model[] };

const atomArb = fc.stringMatching(/^[A-Za-z0-9!#$&'+,\-./:;<=>?@^_`|~]{1,12}$/).filter((s) => s.toUpperCase() !== 'NIL');
const quotedArb = fc.string({ unit: 'grapheme', maxLength: 20 })
  .filter((s) => !/[\r\n]/.test(s) && wellFormed(s))
  .map((s): Model => ({ t: 'string', bytes: Buffer.from(s, 'utf8'), literal: '' }));
const literalArb = fc.tuple(fc.uint8Array({ maxLength: 40 }), fc.boolean())
  .map(([a, sync]): Model => ({ t: 'string', bytes: Buffer.from(a), literal: sync ? 'sync' : 'nonsync' }));

const { token } = fc.letrec<{ token: Model }>((tie) => ({
  token: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    atomArb.map((v): Model => ({ t: 'atom', v })), quotedArb, literalArb, fc.constant<Model>({ t: 'nil' }),
    fc.array(tie('token'), { maxLength: 4 }).map((v): Model => ({ t: 'list', v })),
  ),
}));

function render(m: Model): Buffer {
  switch (m.t) {
    case 'atom': return Buffer.from(m.v);
    case 'nil': return Buffer.from('NIL');
    case 'list': return Buffer.concat([Buffer.from('('), ...m.v.flatMap((x, i) => (i ? [Buffer.from(' '), render(x)] : [render(x)])), Buffer.from(')')]);
    case 'string':
      if (!m.literal) return Buffer.from('"' + m.bytes.toString('utf8').replace(/[\\"]/g, '\\$&') + '"', 'utf8');
      return Buffer.concat([Buffer.from(`{${m.bytes.length}${m.literal === 'nonsync' ? '+' : ''}}\r\n`), m.bytes]);
  }
}

function expected(m: Model): unknown {
  switch (m.t) {
    case 'atom': return m;
    case 'nil': return m;
    case 'list': return { t: 'l', v: m.v.map(expected) };
    case 'string': return { t: 's', hex: m.bytes.toString('hex'), literal: m.literal !== '' };
  }
}

const depth = (m: Model): number => (m.t === 'list' ? 1 + Math.max(0, ...m.v.map(depth)) : 0);
const literals = (m: Model): number => (m.t === 'list' ? m.v.reduce((n, x) => n + literals(x), 0) : m.t === 'string' && m.literal ? 1 : 0);

test('IMAP parser: commands built from the grammar parse back to what was built', { timeout: testTimeout(30_000) }, () => {
  const cmd = fc.record({
    tag: fc.stringMatching(/^[A-Za-z0-9.\-_!#$&',/:;<=>?@^`|~\]]{1,10}$/),
    name: fc.stringMatching(/^[A-Z][A-Z0-9-]{0,10}$/).filter((n) => n !== 'UID' && n !== 'NIL'),
    uid: fc.boolean(),
    args: fc.array(token, { maxLength: 6 }),
  }).filter((c) => c.args.every((a) => depth(a) < 30) && c.args.reduce((n, a) => n + literals(a), 0) <= 5);
  fc.assert(fc.property(fc.array(cmd, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 8 }), (cmds, cuts) => {
    const wire = Buffer.concat(cmds.flatMap((c) => [
      Buffer.from(`${c.tag} ${c.uid ? 'UID ' : ''}${c.name}`),
      ...c.args.flatMap((a) => [Buffer.from(' '), render(a)]),
      Buffer.from('\r\n'),
    ]));
    const limits = { maxLine: 100_000, maxLiteral: 1000, maxAppendLiteral: 1000, maxLiterals: 100 };
    const got = feed(chunked(wire, cuts), limits).filter((r) => r.kind !== 'continue').map(plain);
    assert.deepEqual(got, cmds.map((c) => ({ tag: c.tag, name: c.name, uid: c.uid, args: c.args.map(expected) })));
  }), params(300, 3000));
});

test('IMAP wire: every string the server renders (str, astr) parses back to itself', { timeout: testTimeout(30_000) }, () => {
  const text = fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a).toString('latin1')),
    fc.constantFrom('', 'NIL', 'nil', '"', '\\', '{3}', '{3+}', ' ', '\r\n', '\0', 'a'.repeat(1100)),
  ).filter(wellFormed);
  fc.assert(fc.property(text, fc.boolean(), (s, atomForm) => {
    const wire = Buffer.from(`t1 X ${atomForm ? astr(s) : str(s)}\r\n`, 'utf8');
    const res = feed([wire], { maxLine: 10_000, maxLiteral: 10_000 }).filter((r) => r.kind !== 'continue');
    assert.equal(res.length, 1);
    const r = res[0];
    assert.equal(r.kind, 'command', JSON.stringify(plain(r)));
    if (r.kind !== 'command') return;
    assert.equal(r.cmd.args.length, 1);
    const a = r.cmd.args[0];
    assert.ok(a.t === 'atom' || a.t === 'string', `got ${a.t}`);
    assert.equal(a.v, s);
  }), params(500, 2000));
});
