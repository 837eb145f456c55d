// The store side of the learning lab: transcripts (bounded, linked to msgIds), journey.recent,
// users.setAdmin, queue.flush(id) and prune, through the real writer thread and SQLite.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TRANSCRIPT_MAX_BYTES, TRANSCRIPT_MAX_LINES } from '../../src/store/defaults.js';
import type { TranscriptLine, TranscriptSession } from '../../src/store/index.js';
import { startLab } from '../helpers/lab.js';

function session(sid: string, patch: Partial<TranscriptSession> = {}): TranscriptSession {
  return { sid, protocol: 'imap', local: '127.0.0.1:143', remote: '127.0.0.1:5000', user: null, tls: null, started: Date.now(), ended: null, msgIds: [], ...patch };
}

test('transcripts: batches append in order, metadata merges, msgIds link both ways', async (t) => {
  const lab = await startLab(t);
  const { store } = lab.po;
  const t0 = Date.now();
  await store.transcripts.write(session('s1', { started: t0, msgIds: ['a.1'] }), [
    { t: t0, dir: 'S', text: '* OK ready' }, { t: t0 + 1, dir: 'C', text: 'a LOGIN bob ***' },
  ]);
  await store.transcripts.write(session('s1', { started: t0, user: 'bob@example.test', tls: 'TLSv1.3 X', msgIds: ['a.1', 'a.2'] }), [
    { t: t0 + 2, dir: 'S', text: 'a OK' },
  ]);
  // a later batch without user/tls keeps what was known
  await store.transcripts.write(session('s1', { started: t0, ended: t0 + 5 }), [{ t: t0 + 3, dir: 'note', text: 'closed' }]);
  const got = (await store.transcripts.get('s1'))!;
  assert.deepEqual(got.lines.map((l) => `${l.dir}: ${l.text}`), ['S: * OK ready', 'C: a LOGIN bob ***', 'S: a OK', 'note: closed']);
  assert.equal(got.user, 'bob@example.test');
  assert.equal(got.tls, 'TLSv1.3 X');
  assert.equal(got.ended, t0 + 5);
  assert.equal(got.truncated, false);
  assert.deepEqual(got.msgIds, ['a.1', 'a.2']);
  await store.transcripts.write(session('s2', { started: t0 + 10, protocol: 'pop3', msgIds: ['a.2'] }), []);
  const all = await store.transcripts.list({ limit: 10 });
  assert.deepEqual(all.map((s) => s.sid), ['s2', 's1']);
  assert.equal(all[1].lines, 4);
  assert.ok(all[1].bytes > 0);
  assert.deepEqual((await store.transcripts.list({ limit: 10, msgId: 'a.2' })).map((s) => s.sid), ['s2', 's1']);
  assert.deepEqual((await store.transcripts.list({ limit: 10, msgId: 'a.1' })).map((s) => s.sid), ['s1']);
  assert.deepEqual((await store.transcripts.list({ limit: 10, beforeStarted: t0 + 10 })).map((s) => s.sid), ['s1']);
  assert.equal(await store.transcripts.get('nope'), null);
});

test('transcripts: a session is bounded in lines and bytes, then marked truncated', async (t) => {
  const lab = await startLab(t);
  const { store } = lab.po;
  const lines = (n: number, text: string): TranscriptLine[] => Array.from({ length: n }, (_, i) => ({ t: Date.now(), dir: 'C', text: `${text}${i}` }));
  await store.transcripts.write(session('many'), lines(TRANSCRIPT_MAX_LINES - 10, 'x'));
  await store.transcripts.write(session('many'), lines(50, 'y'));
  const many = (await store.transcripts.get('many'))!;
  assert.equal(many.lines.length, TRANSCRIPT_MAX_LINES);
  assert.equal(many.truncated, true);
  assert.equal(many.lines.at(-1)!.text, 'y9');
  // once truncated, later lines are dropped even if they would fit
  await store.transcripts.write(session('many'), lines(1, 'z'));
  assert.equal((await store.transcripts.get('many'))!.lines.length, TRANSCRIPT_MAX_LINES);

  await store.transcripts.write(session('big'), lines(100, 'b'.repeat(10_000)));
  const big = (await store.transcripts.get('big'))!;
  assert.equal(big.truncated, true);
  assert.ok(big.lines.length < 100 && big.lines.length >= 20, `${big.lines.length} lines kept`);
  const sum = (await store.transcripts.list({ limit: 5 })).find((s) => s.sid === 'big')!;
  assert.ok(sum.bytes <= TRANSCRIPT_MAX_BYTES);
});

