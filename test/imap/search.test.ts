import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture, startLab } from '../helpers/lab.js';
import { client } from './helpers.js';

test('SEARCH: flags, sizes, dates, headers, text, OR/NOT, sequence and UID sets, CHARSET, ESEARCH', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  await lab.deliver('bob@example.test', fixture('plain.eml'));
  await lab.deliver('bob@example.test', fixture('multipart.eml'));
  await lab.deliver('bob@example.test', fixture('plain.eml'));
  const c = await client(lab, { user: 'bob@example.test' });
  await c.cmd('SELECT INBOX');
  await c.cmd('STORE 2 +FLAGS (\\Flagged $Important)');
  await c.cmd('STORE 3 +FLAGS (\\Seen \\Deleted)');
  const q = async (crit: string) => (await c.cmd(crit))[0];
  assert.equal(await q('SEARCH ALL'), '* SEARCH 1 2 3');
  assert.equal(await q('SEARCH FLAGGED'), '* SEARCH 2');
  assert.equal(await q('SEARCH UNSEEN'), '* SEARCH 1 2');
  assert.equal(await q('SEARCH KEYWORD $Important'), '* SEARCH 2');
  assert.equal(await q('SEARCH UNKEYWORD $Important'), '* SEARCH 1 3');
  assert.equal(await q('SEARCH OR FLAGGED DELETED'), '* SEARCH 2 3');
  assert.equal(await q('SEARCH NOT (FLAGGED)'), '* SEARCH 1 3');
  assert.equal(await q('SEARCH LARGER 500'), '* SEARCH 2');
  assert.equal(await q('SEARCH SMALLER 500'), '* SEARCH 1 3');
  assert.equal(await q('SEARCH FROM alice SUBJECT plain'), '* SEARCH 1 3');
  assert.equal(await q('SEARCH TO carol'), '* SEARCH 2');
  assert.equal(await q('SEARCH CC "Dave"'), '* SEARCH 2');
  assert.equal(await q('SEARCH HEADER Message-ID multi1'), '* SEARCH 2');
  assert.equal(await q('SEARCH HEADER X-Nothing ""'), '* SEARCH');
  assert.equal(await q('SEARCH BODY "plain message"'), '* SEARCH 1 3');
  assert.equal(await q('SEARCH TEXT "Hello plain"'), '* SEARCH 1 3');
  assert.equal(await q('SEARCH CHARSET UTF-8 SUBJECT "中文"'), '* SEARCH 2');
  assert.equal(await q('SEARCH CHARSET UTF-8 BODY café'), '* SEARCH 2');
  assert.deepEqual(await c.cmd('SEARCH CHARSET KOI8-R ALL'), ['TAG NO [BADCHARSET (UTF-8 US-ASCII)] charset KOI8-R is not supported']);
  assert.equal(await q('SEARCH SENTON 24-Nov-2026'), '* SEARCH 2');
  assert.equal(await q('SEARCH SENTBEFORE 24-Nov-2026'), '* SEARCH 1 3');
  assert.equal(await q('SEARCH SINCE 1-Jan-2000'), '* SEARCH 1 2 3');
  assert.equal(await q('SEARCH BEFORE 1-Jan-2000'), '* SEARCH');
  assert.equal(await q('SEARCH 2:*'), '* SEARCH 2 3');
  assert.equal(await q('SEARCH UID 1,3'), '* SEARCH 1 3');
  assert.equal(await q('UID SEARCH NOT DELETED'), '* SEARCH 1 2');
  assert.equal(await q('SEARCH RECENT'), '* SEARCH 1 2 3');
  assert.equal(await q('SEARCH NEW'), '* SEARCH 1 2');
  assert.match((await c.cmd('SEARCH RETURN (MIN MAX COUNT) UNDELETED'))[0], /^\* ESEARCH \(TAG "t\d+"\) MIN 1 MAX 2 COUNT 2$/);
  const all = await c.cmd('UID SEARCH RETURN () ALL');
  assert.match(all[0], /^\* ESEARCH \(TAG "t\d+"\) UID ALL 1:3$/);
  assert.deepEqual(await c.cmd('SEARCH BOGUS'), ['TAG BAD unknown search key BOGUS']);
  assert.deepEqual(await c.cmd('SEARCH SINCE yesterday'), ['TAG BAD invalid date']);
});

