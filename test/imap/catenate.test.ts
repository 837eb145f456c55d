// imap/catenate.ts: the IMAP URLs (RFC 5092) CATENATE (RFC 4469) accepts, and the ones it refuses;
// MULTIAPPEND (RFC 3502) all-or-nothing and CATENATE end to end with a real client on a real listener.
import assert from 'node:assert/strict';
import test from 'node:test';
import { parseImapUrl } from '../../src/imap/catenate.js';
import { fixture, startLab } from '../helpers/lab.js';
import { client } from './helpers.js';

test('IMAP URLs: relative and absolute, UIDVALIDITY, SECTION, PARTIAL; refused forms', () => {
  assert.deepEqual(parseImapUrl('/Drafts;UIDVALIDITY=385759045/;UID=20/;SECTION=1.MIME'),
    { mailbox: 'Drafts', uidValidity: 385759045, uid: 20, section: '1.MIME', partial: null, user: null, host: null });
  assert.deepEqual(parseImapUrl('imap://bob%40example.test;AUTH=*@mail.example.test:993/a%20b/;uid=7/;partial=10.5'),
    { mailbox: 'a b', uidValidity: null, uid: 7, section: null, partial: [10, 5], user: 'bob@example.test', host: 'mail.example.test' });
  assert.equal(parseImapUrl('/INBOX/;UID=1/;SECTION=HEADER.FIELDS%20(From)').section, 'HEADER.FIELDS (From)');
  for (const bad of ['INBOX/;UID=1', '/INBOX', '/INBOX/;UID=0', '/INBOX;UIDVALIDITY=x/;UID=1', '/INBOX/;UID=1/;URLAUTH=anonymous:internal:abc',
    '/INBOX/;SECTION=1/;UID=1', '/INBOX/;UID=1/;PARTIAL=1.0', '/%E0%A4%A/;UID=1', `/${'a'.repeat(5000)}/;UID=1`]) {
    assert.throws(() => parseImapUrl(bad), Error, bad);
  }
});

test('MULTIAPPEND stores all messages or none; CATENATE joins TEXT and URL parts; BADURL, TRYCREATE', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw', 'eve@example.test': 'pw' } });
  await lab.deliver('bob@example.test', fixture('plain.eml'));
  const c = await client(lab, { user: 'bob@example.test' });
  const caps = (await c.cmd('CAPABILITY'))[0];
  for (const cap of ['MULTIAPPEND', 'CATENATE']) assert.ok(caps.split(' ').includes(cap), cap);
  const m1 = 'Subject: one\r\n\r\nbody one\r\n';
  const m2 = 'Subject: two\r\n\r\nbody two\r\n';
  const ok = await c.cmd(`APPEND INBOX (\\Seen) {${m1.length}+}\r\n${m1} {${m2.length}+}\r\n${m2}`);
  assert.match(ok[ok.length - 1], /^TAG OK \[APPENDUID \d+ 2:3\] APPEND completed$/);
  // the second message's flag is refused: neither is stored
  const bad = await c.cmd(`APPEND INBOX {${m1.length}+}\r\n${m1} (\\Bogus) {${m2.length}+}\r\n${m2}`);
  assert.match(bad[bad.length - 1], /^TAG BAD/);
  await c.cmd('SELECT INBOX');
  assert.deepEqual((await c.cmd('SEARCH ALL')).slice(0, 1), ['* SEARCH 1 2 3']);
  const uidv = /UIDVALIDITY (\d+)/.exec((await c.cmd('STATUS INBOX (UIDVALIDITY)'))[0])![1];
  const text = 'From: cat@example.test\r\n\r\n';
  const cat = await c.cmd(`APPEND INBOX CATENATE (TEXT {${text.length}+}\r\n${text} URL "/INBOX;UIDVALIDITY=${uidv}/;UID=2/;SECTION=TEXT")`);
  assert.match(cat[cat.length - 1], /^TAG OK \[APPENDUID \d+ 4\]/);
  const body = await c.cmd('FETCH 4 BODY.PEEK[]');
  assert.equal(body[0], `* 4 FETCH (BODY[] {${text.length + 'body one\r\n'.length}}`);
  assert.equal(body[1], 'From: cat@example.test');
  assert.equal(body[3], 'body one');
  const wrong = await c.cmd(`APPEND INBOX CATENATE (URL "/INBOX;UIDVALIDITY=${Number(uidv) + 1}/;UID=2")`);
  assert.match(wrong[0], /^TAG NO \[BADURL \/INBOX;UIDVALIDITY=\d+\/;UID=2\]/);
  const other = await c.cmd('APPEND INBOX CATENATE (URL "imap://eve@example.test@mail.example.test/INBOX/;UID=1")');
  assert.match(other[0], /^TAG NO \[BADURL/);
  const none = await c.cmd('APPEND Nowhere CATENATE (URL "/INBOX/;UID=99")');
  assert.match(none[0], /^TAG NO \[TRYCREATE\]/);
  assert.deepEqual((await c.cmd('SEARCH ALL')).slice(0, 1), ['* SEARCH 1 2 3 4']);
  c.close();
});
