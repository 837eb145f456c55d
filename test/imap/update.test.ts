import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture, startLab } from '../helpers/lab.js';
import { client } from './helpers.js';

const USERS = { users: { 'bob@example.test': 'pw' } };

test('STORE: +FLAGS, -FLAGS, FLAGS, .SILENT, UID STORE, UNCHANGEDSINCE', async (t) => {
  const lab = await startLab(t, USERS);
  for (let i = 0; i < 3; i++) await lab.deliver('bob@example.test', fixture('plain.eml'));
  const c = await client(lab, { user: 'bob@example.test' });
  await c.cmd('EXAMINE INBOX');
  assert.deepEqual(await c.cmd('STORE 1 +FLAGS (\\Seen)'), ['TAG NO [READ-ONLY] mailbox is read-only (EXAMINE)']);
  await c.cmd('SELECT INBOX');
  assert.deepEqual(await c.cmd('STORE 1:2 +FLAGS (\\Seen)'), ['* 1 FETCH (FLAGS (\\Seen \\Recent))', '* 2 FETCH (FLAGS (\\Seen \\Recent))', 'TAG OK STORE completed']);
  assert.deepEqual(await c.cmd('STORE 1 -FLAGS.SILENT (\\Seen)'), ['TAG OK STORE completed']);
  // RFC 3501 §7.2.6: the new keyword is announced (FLAGS, PERMANENTFLAGS) before the FETCH shows it
  assert.deepEqual(await c.cmd('UID STORE 3 FLAGS (\\Answered foo)'), [
    '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft foo)',
    '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft foo \\*)] flags permitted',
    '* 3 FETCH (UID 3 FLAGS (\\Answered foo \\Recent))', 'TAG OK STORE completed',
  ]);
  assert.deepEqual(await c.cmd('STORE 1 +FLAGS (\\Bogus)'), ['TAG BAD invalid system flag \\Bogus']);
  const f = await c.cmd('FETCH 2 (MODSEQ)');
  // RFC 7162 §3.1: the first CONDSTORE-enabling command with a mailbox selected reports HIGHESTMODSEQ first
  assert.match(f[0], /^\* OK \[HIGHESTMODSEQ \d+\]/);
  const modseq = Number(/MODSEQ \((\d+)\)/.exec(f[1])![1]);
  assert.deepEqual(await c.cmd(`STORE 2 (UNCHANGEDSINCE ${modseq - 1}) +FLAGS (\\Flagged)`), ['TAG OK [MODIFIED 2] conditional STORE failed']);
  const ok = await c.cmd(`STORE 2 (UNCHANGEDSINCE ${modseq}) +FLAGS (\\Flagged)`);
  assert.match(ok[0], /^\* 2 FETCH \(FLAGS \(\\Seen \\Flagged \\Recent\) MODSEQ \(\d+\)\)$/);
});

test('EXPUNGE, UID EXPUNGE and CLOSE; UIDs are never reused', async (t) => {
  const lab = await startLab(t, USERS);
  for (let i = 0; i < 5; i++) await lab.deliver('bob@example.test', fixture('plain.eml'));
  const c = await client(lab, { user: 'bob@example.test' });
  await c.cmd('SELECT INBOX');
  await c.cmd('STORE 2,4,5 +FLAGS.SILENT (\\Deleted)');
  assert.deepEqual(await c.cmd('UID EXPUNGE 4:5'), ['* 5 EXPUNGE', '* 4 EXPUNGE', 'TAG OK EXPUNGE completed']);
  assert.deepEqual(await c.cmd('EXPUNGE'), ['* 2 EXPUNGE', 'TAG OK EXPUNGE completed']);
  assert.deepEqual(await c.cmd('UID SEARCH ALL'), ['* SEARCH 1 3', 'TAG OK SEARCH completed']);
  await lab.deliver('bob@example.test', fixture('plain.eml'));
  assert.deepEqual(await c.cmd('NOOP'), ['* 3 EXISTS', '* 3 RECENT', 'TAG OK NOOP completed']);
  assert.deepEqual(await c.cmd('UID FETCH 3:* UID'), ['* 2 FETCH (UID 3)', '* 3 FETCH (UID 6)', 'TAG OK FETCH completed']);
  await c.cmd('STORE 1 +FLAGS.SILENT (\\Deleted)');
  assert.deepEqual(await c.cmd('CLOSE'), ['TAG OK CLOSE completed']);
  assert.deepEqual(await c.cmd('FETCH 1 UID'), ['TAG BAD FETCH needs a selected mailbox']);
  const st = await c.cmd('STATUS INBOX (MESSAGES UIDNEXT)');
  assert.equal(st[0], '* STATUS "INBOX" (MESSAGES 2 UIDNEXT 7)');
});