test('SEARCHRES (RFC 5182): SEARCH RETURN (SAVE), then $ in FETCH, STORE and SEARCH', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  for (const f of ['plain.eml', 'multipart.eml', 'plain.eml']) await lab.deliver('bob@example.test', fixture(f));
  const c = await client(lab, { user: 'bob@example.test' });
  await c.cmd('SELECT INBOX');
  assert.deepEqual(await c.cmd('UID SEARCH RETURN (SAVE) SUBJECT plain'), ['TAG OK SEARCH completed (result saved)']);
  assert.deepEqual(await c.cmd('FETCH $ (UID)'), ['* 1 FETCH (UID 1)', '* 3 FETCH (UID 3)', 'TAG OK FETCH completed']);
  assert.deepEqual(await c.cmd('STORE $ +FLAGS.SILENT (\\Answered)'), ['TAG OK STORE completed']);
  assert.deepEqual(await c.cmd('SEARCH NOT UID $'), ['* SEARCH 2', 'TAG OK SEARCH completed']);
  assert.deepEqual(await c.cmd('SEARCH ANSWERED'), ['* SEARCH 1 3', 'TAG OK SEARCH completed']);
});

test('IMAP4rev2 after ENABLE (RFC 9051 appendix E): ESEARCH always, no \\Recent or RECENT, UTF-8 names, LIST in SELECT', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  await lab.deliver('bob@example.test', fixture('plain.eml'));
  const c = await client(lab, { user: 'bob@example.test' });
  assert.deepEqual(await c.cmd('ENABLE IMAP4rev2'), ['* ENABLED IMAP4rev2', 'TAG OK ENABLE completed']);
  const sel = await c.cmd('SELECT INBOX');
  assert.ok(!sel.some((l) => / RECENT$|\[UNSEEN /.test(l)), sel.join('\n'));
  assert.ok(sel.includes('* LIST () "/" "INBOX"'));
  assert.deepEqual(await c.cmd('FETCH 1 FLAGS'), ['* 1 FETCH (FLAGS ())', 'TAG OK FETCH completed']);
  assert.match((await c.cmd('SEARCH ALL'))[0], /^\* ESEARCH \(TAG "t\d+"\) ALL 1$/);
  assert.match((await c.cmd('SEARCH DELETED'))[0], /^\* ESEARCH \(TAG "t\d+"\)$/);
  assert.deepEqual(await c.cmd('CREATE "Überweisungen/März"'), ['TAG OK CREATE completed']);
  const l = await c.cmd('LIST "" "Überweisungen/*"');
  assert.equal(l[0], `* LIST (\\HasNoChildren) "/" {${Buffer.byteLength('Überweisungen/März')}}`);
  assert.equal(l[1], Buffer.from('Überweisungen/März').toString('latin1')); // the reader decodes latin1
  const u = await lab.po.store.users.get('bob@example.test');
  assert.ok(await lab.po.store.mailboxes.get(u!.id, 'Überweisungen/März'));
});

