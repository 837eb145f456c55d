// Fuzzing SMTP in (RFC 5321, our hooks on smtp-server) live: random and mutated command
// sequences over a raw socket on port 25 and 465. Every reply is a well-formed reply (RFC 5321
// §4.2: code, "-" or " ", text; one code per multi-line reply), no reply is our generic 451
// (a hook that threw), the server answers a fresh client afterwards, and a message is stored
// or queued only under an id some "250 ... queued as <id>" reply named.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Lab } from '../helpers/lab.js';
import { mimeSeeds, mutated, params, SMTP_SEEDS, testTimeout } from './common.js';
import { fuzzLab, show, USERS, Wire } from './live.js';

const PLAIN = (u: string, p: string) => Buffer.from(`\0${u}\0${p}`).toString('base64');
const SEEDS = [
  ...SMTP_SEEDS,
  `AUTH PLAIN ${PLAIN('alice@example.test', 'pw')}`, `AUTH PLAIN ${PLAIN('bob@example.test', 'wrong')}`, 'MAIL FROM:<alice@example.test>',
  'MAIL FROM:<alice+x@example.test> BODY=8BITMIME', 'RCPT TO:<x@remote.test> NOTIFY=NEVER',
];

type Action = { k: 'line'; b: Buffer } | { k: 'tx'; from: string; to: string[]; body: Buffer; dot: '\r\n.\r\n' | '\n.\n' | '.\r\n' };

const bodyArb = fc.oneof(
  mutated(mimeSeeds().slice(0, 12), 6),
  fc.constantFrom(
    Buffer.from('From: alice@example.test\r\nSubject: ok\r\n\r\nhi\r\n'),
    Buffer.from('From: mallory@evil.test\r\n\r\nspoof\r\n'),
    Buffer.from('Subject: s\r\n\r\nhello\n.\nMAIL FROM:<admin@example.test>\r\n'),
    Buffer.alloc(25_000, 'x'),
  ),
);

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 3, arbitrary: mutated(SEEDS, 3).map((b): Action => ({ k: 'line', b })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 80 }).map((a): Action => ({ k: 'line', b: Buffer.from(a) })) },
  {
    weight: 2, arbitrary: fc.record({
      k: fc.constant('tx' as const),
      from: fc.constantFrom('<>', '<a@fuzz.test>', '<alice@example.test>', '<bob@example.test> SIZE=10'),
      to: fc.array(fc.constantFrom('<alice@example.test>', '<bob@example.test>', '<alice+t@example.test>', '<nobody@example.test>', '<x@remote.test>'), { minLength: 1, maxLength: 3 }),
      body: bodyArb,
      dot: fc.constantFrom('\r\n.\r\n' as const, '\n.\n' as const, '.\r\n' as const),
    }),
  },
);

/** One whole reply: lines "NNN-..." then "NNN ...", all the same code; null when closed or silent. */
async function reply(w: Wire, transcript: string[]): Promise<string | null> {
  let code: string | null = null;
  for (;;) {
    const l = await w.line(5000);
    if (l === null) return null;
    const s = l.toString('latin1');
    transcript.push('S: ' + s);
    assert.match(s, /^[2-5][0-5]\d([ -]|$)/, `malformed reply line ${show(l)}\n${transcript.join('\n')}`);
    assert.doesNotMatch(s, /[\x00-\x08\x0a-\x1f\x7f]/, `control character in reply ${show(l)}`);
    if (code === null) code = s.slice(0, 3);
    else assert.equal(s.slice(0, 3), code, `one code per reply: ${show(l)}`);
    assert.ok(!s.startsWith('451 4.3.0'), `a hook failed (451 local error): ${transcript.join('\n')}`);
    if (s[3] !== '-') return s;
  }
}

async function storedIds(lab: Lab): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const addr of Object.keys(USERS)) {
    const u = (await lab.po.store.users.get(addr))!;
    for (const mb of await lab.po.store.mailboxes.list(u.id)) for (const m of await lab.po.store.messages.list(mb.id)) if (m.msgId) ids.add(m.msgId);
  }
  for (const q of await lab.po.store.queue.list()) ids.add(q.msgId);
  return ids;
}