test('COPY and MOVE with COPYUID, APPEND with APPENDUID, TRYCREATE', async (t) => {
  const lab = await startLab(t, USERS);
  for (let i = 0; i < 3; i++) await lab.deliver('bob@example.test', fixture('plain.eml'));
  const c = await client(lab, { user: 'bob@example.test' });
  const u = await lab.po.store.users.get('bob@example.test');
  const archive = await lab.po.store.mailboxes.get(u!.id, 'Archive');
  const sent = await lab.po.store.mailboxes.get(u!.id, 'Sent');
  await c.cmd('SELECT INBOX');
  assert.deepEqual(await c.cmd('COPY 1:2 Archive'), [`TAG OK [COPYUID ${archive!.uidValidity} 1:2 1:2] COPY completed`]);
  assert.deepEqual(await c.cmd('COPY 1 Nowhere'), ['TAG NO [TRYCREATE] no mailbox Nowhere']);
  assert.deepEqual(await c.cmd('UID MOVE 2:3 Archive'), [
    `* OK [COPYUID ${archive!.uidValidity} 2:3 3:4] moved`, '* 3 EXPUNGE', '* 2 EXPUNGE', 'TAG OK MOVE completed',
  ]);
  assert.deepEqual(await c.cmd('MOVE 1 Archive'), [`* OK [COPYUID ${archive!.uidValidity} 1 5] moved`, '* 1 EXPUNGE', 'TAG OK MOVE completed']);
  const st = await c.cmd('STATUS Archive (MESSAGES)');
  assert.equal(st[0], '* STATUS "Archive" (MESSAGES 5)');
  const msg = fixture('plain.eml');
  c.send(`a1 APPEND Sent (\\Seen) "24-Nov-2026 10:11:12 +0100" {${msg.length}}\r\n`);
  assert.equal(await c.next(), '+ Ready for literal data');
  c.send(msg.toString('latin1') + '\r\n');
  assert.equal(await c.next(), `a1 OK [APPENDUID ${sent!.uidValidity} 1] APPEND completed`);
  c.send(`a2 APPEND Sent {${msg.length}+}\r\n${msg.toString('latin1')}\r\n`);
  assert.equal(await c.next(), `a2 OK [APPENDUID ${sent!.uidValidity} 2] APPEND completed`);
  assert.deepEqual(await c.cmd('APPEND Nowhere {3+}\r\nabc'), ['TAG NO [TRYCREATE] no mailbox Nowhere']);
  // RFC 3516 §4.4: literal8 in APPEND
  assert.deepEqual(await c.cmd(`APPEND Sent ~{${msg.length}+}\r\n${msg.toString('latin1')}`), [`TAG OK [APPENDUID ${sent!.uidValidity} 3] APPEND completed`]);
  await c.cmd('EXAMINE Sent');
  assert.deepEqual(await c.cmd('FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE)'), [`* 1 FETCH (FLAGS (\\Seen \\Recent) INTERNALDATE "24-Nov-2026 09:11:12 +0000" RFC822.SIZE ${msg.length})`, 'TAG OK FETCH completed']);
  const body = await lab.po.store.messages.raw((await lab.po.store.messages.get(sent!.id, 1))!.blobId);
  assert.deepEqual(body, msg);
});

test('a second session sees flag changes, new mail and expunges at the points RFC 3501 allows', async (t) => {
  const lab = await startLab(t, USERS);
  for (let i = 0; i < 3; i++) await lab.deliver('bob@example.test', fixture('plain.eml'));
  const a = await client(lab, { user: 'bob@example.test' });
  const b = await client(lab, { user: 'bob@example.test' });
  await a.cmd('SELECT INBOX');
  await b.cmd('SELECT INBOX');
  await a.cmd('STORE 2 +FLAGS.SILENT (\\Flagged \\Deleted)');
  assert.deepEqual(await b.cmd('NOOP'), ['* 2 FETCH (UID 2 FLAGS (\\Flagged \\Deleted))', 'TAG OK NOOP completed']);
  await a.cmd('EXPUNGE');
  await lab.deliver('bob@example.test', fixture('plain.eml'));
  // §7.4.1: no EXPUNGE during FETCH; the new message may be announced
  assert.deepEqual(await b.cmd('FETCH 3 UID'), ['* 3 FETCH (UID 3)', 'TAG OK FETCH completed']);
  assert.deepEqual(await b.cmd('NOOP'), ['* 2 EXPUNGE', '* 3 EXISTS', '* 1 RECENT', 'TAG OK NOOP completed']);
  assert.deepEqual(await b.cmd('UID SEARCH ALL'), ['* SEARCH 1 3 4', 'TAG OK SEARCH completed']);
});
