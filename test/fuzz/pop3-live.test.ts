// Fuzzing the POP3 server live (RFC 1939, RFC 2449, RFC 5034): random and mutated command lines,
// one at a time, before and after login. Every reply is "+OK", "-ERR" or a SASL "+ " challenge,
// multi-line replies end with "." and contain no bare CR or LF, no reply is the generic internal
// error, the maildrop lock is released when the connection goes, and nothing is deleted unless
// a DELE and then a QUIT in the TRANSACTION state were answered +OK.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Lab } from '../helpers/lab.js';
import { mimeSeeds, mutated, params, POP3_SEEDS, testTimeout } from './common.js';
import { fuzzLab, show, Wire } from './live.js';

const PLAIN = Buffer.from('\0bob@example.test\0pw').toString('base64');
const SEEDS = [...POP3_SEEDS, `AUTH PLAIN ${PLAIN}`, PLAIN, 'PASS wrong', 'TOP 2 3', 'RETR 3', 'LIST 2', 'DELE 2'];

function multiLine(line: string, sasl: boolean): boolean {
  if (sasl) return false;
  const sp = line.indexOf(' ');
  const verb = (sp < 0 ? line : line.slice(0, sp)).toUpperCase();
  const rest = sp < 0 ? '' : line.slice(sp + 1);
  return verb === 'CAPA' || verb === 'RETR' || verb === 'TOP' || ((verb === 'LIST' || verb === 'UIDL' || verb === 'AUTH') && rest === '');
}

interface Outcome { deleOk: boolean; quitOk: boolean }

async function session(lab: Lab, login: boolean, lines: Buffer[]): Promise<Outcome> {
  const w = await Wire.connect(lab.port('pop3'), false);
  const transcript: string[] = [];
  const out: Outcome = { deleOk: false, quitOk: false };
  let transaction = false;
  let sasl = false;
  const status = async (): Promise<string | null> => {
    const l = await w.line(5000);
    if (l === null) return null;
    const s = l.toString('latin1');
    transcript.push('S: ' + s);
    const why = `${show(l)}\n${transcript.slice(-12).join('\n')}`;
    assert.match(s, /^(\+OK|-ERR)( |$)|^\+ /, `malformed status line ${why}`);
    assert.doesNotMatch(s, /\r|internal error/, `bad status ${why}`);
    return s;
  };
  try {
    assert.match((await status()) ?? '', /^\+OK/);
    const send = async (text: string): Promise<string | null> => {
      transcript.push('C: ' + text);
      w.write(Buffer.concat([Buffer.from(text, 'latin1'), Buffer.from('\r\n')]));
      const wasSasl = sasl;
      const r = await status();
      if (r === null) return null;
      sasl = r.startsWith('+ ');
      if (r.startsWith('+OK') && multiLine(Buffer.from(text, 'latin1').toString('utf8'), wasSasl)) {
        for (;;) {
          const l = await w.line(5000);
          assert.ok(l, `multi-line reply not ended with "."\n${transcript.slice(-12).join('\n')}`);
          assert.ok(!l.includes(0x0d), `bare CR in a multi-line reply line ${show(l)}\n${transcript.slice(-6).join('\n')}`);
          if (l.length === 1 && l[0] === 0x2e) break;
        }
      }
      return r;
    };
    if (login) {
      assert.match((await send('USER bob@example.test')) ?? '', /^\+OK/);
      assert.match((await send('PASS pw')) ?? '', /^\+OK/);
      transaction = true;
    }
    for (const b of lines) {
      for (const piece of b.toString('latin1').split('\n')) {
        const text = piece.replace(/\r$/, '');
        const verb = text.split(' ')[0].toUpperCase();
        const r = await send(text);
        if (r === null) return out;
        if (r.startsWith('+OK')) {
          if (/^\+OK \S+ has \d+ messages? \(/.test(r)) transaction = true; // PASS or AUTH succeeded
          if (verb === 'DELE' && transaction) out.deleOk = true;
          if (verb === 'QUIT') { out.quitOk = transaction; return out; }
          if (verb === 'STLS') return out; // TLS from here on
        }
      }
    }
    if (sasl) await send('*');
    const bye = await send('QUIT');
    if (bye?.startsWith('+OK')) out.quitOk = transaction;
    return out;
  } finally {
    w.close();
  }
}

async function drop(lab: Lab): Promise<number> {
  const u = (await lab.po.store.users.get('bob@example.test'))!;
  const mb = (await lab.po.store.mailboxes.get(u.id, 'INBOX'))!;
  return (await lab.po.store.messages.list(mb.id)).length;
}

/** Log in as a fresh client (the previous session's lock may take a moment to go). */
async function freshLogin(lab: Lab): Promise<void> {
  for (let i = 0; ; i++) {
    const w = await Wire.connect(lab.port('pop3'), false);
    await w.line();
    w.write('USER bob@example.test\r\nPASS pw\r\n');
    await w.line();
    const r = (await w.line())?.toString('latin1') ?? '';
    w.write('QUIT\r\n');
    await w.line();
    w.close();
    if (r.startsWith('+OK')) return;
    assert.ok(i < 50 && /IN-USE/.test(r), `fresh login failed: ${r}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

test('POP3 live: random and mutated commands get well-formed replies; nothing deleted without DELE and QUIT', { timeout: testTimeout(60_000) }, async (t) => {
  const lab = await fuzzLab(t);
  const corpus = mimeSeeds().filter((b) => b.length < 10_000);
  const fill = async () => { for (const raw of corpus) await lab.deliver('bob@example.test', raw); };
  await fill();
  const line = fc.oneof(
    { weight: 6, arbitrary: mutated(SEEDS, 3) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 60 }).map((a) => Buffer.from(a)) },
    { weight: 1, arbitrary: fc.constantFrom(Buffer.alloc(9000, 'A'), Buffer.from('USER ' + 'u'.repeat(8187))) },
  );
  let runs = 0;
  let deletions = 0;
  await fc.assert(fc.asyncProperty(fc.boolean(), fc.array(line, { minLength: 1, maxLength: 12 }), async (login, lines) => {
    runs++;
    const before = await drop(lab);
    const o = await session(lab, login, lines);
    if (runs % 8 === 0) await freshLogin(lab); // (a login costs a scrypt: not after every run)
    const after = await drop(lab);
    if (!(o.deleOk && o.quitOk)) assert.equal(after, before, 'messages deleted without DELE and QUIT');
    else deletions += before - after;
    if (after < corpus.length / 2) await fill();
  }), params(40, 6000, 20));
  await freshLogin(lab);
  t.diagnostic(`${runs} sessions, ${deletions} messages deleted through DELE+QUIT`);
});