test('SEARCH MODSEQ (RFC 7162 §3.1.5): the highest mod-sequence comes with a MODSEQ key only, never because a string says "modseq"', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  const raw = (subject: string) => Buffer.from(`From: a@example.test\r\nTo: bob@example.test\r\nSubject: ${subject}\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.test>\r\n\r\nbody\r\n`);
  await lab.deliver('bob@example.test', raw('about modseq values'));
  await lab.deliver('bob@example.test', raw('other'));
  const c = await client(lab, { user: 'bob@example.test' });
  await c.cmd('SELECT INBOX');
  await c.cmd('STORE 2 +FLAGS (\\Seen)');
  const f = await c.cmd('FETCH 1:2 (MODSEQ)');
  const modseqs = f.filter((l) => l.startsWith('* ') && l.includes('FETCH')).map((l) => Number(/MODSEQ \((\d+)\)/.exec(l)![1]));
  assert.equal(modseqs.length, 2);
  // a SUBJECT (or BODY, TEXT, HEADER) string "modseq" is not the MODSEQ key: a plain SEARCH reply
  assert.deepEqual(await c.cmd('SEARCH SUBJECT "modseq"'), ['* SEARCH 1', 'TAG OK SEARCH completed']);
  assert.deepEqual(await c.cmd('SEARCH TEXT modseq'), ['* SEARCH 1', 'TAG OK SEARCH completed']);
  const es = await c.cmd('SEARCH RETURN (ALL) SUBJECT modseq');
  assert.match(es[0], /^\* ESEARCH \(TAG "t\d+"\) ALL 1$/);
  // the MODSEQ key: the highest mod-sequence of the messages found
  assert.deepEqual(await c.cmd('SEARCH MODSEQ 1'), [`* SEARCH 1 2 (MODSEQ ${Math.max(...modseqs)})`, 'TAG OK SEARCH completed']);
  assert.deepEqual(await c.cmd(`SEARCH MODSEQ "/flags/\\\\seen" all ${modseqs[1]}`), [`* SEARCH 2 (MODSEQ ${modseqs[1]})`, 'TAG OK SEARCH completed']);
  assert.deepEqual(await c.cmd(`SEARCH NOT MODSEQ ${modseqs[1]}`), [`* SEARCH 1 (MODSEQ ${modseqs[0]})`, 'TAG OK SEARCH completed']);
});

test('SEARCH SENT* use the Date: header\'s day as written (zone disregarded); FROM/TO/CC/BCC search the envelope addresses (RFC 3501 §6.4.4)', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  const msg = (headers: string) => Buffer.from(`${headers}\r\nSubject: s\r\nMessage-ID: <${Math.random().toString(36).slice(2)}@example.test>\r\n\r\nbody\r\n`);
  // 1: the 25th in +0200 is still the 24th in UTC; 2: the 24th late in -0500 is the 25th in UTC
  await lab.deliver('bob@example.test', msg('Date: Sun, 25 Mar 2007 00:30:00 +0200\r\nFrom: <user-from (comment)@ (comment) domain.org>\r\nTo: bob@example.test'));
  await lab.deliver('bob@example.test', msg('Date: Sat, 24 Mar 2007 23:00:00 -0500\r\nFrom: RealFrom <other@domain.org>\r\nTo: team: a@x.test, b@x.test;'));
  await lab.deliver('bob@example.test', msg('Date: 26 Mar 07 10:00 GMT\r\nFrom: x@y.test\r\nTo: bob@example.test\r\nCc: "Carol C" <carol@z.test>'));
  const c = await client(lab, { user: 'bob@example.test' });
  await c.cmd('SELECT INBOX');
  const q = async (crit: string) => (await c.cmd(`SEARCH ${crit}`))[0];
  assert.equal(await q('SENTON 25-Mar-2007'), '* SEARCH 1');
  assert.equal(await q('SENTON 24-Mar-2007'), '* SEARCH 2');
  assert.equal(await q('SENTBEFORE 25-Mar-2007'), '* SEARCH 2');
  assert.equal(await q('SENTSINCE 25-Mar-2007'), '* SEARCH 1 3');
  assert.equal(await q('SENTON 26-Mar-2007'), '* SEARCH 3'); // a two-digit year (RFC 5322 §4.3)
  assert.equal(await q('NOT SENTON 25-Mar-2007'), '* SEARCH 2 3');
  // the address as the envelope has it: comments gone, display names and group names searchable
  assert.equal(await q('FROM user-from@domain.org'), '* SEARCH 1');
  assert.equal(await q('FROM ealfro'), '* SEARCH 2');
  assert.equal(await q('TO team'), '* SEARCH 2');
  assert.equal(await q('TO b@x.test'), '* SEARCH 2');
  assert.equal(await q('CC "carol c"'), '* SEARCH 3');
  assert.equal(await q('CC nobody'), '* SEARCH');
  // HEADER still reads the header's text
  assert.equal(await q('HEADER From "(comment)"'), '* SEARCH 1');
});

