// Maildir import and export: flags from the ":2," suffix and dovecot-keywords, Maildir++ folders
// (names in modified UTF-7), new/ and cur/ (never tmp/), mtime as internal date; and back out.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { decodeMutf7, encodeMutf7 } from '../../src/mail/mutf7.js';
import { maildirFlags, maildirInfo, parseDovecotKeywords } from '../../src/move/flags.js';
import { startLab } from '../helpers/lab.js';
import { mailboxesOverImap, po } from './util.js';

function msg(subject: string, body = 'hello'): string {
  return `From: Carol <carol@remote.test>\nTo: bob@example.test\nSubject: ${subject}\nMessage-ID: <${subject.replace(/\W/g, '')}@remote.test>\nDate: Mon, 30 Nov 2026 08:00:00 +0000\n\n${body}\n`;
}

function put(dir: string, sub: 'cur' | 'new' | 'tmp', name: string, text: string, mtimeSecs: number): void {
  for (const s of ['cur', 'new', 'tmp']) mkdirSync(path.join(dir, s), { recursive: true });
  const f = path.join(dir, sub, name);
  writeFileSync(f, text);
  utimesSync(f, mtimeSecs, mtimeSecs);
}

test('Maildir++ import: flags, keywords, subfolders, mtime as internal date; tmp/ ignored, junk reported; export back', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw', 'carol@example.test': 'pw' } });
  const root = mkdtempSync(path.join(os.tmpdir(), 'postoffice-maildir-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const md = path.join(root, 'Maildir');
  const T = 1_700_000_000;
  put(md, 'cur', `${T}.M1P1.host,S=100:2,FS`, msg('flagged and seen'), T);
  put(md, 'cur', `${T + 10}.M2P1.host:2,RTab`, msg('answered trashed keywords'), T + 10);
  put(md, 'cur', `${T + 20}.M3P1.host:2,D`, msg('a draft'), T + 20);
  put(md, 'new', `${T + 30}.M4P1.host`, msg('brand new'), T + 30);
  put(md, 'tmp', `${T + 40}.M5P1.host`, msg('still being delivered'), T + 40);
  put(md, 'new', `${T + 50}.M6P1.host`, 'this is not a mail message\n', T + 50);
  writeFileSync(path.join(md, 'dovecot-keywords'), '0 $Forwarded\n1 Project-X\n');
  writeFileSync(path.join(md, 'dovecot-uidlist'), '3 V1 N5\n');
  put(path.join(md, '.Lists.Node'), 'cur', `${T + 60}.M7P1.host:2,S`, msg('nodejs list'), T + 60);
  put(path.join(md, '.Entw&APw-rfe'), 'cur', `${T + 70}.M8P1.host:2,DS`, msg('Entwurf'), T + 70);
  put(path.join(md, '.Sent'), 'cur', `${T + 80}.M9P1.host:2,S`, msg('sent one'), T + 80);

  let r = await po(lab.dataDir, ['import', 'bob@example.test', md]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^imported 7 message\(s\) into 4 mailbox\(es\) .*; 0 already there \(skipped\), 1 failed\n  failed: .*M6P1\.host: not a message: no header field at its start\n$/);

  const boxes = await mailboxesOverImap(lab, 'bob@example.test', 'pw');
  const subjects = (name: string) => boxes.get(name)!.map((m) => [/Subject: (.*)/.exec(m.source)![1].trim(), m.flags.join(' '), m.internalDate / 1000]);
  assert.deepEqual(subjects('INBOX'), [
    ['flagged and seen', '\\Flagged \\Seen', T],
    ['answered trashed keywords', '$Forwarded Project-X \\Answered \\Deleted', T + 10],
    ['a draft', '\\Draft', T + 20],
    ['brand new', '', T + 30],
  ]);
  assert.deepEqual(subjects('Lists/Node'), [['nodejs list', '\\Seen', T + 60]]);
  assert.deepEqual(subjects('Entwürfe'), [['Entwurf', '\\Draft \\Seen', T + 70]]);
  assert.deepEqual(subjects('Sent'), [['sent one', '\\Seen', T + 80]]);
  // stored with CRLF line ends, as every message is
  assert.ok(boxes.get('INBOX')![0].source.includes('Subject: flagged and seen\r\n'));

  r = await po(lab.dataDir, ['import', 'bob@example.test', md]);
  assert.match(r.out, /^imported 0 message\(s\) into 4 mailbox\(es\) .*; 7 already there \(skipped\), 1 failed\n/);

  // export as Maildir++ and import that into a second user: the same mailboxes, flags and dates
  const out = path.join(root, 'export');
  r = await po(lab.dataDir, ['export', 'bob@example.test', out, '--format', 'maildir']);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(readdirSync(out).filter((n) => n.startsWith('.')).sort(), ['.Archive', '.Drafts', '.Entw&APw-rfe', '.Junk', '.Lists', '.Lists.Node', '.Sent', '.Trash']);
  const cur = readdirSync(path.join(out, 'cur')).sort();
  assert.equal(cur.length, 4);
  assert.deepEqual(cur.map((n) => n.slice(n.indexOf(':2,'))).sort(), [':2,', ':2,D', ':2,FS', ':2,RTab']);
  const kw = parseDovecotKeywords(readFileSync(path.join(out, 'dovecot-keywords'), 'utf8'));
  assert.deepEqual([...kw.values()].sort(), ['$Forwarded', 'Project-X']);
  const first = cur.find((n) => n.endsWith(':2,FS'))!;
  assert.equal(Math.floor(statSync(path.join(out, 'cur', first)).mtimeMs / 1000), T);
  assert.ok(!readFileSync(path.join(out, 'cur', first), 'latin1').includes('\r'), 'Maildir files have LF line ends');

  r = await po(lab.dataDir, ['import', 'carol@example.test', out]);
  assert.equal(r.code, 0, r.err);
  const carol = await mailboxesOverImap(lab, 'carol@example.test', 'pw');
  for (const name of ['INBOX', 'Lists/Node', 'Entwürfe', 'Sent']) {
    assert.deepEqual(carol.get(name), boxes.get(name), name);
  }
});

test('Maildir flags and mUTF-7 names', () => {
  const kw = new Map([['a', '$Label1'], ['c', 'Later']]);
  assert.deepEqual(maildirFlags('123.M1.host,S=5:2,DFRSTac', kw), ['\\Draft', '\\Flagged', '\\Answered', '\\Seen', '\\Deleted', '$Label1', 'Later']);
  assert.deepEqual(maildirFlags('123.M1.host', kw), []);
  assert.deepEqual(maildirFlags('123.M1.host:2,Pb', kw), [], 'P (passed) has no IMAP flag; an unknown letter is dropped');
  assert.equal(maildirInfo(['\\Seen', '\\Flagged', 'Later'], new Map([['Later', 'b']])), ':2,FSb');
  for (const s of ['Entwürfe', '日本語', 'a&b', 'plain', '~peter/mail/台北/日本語']) assert.equal(decodeMutf7(encodeMutf7(s)), s);
  assert.equal(encodeMutf7('Entwürfe'), 'Entw&APw-rfe');
  assert.equal(encodeMutf7('~peter/mail/台北/日本語'), '~peter/mail/&U,BTFw-/&ZeVnLIqe-');
  assert.equal(decodeMutf7('broken&$$-'), null, 'malformed: the caller keeps the name as it is');
});
