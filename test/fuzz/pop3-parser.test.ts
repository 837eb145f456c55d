// Fuzzing the POP3 parser (RFC 1939 §3, RFC 2449 §4): any bytes, cut anywhere, give the same
// commands and errors however they are chunked, only Pop3Err is ever thrown, the buffer stays
// bounded; commands built from the grammar (any case) parse back to what was built.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Pop3Err } from '../../src/pop3/errors.js';
import { needMore, parseCommand, Pop3Parser, type Pop3Cmd } from '../../src/pop3/parser.js';
import { chunked, mutated, params, POP3_SEEDS, testTimeout } from './common.js';

const MAX = 64;

function feed(chunks: Buffer[], max = MAX): unknown[] {
  const p = new Pop3Parser(max);
  const out: unknown[] = [];
  for (const c of chunks) {
    p.push(c);
    for (;;) {
      let r: Pop3Cmd | typeof needMore;
      try {
        r = p.next();
      } catch (err) {
        assert.ok(err instanceof Pop3Err, `only Pop3Err is thrown, got ${String(err)}`);
        out.push({ err: err.message });
        continue;
      }
      if (r === needMore) {
        // a pending line may hold up to max octets plus the CR of its CRLF
        assert.ok(p.buffered <= max + 1, `buffer ${p.buffered} over the bound while waiting`);
        break;
      }
      out.push(r);
    }
  }
  return out;
}

const wireArb = fc.oneof(
  { weight: 4, arbitrary: fc.array(mutated(POP3_SEEDS.map((l) => l + '\r\n'), 6), { minLength: 1, maxLength: 10 }).map((a) => Buffer.concat(a)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a)) },
  // lines around the length limit, with CRLF, bare LF or bare CR
  { weight: 2, arbitrary: fc.array(fc.tuple(fc.integer({ min: MAX - 3, max: MAX + 3 }), fc.constantFrom('\r\n', '\n', '\r')), { minLength: 1, maxLength: 4 })
    .map((ls) => Buffer.from(ls.map(([n, end]) => 'NOOP ' + 'x'.repeat(Math.max(0, n - 5)) + end).join('') + 'STAT\r\n', 'latin1')) },
);

test('POP3 parser: any bytes, any chunking: only Pop3Err, same results, bounded buffer', { timeout: testTimeout(30_000) }, () => {
  fc.assert(fc.property(wireArb, fc.array(fc.nat(), { maxLength: 12 }), (wire, cuts) => {
    const whole = feed([wire]);
    assert.deepEqual(feed(chunked(wire, cuts)), whole);
    assert.deepEqual(feed([...wire].map((b) => Buffer.from([b]))), whole);
  }), params(400, 3000));
});

test('POP3 parser: parseCommand of any line returns a command or throws Pop3Err', { timeout: testTimeout(30_000) }, () => {
  const line = fc.oneof(fc.string({ maxLength: 40 }), mutated(POP3_SEEDS, 4).map((b) => b.toString('latin1')));
  fc.assert(fc.property(line, (l) => {
    try {
      const c = parseCommand(l);
      assert.equal(typeof c.verb, 'string');
      for (const k of ['msg', 'lines'] as const) {
        const v = (c as Record<string, unknown>)[k];
        if (typeof v === 'number') assert.ok(Number.isSafeInteger(v) && v >= 0, `${k} ${v}`);
      }
    } catch (err) {
      assert.ok(err instanceof Pop3Err, String(err));
    }
  }), params(2000, 2000));
});

test('POP3 parser: commands built from the grammar, in any case, parse back', { timeout: testTimeout(30_000) }, () => {
  const n = fc.integer({ min: 0, max: 999_999_999 });
  const word = fc.stringMatching(/^[\x21-\x7e]{1,20}$/);
  const cmd: fc.Arbitrary<[string, Pop3Cmd]> = fc.oneof(
    word.map((name): [string, Pop3Cmd] => [`USER ${name}`, { verb: 'USER', name }]),
    fc.stringMatching(/^[\x21-\x7e][\x20-\x7e]{0,20}$/).map((pass): [string, Pop3Cmd] => [`PASS ${pass}`, { verb: 'PASS', pass }]),
    fc.constantFrom('STLS', 'CAPA', 'QUIT', 'STAT', 'NOOP', 'RSET').map((v): [string, Pop3Cmd] => [v, { verb: v } as Pop3Cmd]),
    fc.tuple(fc.constantFrom('LIST' as const, 'UIDL' as const), fc.option(n)).map(([v, m]): [string, Pop3Cmd] => [m === null ? v : `${v} ${m}`, { verb: v, msg: m }]),
    fc.tuple(fc.constantFrom('RETR' as const, 'DELE' as const), n).map(([v, m]): [string, Pop3Cmd] => [`${v} ${m}`, { verb: v, msg: m }]),
    fc.tuple(n, n).map(([m, l]): [string, Pop3Cmd] => [`TOP ${m} ${l}`, { verb: 'TOP', msg: m, lines: l }]),
    fc.tuple(fc.stringMatching(/^[A-Za-z0-9-]{1,10}$/), fc.option(fc.base64String({ minLength: 4, maxLength: 40 }))).map(([mech, init]): [string, Pop3Cmd] =>
      [init === null ? `AUTH ${mech}` : `AUTH ${mech} ${init}`, { verb: 'AUTH', mechanism: mech.toUpperCase(), initial: init }]),
  );
  fc.assert(fc.property(fc.array(fc.tuple(cmd, fc.constantFrom('\r\n', '\n'), fc.boolean()), { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 8 }), (cmds, cuts) => {
    // the keyword in random case (RFC 1939 §3: case-insensitive); arguments as they are
    const text = cmds.map(([[line], end, lower]) => {
      const sp = line.indexOf(' ');
      const kw = sp < 0 ? line : line.slice(0, sp);
      return (lower ? kw.toLowerCase() : kw) + (sp < 0 ? '' : line.slice(sp)) + end;
    }).join('');
    assert.deepEqual(feed(chunked(Buffer.from(text, 'latin1'), cuts), 255), cmds.map(([[, c]]) => c));
  }), params(500, 2000));
});