async function session(lab: Lab, secure: boolean, hello: boolean, actions: Action[], accepted: Set<string>): Promise<void> {
  const w = await Wire.connect(lab.port(secure ? 'smtps' : 'smtp'), secure);
  const transcript: string[] = [];
  try {
    const greeting = await reply(w, transcript);
    assert.ok(greeting?.startsWith('220'), `greeting ${greeting}`);
    const say = async (line: Buffer | string): Promise<string | null> => {
      transcript.push('C: ' + Buffer.from(line).toString('latin1'));
      w.write(Buffer.concat([Buffer.from(line), Buffer.from('\r\n')]));
      const r = await reply(w, transcript);
      last = r ?? '';
      return r && r.startsWith('421') ? null : r; // RFC 5321 §3.8: 421 closes the session
    };
    let last = '';
    const note = (r: string | null) => { const m = r && /^250 2\.6\.0 Ok: queued as (\S+)/.exec(r); if (m) accepted.add(m[1]); };
    if (hello) {
      if ((await say('EHLO fuzz.test')) === null) return;
      if (secure && (await say(`AUTH PLAIN ${PLAIN('alice@example.test', 'pw')}`)) === null) return;
    }
    for (const a of actions) {
      if (a.k === 'line') {
        // one line per LF, so that each gets one reply
        for (const piece of a.b.toString('latin1').split('\n')) {
          const r = await say(Buffer.from(piece.replace(/\r$/, ''), 'latin1'));
          if (r === null) return;
          if (/^354/.test(r)) { const d = await say('.'); if (d === null) return; note(d); }
          if (/^220 .*TLS/i.test(r) || /^221/.test(r) || /^421/.test(r)) return; // STARTTLS, QUIT, shut
        }
        continue;
      }
      for (const l of [`MAIL FROM:${a.from}`, ...a.to.map((t) => `RCPT TO:${t}`)]) if ((await say(l)) === null) return;
      const r = await say('DATA');
      if (r === null) return;
      if (!r.startsWith('354')) continue;
      // dot-stuffed as a client must (RFC 5321 §4.5.2); a bare "\n.\n" inside stays as it is
      const body = Buffer.from(a.body.toString('latin1').replace(/(^|\r\n)\./g, '$1..'), 'latin1');
      transcript.push(`C: <${body.length} octets>${JSON.stringify(a.dot)}`);
      w.write(Buffer.concat([body, Buffer.from(a.dot === '.\r\n' ? (body.length && !body.toString('latin1').endsWith('\r\n') ? '\r\n.\r\n' : '.\r\n') : a.dot)]));
      if (a.dot === '\n.\n') { w.write('\r\n.\r\n'); } // only CRLF.CRLF ends DATA: the first one stays inside
      const done = await reply(w, transcript);
      if (done === null) return;
      note(done);
    }
    // RFC 4954 §4: "*" cancels an AUTH exchange still waiting for a response
    if (last.startsWith('334') && (await say('*')) === null) return;
    const bye = await say('QUIT');
    if (bye !== null) assert.match(bye, /^221/);
  } finally {
    w.close();
  }
}

test('SMTP live: random and mutated sessions get well-formed replies; only a 250 after DATA stores', { timeout: testTimeout(60_000) }, async (t) => {
  const lab = await fuzzLab(t);
  const before = await storedIds(lab);
  const accepted = new Set<string>();
  let runs = 0;
  await fc.assert(fc.asyncProperty(fc.boolean(), fc.boolean(), fc.array(actionArb, { minLength: 1, maxLength: 8 }), async (secure, hello, actions) => {
    runs++;
    await session(lab, secure, hello, actions, accepted);
  }), params(40, 6000, 20));
  // the server still serves a fresh client
  const w = await Wire.connect(lab.port('smtp'), false);
  const tr: string[] = [];
  assert.match((await reply(w, tr)) ?? '', /^220/);
  w.write('EHLO fresh.test\r\n');
  assert.match((await reply(w, tr)) ?? '', /^250/);
  w.close();
  // nothing stored or queued that no "250 queued as" announced
  await new Promise((r) => setTimeout(r, 100));
  for (const id of await storedIds(lab)) if (!before.has(id)) assert.ok(accepted.has(id), `message ${id} stored without a 250 reply`);
  t.diagnostic(`${runs} sessions, ${accepted.size} messages accepted`);
});
