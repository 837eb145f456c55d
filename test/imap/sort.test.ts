// RFC 5256 SORT, driven by Python's imaplib, against what Dovecot 2.3 answered to the same script.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { baseSubject } from '../../src/imap/commands/sort.js';
import { fixture, ROOT, startLab, transcript } from '../helpers/lab.js';

// test/imap/py/sort_client.py against the anchor's Dovecot, 2026-11-30
const DOVECOT = `(SUBJECT) [b'3 5 4 1 2 6']
(REVERSE SUBJECT) [b'6 1 2 4 5 3']
(FROM) [b'2 1 6 4 5 3']
(TO) [b'4 3 5 2 1 6']
(CC) [b'1 3 6 5 4 2']
(DATE) [b'3 4 1 6 2 5']
(REVERSE DATE) [b'5 2 1 6 4 3']
(ARRIVAL) [b'1 2 3 4 5 6']
(SIZE) [b'2 4 6 1 5 3']
(REVERSE SIZE SUBJECT) [b'3 5 1 6 4 2']
(SUBJECT DATE) [b'3 5 4 1 2 6']
UID SORT (FROM) LARGER 250 [b'1 6 4 5 3']`;

/** Run a script of test/imap/py; its output, once it exits 0. */
async function python(script: string, args: string[]): Promise<string> {
  const child = spawn('python3', [path.join(ROOT, 'test', 'imap', 'py', script), ...args]);
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, err);
  return out.trim();
}

test('SORT and UID SORT: every criterion, REVERSE, several keys, a search key: the same order as Dovecot', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  assert.equal(await python('sort_client.py', [String(lab.port('imap')), 'bob@example.test', 'pw']), DOVECOT);
});

test('RFC 5256 §2.1 base subject', () => {
  const cases: [string, string][] = [
    ['Re: [list] Hello', 'HELLO'], ['RE:re: fwd:Hello', 'HELLO'], ['[a][b] Re: [c] Fw: hi', 'HI'], ['hello (fwd) (FWD)  ', 'HELLO'],
    ['[fwd: Re: Apple]', 'APPLE'], ['[blob]', '[BLOB]'], ['[x] [y]', '[Y]'], ['  Re:\t spaced   out ', 'SPACED OUT'],
    ['=?UTF-8?Q?Re=3A_=C3=A9t=C3=A9?=', 'E\u0301TE\u0301'], ['Rebate: yes', 'REBATE: YES'],
  ];
  for (const [given, want] of cases) assert.equal(baseSubject(given), want, given);
});

test('SORT and THREAD: bad criteria or algorithms get BAD, an unknown charset NO [BADCHARSET]; an empty result is a bare * SORT', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  await lab.deliver('bob@example.test', fixture('plain.eml'));
  await transcript(await lab.connect('imaps'), `
    S: * OK ...
    C: a LOGIN bob@example.test pw
    S: a OK ...
    C: b SELECT INBOX
    S: * FLAGS ...
    S: * OK ...
    S: * 1 EXISTS
    S: * 1 RECENT
    S: * OK [UNSEEN 1] ...
    S: * OK ...
    S: * OK ...
    S: * OK ...
    S: b OK [READ-WRITE] SELECT completed
    C: c SORT (COLOR) UTF-8 ALL
    S: c BAD unknown sort criterion COLOR
    C: d SORT (DATE REVERSE) UTF-8 ALL
    S: d BAD REVERSE needs a sort criterion after it
    C: e SORT () UTF-8 ALL
    S: e BAD SORT needs a list of sort criteria
    C: f SORT (DATE) KOI8-R ALL
    S: f NO [BADCHARSET (UTF-8 US-ASCII)] charset KOI8-R is not supported
    C: g SORT (DATE) UTF-8
    S: g BAD missing search key
    C: h UID SORT (SIZE) US-ASCII LARGER 100000000
    S: * SORT
    S: h OK SORT completed
    C: i SORT (REVERSE ARRIVAL) UTF-8 ALL
    S: * SORT 1
    S: i OK SORT completed
    C: j THREAD FOO UTF-8 ALL
    S: j BAD unknown threading algorithm FOO
    C: k THREAD REFERENCES ISO-2022-JP ALL
    S: k NO [BADCHARSET (UTF-8 US-ASCII)] charset ISO-2022-JP is not supported
    C: l THREAD REFERENCES UTF-8 ALL
    S: * THREAD (1)
    S: l OK THREAD completed
    C: m THREAD ORDEREDSUBJECT UTF-8 DELETED
    S: * THREAD
    S: m OK THREAD completed
  `);
});

// test/imap/py/thread_client.py against the anchor's Dovecot, 2026-11-30
const DOVECOT_THREADS = `ORDEREDSUBJECT ALL [b'(8 12)(5 6)(1 (4)(2)(3)(7))(9 10)(11)']
REFERENCES ALL [b'((8)(12))((5)(6))(1 (4)(2 3)(7))(10 9)(11)']
REFERENCES NOT SUBJECT Lunch [b'((5)(6))(1 (4)(2 3)(7))(10 9)(11)']
UID REFERENCES ((8)(12))((5)(6))(1 (4)(2 3)(7))(10 9)(11)`;

// the same script's "subjects" scenario (RFC 5256 §4 step 5, gathering threads by subject)
const DOVECOT_SUBJECTS = `ORDEREDSUBJECT ALL [b'(7 6)(3 (1)(2)(4)(5)(8))(9)']
REFERENCES ALL [b'(7)((3)(1)(2 9)(4)(5)(8))(6)']
REFERENCES NOT SUBJECT Lunch [b'(7)((3)(1)(2 9)(4)(5)(8))(6)']
UID REFERENCES (7)((3)(1)(2 9)(4)(5)(8))(6)`;

test('THREAD ORDEREDSUBJECT and REFERENCES (missing parents, replies by subject, a References loop, a duplicate Message-ID, two originals with one subject): the same threads as Dovecot', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  const login = [String(lab.port('imap')), 'bob@example.test', 'pw'];
  assert.equal(await python('thread_client.py', login), DOVECOT_THREADS);
  assert.equal(await python('thread_client.py', [...login, 'subjects']), DOVECOT_SUBJECTS);
});
