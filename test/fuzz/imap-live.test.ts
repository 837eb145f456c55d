// Fuzzing the IMAP server live (RFC 3501): batches of random and mutated command lines, before
// login, after login and with INBOX selected (holding the tricky MIME corpus). Every response is
// well-formed (RFC 3501 §7: "* ", "+" or "<tag> OK|NO|BAD"; literals counted exactly; FETCH data
// balanced), the server never answers NO [SERVERBUG] or BYE internal error, and it keeps serving
// a fresh client.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Lab } from '../helpers/lab.js';
import { IMAP_SEEDS, mimeSeeds, mutated, params, testTimeout } from './common.js';
import { fuzzLab, show, Wire } from './live.js';

/** One whole response: a line, plus literals and the rest of the line after each; null if closed/silent. */
export async function response(w: Wire, ms: number): Promise<Buffer | null> {
  const pieces: Buffer[] = [];
  for (;;) {
    const l = await w.line(ms);
    if (l === null) return pieces.length ? Buffer.concat(pieces) : null;
    pieces.push(l);
    const m = /\{(\d+)\}$/.exec(l.toString('latin1'));
    // "+ ..." continuation text is free text: no literal there
    if (!m || (pieces.length === 1 && l[0] === 0x2b)) return Buffer.concat(pieces);
    const lit = await w.bytes(Number(m[1]), 5000);
    assert.ok(lit, `literal of ${m[1]} octets announced but not sent`);
    pieces.push(Buffer.from('\r\n'), lit);
  }
}

/** Parentheses balance outside quoted strings, literals and [...]; no CR or LF outside literals. */
function balanced(b: Buffer): boolean {
  let depth = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c === 0x22) {
      for (i++; i < b.length && b[i] !== 0x22; i++) if (b[i] === 0x5c) i++;
      if (i >= b.length) return false;
    } else if (c === 0x7b) {
      const m = /^\{(\d+)\}\r\n/.exec(b.toString('latin1', i, i + 24));
      if (m) i += m[0].length + Number(m[1]) - 1;
    } else if (c === 0x5b) {
      const j = b.indexOf(0x5d, i);
      if (j < 0) return false;
      i = j;
    } else if (c === 0x28) depth++;
    else if (c === 0x29) { if (--depth < 0) return false; }
    else if (c === 0x0d || c === 0x0a) return false;
  }
  return depth === 0;
}

export function check(resp: Buffer, transcript: string[]): void {
  const s = resp.toString('latin1');
  const why = `${show(resp)}\n${transcript.slice(-20).join('\n')}`;
  assert.ok(/^\* /.test(s) || /^\+( |$)/.test(s) || /^[\x21-\x7e]+ (OK|NO|BAD)( |$)/.test(s), `malformed response ${why}`);
  const tagged = /^([\x21-\x7e]+) /.exec(s);
  if (tagged && tagged[1] !== '*' && tagged[1] !== '+') assert.doesNotMatch(tagged[1], /[(){%*"\\]/, `bad tag echoed ${why}`);
  assert.doesNotMatch(s, /\[SERVERBUG\]|^\* BYE internal error/, `server bug ${why}`);
  if (/^\* \d+ FETCH /.test(s)) assert.ok(balanced(resp.subarray(resp.indexOf(' FETCH ') + 7)), `unbalanced FETCH ${why}`);
}

const SENTINEL = 'zzEND';

/** Send a line and read up to its tagged reply (the setup commands). */
async function cmd(w: Wire, line: string): Promise<string> {
  const tag = line.split(' ')[0];
  w.write(line + '\r\n');
  for (;;) {
    const r = await response(w, 5000);
    assert.ok(r, `no reply to ${line}`);
    check(r, [line]);
    if (r.toString('latin1').startsWith(tag + ' ')) return r.toString('latin1');
  }
}

async function session(lab: Lab, mode: 0 | 1 | 2, lines: Buffer[]): Promise<void> {
  const w = await Wire.connect(lab.port('imap'), false);
  const transcript: string[] = [];
  try {
    const greeting = await response(w, 5000);
    assert.ok(greeting && /^\* OK/.test(greeting.toString('latin1')));
    if (mode >= 1) assert.match(await cmd(w, 's1 LOGIN alice@example.test pw'), /^s1 OK/);
    if (mode >= 2) assert.match(await cmd(w, 's2 SELECT INBOX'), /^s2 OK/);
    const batch = Buffer.concat([...lines.flatMap((l) => [l, Buffer.from('\r\n')]), Buffer.from(`DONE\r\n${SENTINEL} NOOP\r\n`)]);
    transcript.push('C: ' + batch.toString('latin1'));
    w.write(batch);
    for (;;) {
      const r = await response(w, 700);
      if (r === null) break; // closed, or waiting for a literal that never came
      transcript.push('S: ' + r.toString('latin1'));
      check(r, transcript);
      const s = r.toString('latin1');
      if (s.startsWith(SENTINEL + ' ')) break;
      if (/ OK .*(DEFLATE|TLS)/i.test(s)) break; // the stream changes layer: nothing more to read as text
    }
  } finally {
    w.close();
  }
}

async function inboxCount(lab: Lab): Promise<number> {
  const u = (await lab.po.store.users.get('alice@example.test'))!;
  const mb = (await lab.po.store.mailboxes.get(u.id, 'INBOX'))!;
  return (await lab.po.store.messages.list(mb.id)).length;
}

test('IMAP live: random and mutated command batches get well-formed responses, never SERVERBUG', { timeout: testTimeout(60_000) }, async (t) => {
  const lab = await fuzzLab(t);
  const corpus = mimeSeeds();
  const fill = async () => { for (const raw of corpus) await lab.deliver('alice@example.test', raw); };
  await fill();
  const line = fc.oneof(
    { weight: 6, arbitrary: mutated(IMAP_SEEDS, 4) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 100 }).map((a) => Buffer.from(a)) },
    { weight: 1, arbitrary: fc.constantFrom(Buffer.alloc(70_000, 'a'), Buffer.from('a APPEND INBOX {30}'), Buffer.from('b FETCH 1:* (BODY[] BINARY[1] BODYSTRUCTURE ENVELOPE)')) },
  );
  let runs = 0;
  await fc.assert(fc.asyncProperty(fc.constantFrom(0 as const, 1 as const, 2 as const, 2 as const), fc.array(line, { minLength: 1, maxLength: 10 }), async (mode, lines) => {
    runs++;
    await session(lab, mode, lines);
    if ((await inboxCount(lab)) < corpus.length / 2) await fill();
  }), params(30, 5000, 20));
  // a fresh client is served, and can still fetch every structure
  const w = await Wire.connect(lab.port('imap'), false);
  await response(w, 5000);
  assert.match(await cmd(w, 'f1 LOGIN alice@example.test pw'), /^f1 OK/);
  assert.match(await cmd(w, 'f2 SELECT INBOX'), /^f2 OK/);
  assert.match(await cmd(w, 'f3 FETCH 1:* (BODYSTRUCTURE ENVELOPE BODY.PEEK[1])'), /^f3 OK/);
  w.close();
  t.diagnostic(`${runs} sessions`);
});