test('SEARCH UNSEEN, NEW, DELETED, FLAGGED, NOT SEEN, NOT UNDELETED, NOT UNFLAGGED read only the records the flags\' indexes name (messages.flagCandidates); combined keys still match exactly', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  for (let i = 1; i <= 60; i++) await lab.deliver('bob@example.test', Buffer.from(`From: <a${i}@example.test>\r\nSubject: ${i % 2 ? 'odd' : 'even'} ${i}\r\n\r\nbody ${i}\r\n`));
  const c = await client(lab, { user: 'bob@example.test' });
  await c.cmd('SELECT INBOX');
  await c.cmd('STORE 1:57 +FLAGS.SILENT (\\Seen)');
  await c.cmd('STORE 5,6,59 +FLAGS.SILENT (\\Deleted)');
  await c.cmd('STORE 7,58 +FLAGS.SILENT (\\Flagged)');
  // every record SEARCH asks the store for
  const messages = lab.po.store.messages;
  const some = messages.some.bind(messages);
  let read = 0;
  messages.some = async (mailboxId, uids) => { read += uids.length; return some(mailboxId, uids); };
  const q = async (crit: string) => { read = 0; const out = (await c.cmd(crit))[0]; return { out, read }; };
  assert.deepEqual(await q('SEARCH UNSEEN'), { out: '* SEARCH 58 59 60', read: 3 });
  assert.deepEqual(await q('SEARCH NOT SEEN'), { out: '* SEARCH 58 59 60', read: 3 });
  assert.deepEqual(await q('SEARCH NEW'), { out: '* SEARCH 58 59 60', read: 3 });
  assert.deepEqual(await q('SEARCH DELETED'), { out: '* SEARCH 5 6 59', read: 3 });
  assert.deepEqual(await q('SEARCH NOT UNDELETED'), { out: '* SEARCH 5 6 59', read: 3 });
  assert.deepEqual(await q('SEARCH UNSEEN DELETED'), { out: '* SEARCH 59', read: 1 });
  // few unseen: those are tested, the header index is not asked
  assert.deepEqual(await q('SEARCH UNSEEN SUBJECT odd'), { out: '* SEARCH 59', read: 3 });
  assert.deepEqual(await q('SEARCH OR UNSEEN DELETED'), { out: '* SEARCH 5 6 58 59 60', read: 5 });
  assert.deepEqual(await q('UID SEARCH UNSEEN UNDELETED 1:59'), { out: '* SEARCH 58', read: 3 });
  assert.deepEqual(await q('SEARCH FLAGGED'), { out: '* SEARCH 7 58', read: 2 });
  assert.deepEqual(await q('SEARCH NOT UNFLAGGED SEEN'), { out: '* SEARCH 7', read: 2 });
  assert.deepEqual(await q('SEARCH OR UNSEEN FLAGGED'), { out: '* SEARCH 7 58 59 60', read: 4 });
  // keys without an index still read every record, and agree
  assert.deepEqual(await q('SEARCH SEEN NOT DELETED 50:*'), { out: '* SEARCH 50 51 52 53 54 55 56 57', read: 60 });
  assert.deepEqual(await q('SEARCH OR UNSEEN ANSWERED'), { out: '* SEARCH 58 59 60', read: 60 });
  // a flag changed by another session is seen by the next SEARCH
  const other = await client(lab, { user: 'bob@example.test' });
  await other.cmd('SELECT INBOX');
  await other.cmd('STORE 58 +FLAGS.SILENT (\\Seen)');
  await other.cmd('STORE 1 -FLAGS.SILENT (\\Seen)');
  assert.deepEqual((await q('SEARCH UNSEEN')).out, '* SEARCH 1 59 60');
  await c.cmd('STORE 1:* +FLAGS.SILENT (\\Seen)');
  assert.deepEqual(await q('SEARCH UNSEEN'), { out: '* SEARCH', read: 0 });
  messages.some = some;
});