test('journey.recent lists messages by their newest step; lastId follows the table', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  const { store } = lab.po;
  assert.equal(await store.journey.lastId(), 0);
  assert.deepEqual(await store.journey.recent({ limit: 10 }), []);
  const raw = (n: number) => Buffer.from(`From: a@example.test\r\nSubject: hello ${n}\r\nMessage-ID: <m${n}@example.test>\r\n\r\nbody\r\n`);
  const bob = (await store.users.get('bob@example.test'))!;
  const base = Date.now() - 10_000;
  for (const n of [1, 2, 3]) {
    await store.deliver({
      msgId: `j.${n}`, mailFrom: 'a@example.test', raw: raw(n), remote: [],
      journey: [{ msgId: `j.${n}`, agent: 'MTA in', step: 'received', time: base + n * 1000, details: {} }],
      local: [{ userId: bob.id, address: bob.address, rcptTo: bob.address }],
    });
  }
  const mark = await store.journey.lastId();
  assert.ok(mark > 0);
  // message 1 gets a newer step: it comes first
  await store.journey.record([{ msgId: 'j.1', agent: 'MTA out', step: 'note', time: Date.now() + 1000, details: {} }]);
  await store.journey.accessed({ sid: 'acc1', user: bob.address, protocol: 'imap', client: null }, 'fetched', [{ msgId: 'j.2', mailbox: 'INBOX', uid: 2 }]);
  const recent = await store.journey.recent({ limit: 10 });
  assert.deepEqual(recent.map((r) => r.msgId), ['j.1', 'j.3', 'j.2']);
  assert.equal(recent[0].lastStep, 'note');
  assert.equal(recent[0].lastAgent, 'MTA out');
  assert.equal(recent[0].subject, 'hello 1');
  assert.equal(recent[0].messageId, '<m1@example.test>');
  assert.equal(recent[0].lastId, await store.journey.lastId());
  assert.equal(recent[2].steps, 3, 'received, stored and the access step');
  assert.deepEqual((await store.journey.recent({ limit: 10, afterId: mark })).map((r) => r.msgId), ['j.1']);
  assert.deepEqual((await store.journey.recent({ limit: 1 })).map((r) => r.msgId), ['j.1']);
  // the next page: messages whose newest step is older than the last one shown
  const page2 = await store.journey.recent({ limit: 10, beforeTime: recent[0].last });
  assert.deepEqual(page2.map((r) => r.msgId).sort(), ['j.2', 'j.3']);
});

test('users.setAdmin and queue.flush(id)', async (t) => {
  const lab = await startLab(t, { users: { 'alice@example.test': 'pw' } });
  const { store } = lab.po;
  assert.equal((await store.users.get('alice@example.test'))!.admin, false);
  assert.equal(await store.users.setAdmin('alice@example.test', true), true);
  assert.equal((await store.users.get('alice@example.test'))!.admin, true);
  assert.equal((await store.users.list()).find((u) => u.address === 'alice@example.test')!.admin, true);
  assert.equal(await store.users.setAdmin('alice@example.test', false), true);
  assert.equal((await store.users.get('alice@example.test'))!.admin, false);
  assert.equal(await store.users.setAdmin('nobody@example.test', true), false);
  assert.equal(await store.queue.flush(12345), 0);
});

test('prune drops old transcripts, the oldest beyond the byte cap, and old journey rows', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  const { store } = lab.po;
  const now = Date.now();
  const day = 86_400_000;
  const line = (text: string): TranscriptLine[] => [{ t: now, dir: 'S', text }];
  await store.transcripts.write(session('old', { started: now - 10 * day, msgIds: ['p.1'] }), line('old'));
  await store.transcripts.write(session('mid', { started: now - 2 * day }), line('m'.repeat(3000)));
  await store.transcripts.write(session('new', { started: now - day }), line('n'.repeat(3000)));
  await store.journey.record([
    { msgId: 'p.1', agent: 'MTA in', step: 'received', time: now - 40 * day, details: {} },
    { msgId: 'p.2', agent: 'MTA in', step: 'received', time: now - day, details: {} },
  ]);
  await store.journey.accessed({ sid: 'oldsess', user: 'bob@example.test', protocol: 'pop3', client: null }, 'retrieved',
    [{ msgId: 'p.1', mailbox: 'INBOX', uid: 1, time: now - 40 * day }]);
  await store.journey.accessed({ sid: 'newsess', user: 'bob@example.test', protocol: 'pop3', client: null }, 'retrieved',
    [{ msgId: 'p.2', mailbox: 'INBOX', uid: 1, time: now - day }]);
  const res = await store.prune({ transcriptsBefore: now - 7 * day, transcriptMaxBytes: 4000, journeyBefore: now - 30 * day });
  assert.deepEqual(res, { transcripts: 2, journey: 2 });
  assert.deepEqual((await store.transcripts.list({ limit: 10 })).map((s) => s.sid), ['new']);
  assert.equal(await store.transcripts.get('old'), null);
  assert.deepEqual(await store.transcripts.list({ limit: 10, msgId: 'p.1' }), []);
  assert.deepEqual(await store.journey.trace('p.1'), []);
  const p2 = await store.journey.trace('p.2');
  assert.deepEqual(p2.map((r) => r.step), ['received', 'retrieved']);
  assert.equal(p2[1].details.session, 'newsess');
  // nothing left to do: a second run deletes nothing
  assert.deepEqual(await store.prune({ transcriptsBefore: now - 7 * day, transcriptMaxBytes: 4000, journeyBefore: now - 30 * day }), { transcripts: 0, journey: 0 });
});
