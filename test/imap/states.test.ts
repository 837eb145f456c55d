// RFC 3501 §3 and §6: every command tried in every state (not authenticated, authenticated,
// selected, logout) over a real socket; refused (BAD) outside the states its handler names, and
// never refused for its state inside them. The states are read from the command table itself.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { COMMANDS } from '../../src/imap/commands/index.js';
import { SYNTAX } from '../../src/imap/grammar/index.js';
import type { ImapVerb, SessionState } from '../../src/imap/types.js';
import { fixture, lineReader, startLab, type Lab } from '../helpers/lab.js';
import { client, last, type Client } from './helpers.js';

const USER = 'bob@example.test';
const PLAIN = Buffer.from(`\0${USER}\0pw`).toString('base64');

/** A well-formed instance of each verb (and each UID form), so only the state can refuse it. */
const SAMPLES: Record<ImapVerb, string[]> = {
  CAPABILITY: ['CAPABILITY'], NOOP: ['NOOP'], LOGOUT: ['LOGOUT'], STARTTLS: ['STARTTLS'], ID: ['ID NIL'],
  LOGIN: [`LOGIN ${USER} pw`], AUTHENTICATE: [`AUTHENTICATE PLAIN ${PLAIN}`],
  SELECT: ['SELECT INBOX'], EXAMINE: ['EXAMINE INBOX'], CREATE: ['CREATE NewBox'], DELETE: ['DELETE NoSuchBox'],
  RENAME: ['RENAME NoSuchBox Other'], SUBSCRIBE: ['SUBSCRIBE INBOX'], UNSUBSCRIBE: ['UNSUBSCRIBE INBOX'],
  LIST: ['LIST "" *'], LSUB: ['LSUB "" *'], STATUS: ['STATUS INBOX (MESSAGES)'], APPEND: ['APPEND INBOX {5+}\r\nhello'],
  NAMESPACE: ['NAMESPACE'], ENABLE: ['ENABLE CONDSTORE'], IDLE: ['IDLE'], GETQUOTA: ['GETQUOTA ""'],
  GETQUOTAROOT: ['GETQUOTAROOT INBOX'], COMPRESS: ['COMPRESS DEFLATE'],
  CHECK: ['CHECK'], CLOSE: ['CLOSE'], UNSELECT: ['UNSELECT'], EXPUNGE: ['EXPUNGE', 'UID EXPUNGE 1'],
  SEARCH: ['SEARCH ALL', 'UID SEARCH ALL'], SORT: ['SORT (ARRIVAL) UTF-8 ALL', 'UID SORT (ARRIVAL) UTF-8 ALL'],
  THREAD: ['THREAD ORDEREDSUBJECT UTF-8 ALL', 'UID THREAD REFERENCES UTF-8 ALL'],
  FETCH: ['FETCH 1 FLAGS', 'UID FETCH 1:* FLAGS'], STORE: ['STORE 1 +FLAGS (\\Seen)', 'UID STORE 1 -FLAGS (\\Seen)'],
  COPY: ['COPY 1 INBOX', 'UID COPY 1 INBOX'], MOVE: ['MOVE 1 Archive', 'UID MOVE 1 Archive'],
};

/** the session's words when the state refuses a command (session.ts executeInner) */
const REFUSED = /^TAG BAD \S+ (needs login first|needs a selected mailbox|not allowed now)$/;

async function inState(lab: Lab, state: Exclude<SessionState, 'logout'>): Promise<Client> {
  if (state === 'not-authenticated') return client(lab);
  const c = await client(lab, { user: USER });
  if (state === 'selected') assert.match(last(await c.cmd('SELECT INBOX')), /^TAG OK/);
  return c;
}

/** Send one command and read up to its tagged reply (IDLE is ended with DONE once it is accepted). */
async function run(c: Client, line: string): Promise<string> {
  if (!line.startsWith('IDLE')) return last(await c.cmd(line));
  c.send(`i1 ${line}\r\n`);
  const first = await c.next();
  if (!first.startsWith('+')) return first.replace('i1 ', 'TAG ');
  c.send('DONE\r\n');
  for (;;) { const l = await c.next(); if (l.startsWith('i1 ')) return l.replace('i1 ', 'TAG '); }
}

test('IMAP state table: every command in every state, refused exactly outside the states its handler names', async (t) => {
  const lab = await startLab(t, { users: { [USER]: 'pw' } });
  await lab.deliver(USER, fixture('plain.eml'));
  const verbs = Object.keys(COMMANDS) as ImapVerb[];
  assert.deepEqual([...verbs].sort(), Object.keys(SYNTAX).sort(), 'the command table and the grammar name the same verbs');
  assert.deepEqual([...verbs].sort(), Object.keys(SAMPLES).sort(), 'every verb has a sample here');
  let tried = 0;
  for (const state of ['not-authenticated', 'authenticated', 'selected'] as const) {
    for (const verb of verbs) {
      for (const line of SAMPLES[verb]) {
        const c = await inState(lab, state);
        try {
          const reply = await run(c, line);
          const allowed = COMMANDS[verb].states.includes(state);
          if (allowed) assert.doesNotMatch(reply, REFUSED, `${line} in ${state}: ${reply}`);
          else assert.match(reply, REFUSED, `${line} in ${state} must be refused: ${reply}`);
          tried++;
        } finally {
          c.close();
        }
      }
    }
  }
  assert.equal(tried, 3 * Object.values(SAMPLES).flat().length);
});

test('IMAP state table: in the logout state nothing is answered; the server closes after LOGOUT', async (t) => {
  const lab = await startLab(t, { users: { [USER]: 'pw' } });
  const sock = await lab.connect('imaps');
  const r = lineReader(sock, 10_000);
  await r.next(); // greeting
  const lines = Object.values(SAMPLES).flat().map((l, i) => `L${i} ${l}\r\n`).join('');
  sock.write(`a LOGIN ${USER} pw\r\nb LOGOUT\r\n${lines}`);
  let closed = false;
  sock.on('close', () => { closed = true; });
  const got: string[] = [];
  let end = '';
  for (;;) { try { got.push(await r.next()); } catch (err) { end = (err as Error).message; break; } }
  assert.equal(end, 'connection closed');
  assert.ok(closed);
  assert.match(got[0], /^a OK /);
  assert.equal(got[1], '* BYE postoffice logging out');
  assert.equal(got[2], 'b OK LOGOUT completed');
  assert.equal(got.length, 3, got.join('\n'));
});
