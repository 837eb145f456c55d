// RFC 1939 §3 states: every command is tried in every state, over a real socket, and must be
// refused ("-ERR <VERB> not valid in the <STATE> state") exactly where the command table
// (src/pop3/commands/index.ts, each descriptor's `states`) does not name that state, and run
// where it does. UPDATE is entered by QUIT and ends the session: nothing sent after QUIT runs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { COMMANDS } from '../../src/pop3/commands/index.js';
import type { Pop3Verb } from '../../src/pop3/parser.js';
import type { Pop3State } from '../../src/pop3/types.js';
import { fixture, startLab } from '../helpers/lab.js';
import { Pop3Client } from './client.js';

const BOB = { 'bob@example.test': 'pw' };

/** A well-formed instance of each verb (so a refusal can only be the state's). */
const SAMPLE: Record<Pop3Verb, string> = {
  USER: 'USER bob@example.test', PASS: 'PASS pw', AUTH: 'AUTH PLAIN', STLS: 'STLS', CAPA: 'CAPA', QUIT: 'QUIT',
  STAT: 'STAT', LIST: 'LIST', RETR: 'RETR 1', DELE: 'DELE 1', NOOP: 'NOOP', RSET: 'RSET', TOP: 'TOP 1 0', UIDL: 'UIDL',
};

test('the command table names a state for every verb, and no verb runs in UPDATE', () => {
  assert.deepEqual(Object.keys(SAMPLE).sort(), Object.keys(COMMANDS).sort(), 'a sample line for every verb of the table');
  for (const [verb, c] of Object.entries(COMMANDS)) {
    assert.ok(c.states.length > 0, `${verb} runs in no state`);
    assert.ok(!c.states.includes('update'), `${verb}: UPDATE takes no commands (RFC 1939 §6)`);
  }
});

test('every command in AUTHORIZATION and TRANSACTION: refused exactly outside the states its descriptor names', { timeout: 120_000 }, async (t) => {
  const lab = await startLab(t, { users: BOB });
  await lab.deliver('bob@example.test', fixture('pop3-text.eml'));
  const failures: string[] = [];
  for (const state of ['authorization', 'transaction'] as Pop3State[]) {
    for (const verb of Object.keys(COMMANDS) as Pop3Verb[]) {
      const allowed = COMMANDS[verb].states.includes(state);
      // STLS can only succeed on the plain listener; everything else runs over POP3S
      const plain = verb === 'STLS' && allowed;
      const c = await Pop3Client.connect(lab.port(plain ? 'pop3' : 'pop3s'), { tls: !plain });
      try {
        assert.match(await c.line(), /^\+OK /);
        if (state === 'transaction') assert.match(await c.login('bob@example.test', 'pw'), /^\+OK /, 'login');
        // PASS runs in AUTHORIZATION only after USER (RFC 1939 §7); that is the command's own rule, not the state's
        if (verb === 'PASS' && state === 'authorization') assert.match(await c.cmd('USER bob@example.test'), /^\+OK /);
        const reply = await c.cmd(SAMPLE[verb]);
        const refusal = `-ERR ${verb} not valid in the ${state.toUpperCase()} state`;
        if (!allowed && reply !== refusal) failures.push(`${state} ${verb}: expected "${refusal}", got "${reply}"`);
        // run where named: a success, or AUTH's first SASL challenge (RFC 5034 §4: "+ ")
        if (allowed && !(reply.startsWith('+OK') || (verb === 'AUTH' && reply.startsWith('+ ')))) failures.push(`${state} ${verb}: expected it to run, got "${reply}"`);
      } finally {
        c.close();
      }
    }
  }
  assert.deepEqual(failures, []);
});

test('UPDATE: commands pipelined after QUIT are not run (the session ends with QUIT\'s reply), and DELE takes effect', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: BOB });
  await lab.deliver('bob@example.test', fixture('pop3-text.eml'));
  await lab.deliver('bob@example.test', fixture('pop3-text.eml'));
  const c = await Pop3Client.connect(lab.port('pop3s'), { tls: true });
  assert.match(await c.line(), /^\+OK /);
  assert.match(await c.login('bob@example.test', 'pw'), /^\+OK /);
  assert.equal(await c.cmd('DELE 1'), '+OK message 1 deleted');
  // one write: QUIT and then a command of every verb, as a client pipelining past QUIT would
  c.write(['QUIT', ...Object.values(SAMPLE)].map((l) => `${l}\r\n`).join(''));
  assert.equal(await c.line(), '+OK postoffice POP3 server signing off (1 message left)');
  await c.closedByServer();
  await assert.rejects(c.line(), /connection closed/, 'nothing answered after QUIT');
  // the pipelined DELE/RSET did not run: exactly the one DELE before QUIT was applied
  const d = await Pop3Client.connect(lab.port('pop3s'), { tls: true });
  await d.line();
  assert.match(await d.login('bob@example.test', 'pw'), /^\+OK bob@example\.test has 1 message/);
  assert.match(await d.cmd('QUIT'), /^\+OK /);
  d.close();
});
