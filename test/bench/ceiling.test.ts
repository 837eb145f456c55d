// bench/ceiling: the light Node client counts what the shared load generator counts, and the replay
// serves back every answer it recorded (the shared pobench.py reads the same message counts from
// the replay as from the server). A small mailbox on a lab post office; the figures are not checked.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT, startLab } from '../helpers/lab.js';

const PW = 'benchpw';
const USERS = { 'bench-in@example.test': PW, 'bench-pop1@example.test': PW, 'bench-pop2@example.test': PW };
const SHARED = path.join(ROOT, '..', 'shared');

function message(i: number): Buffer {
  // a line that needs dot-stuffing in POP3, and one message without a body
  const body = i === 3 ? '' : `line one of ${i}\r\n.a line that starts with a dot\r\n${'x'.repeat(200 + i)}\r\n`;
  return Buffer.from(`From: <s${i}@example.test>\r\nTo: <bench-in@example.test>\r\nSubject: ceiling ${i}\r\nMessage-ID: <c${i}@example.test>\r\n\r\n${body}`);
}

async function fill(lab: Awaited<ReturnType<typeof startLab>>): Promise<void> {
  for (let i = 0; i < 12; i++) await lab.deliver('bench-in@example.test', message(i));
  for (let i = 0; i < 5; i++) {
    await lab.deliver('bench-pop1@example.test', message(i));
    await lab.deliver('bench-pop2@example.test', message(i + 5));
  }
}

test('the light client: imap_fetch and pop3_retr count every message, the bytes of RETR are the wire bytes', { timeout: 60_000 }, async (t) => {
  const lab = await startLab(t, { users: USERS, env: { POSTOFFICE_ALLOW_PLAINTEXT_LOOPBACK: 'true' } });
  await fill(lab);
  const light = await import(path.join(ROOT, 'bench', 'ceiling', 'light.mjs'));
  const f = await light.imapFetch('127.0.0.1', lab.port('imap'), 'bench-in@example.test', PW, 3);
  assert.equal(f.meta_fetched, 36);
  assert.equal(f.bodies_fetched, 36);
  assert.ok(f.msgs_per_s > 0 && f.wall_s > 0);
  const p = await light.pop3Retr('127.0.0.1', lab.port('pop3'), ['bench-pop1@example.test', 'bench-pop2@example.test'], PW);
  assert.equal(p.msgs, 10);
  // each RETR: "+OK ...\r\n", the stuffed body, ".\r\n"
  let wire = 0;
  for (let i = 0; i < 10; i++) {
    const m = message(i);
    const stuffed = m.toString('latin1').replace(/\r\n\./g, '\r\n..');
    wire += `+OK ${m.length} octets\r\n`.length + stuffed.length + (stuffed.endsWith('\r\n') ? 0 : 2) + 3;
  }
  assert.equal(p.bytes, wire);
});

test('the replay serves what it recorded: the shared load generator counts the same messages from it as from the server', { timeout: 120_000, skip: !existsSync(path.join(SHARED, 'bench', 'pobench.py')) && 'no ../shared/bench' }, async (t) => {
  const lab = await startLab(t, { users: USERS, env: { POSTOFFICE_ALLOW_PLAINTEXT_LOOPBACK: 'true' } });
  await fill(lab);
  const out = await new Promise<string>((resolve, reject) => {
    const p = spawn(process.execPath, [path.join(ROOT, 'bench', 'ceiling', 'replay.mjs'), '--imap', `127.0.0.1:${lab.port('imap')}`, '--pop3', `127.0.0.1:${lab.port('pop3')}`, '--runs', '1', '--label', 'lab'], {
      env: { ...process.env, SHARED, BENCH_FETCH_CLIENTS: '2', BENCH_POP3_SESSIONS: '2' },
    });
    let o = '', e = '';
    p.stdout.on('data', (d) => { o += d; });
    p.stderr.on('data', (d) => { e += d; });
    p.on('close', (code) => (code === 0 ? resolve(o) : reject(new Error(`replay.mjs exited ${code}: ${e}`))));
  });
  const rows = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const pick = (target: string, client: string, workload: string) => rows.find((r) => r.target === target && r.client === client && r.workload === workload);
  for (const target of ['replay', 'lab']) {
    assert.equal(pick(target, 'python', 'imap_fetch')?.bodies_fetched, 24, `${target} imap_fetch`);
    assert.equal(pick(target, 'python', 'imap_fetch')?.meta_fetched, 24, `${target} imap_fetch meta`);
    assert.equal(pick(target, 'python', 'pop3_retr')?.msgs, 10, `${target} pop3_retr`);
  }
  // the same bytes from both, but for \Recent: the recording session was the first to see the
  // messages, so its FLAGS say (\Recent) where a later session's say () (7 bytes, 12 messages, 2 clients)
  assert.equal(pick('replay', 'python', 'imap_fetch')?.bytes, (pick('lab', 'python', 'imap_fetch')?.bytes as number) + 2 * 12 * '\\Recent'.length);
  assert.equal(pick('lab', 'node', 'pop3_retr')?.msgs, 10);
  assert.equal(pick('lab', 'node', 'imap_fetch')?.bodies_fetched, 24);
});
