// mbox import and export: the round trip through a second user, re-runs, and the hard cases of
// the format (a bare "From " body line, quoted ">From ", a truncated file, oversize, CRLF files).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fromLine, fromLineDate, mboxEntry, readMbox, type MboxMessage } from '../../src/move/mbox.js';
import { parseStatusHeaders } from '../../src/move/flags.js';
import { fixture, startLab } from '../helpers/lab.js';
import { mailboxesOverImap, po } from './util.js';

function tmp(t: { after: (f: () => void) => void }): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'postoffice-move-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function readAll(file: string, maxBytes = 1 << 20, chunkBytes?: number): Promise<MboxMessage[]> {
  const out: MboxMessage[] = [];
  for await (const m of readMbox(file, { maxBytes, chunkBytes })) out.push(m);
  return out;
}

const BODY_FROM = [
  'From: Carol <carol@remote.test>', 'To: alice@example.test', 'Subject: From lines', 'Message-ID: <from-lines@remote.test>',
  'Date: Mon, 30 Nov 2026 08:00:00 +0100', '', 'From here on the body has a bare From line,', '', 'From the top again.',
  '>From quoted already', '>>From twice', '> From not quoted (a space)', '',
].join('\r\n');

test('mbox export -> import into a second user: every message, flag and internal date identical; a re-run imports nothing', async (t) => {
  const lab = await startLab(t, { users: { 'alice@example.test': 'pw', 'bob@example.test': 'pw' } });
  const store = lab.po.store;
  const alice = (await store.users.get('alice@example.test'))!;
  const inbox = (await store.mailboxes.get(alice.id, 'INBOX'))!;
  const projects = await store.mailboxes.create(alice.id, 'Projects');
  const deep = await store.mailboxes.create(alice.id, 'Projects/Größe 2026');
  const day = Date.UTC(2025, 5, 1, 9, 30, 15);
  await store.messages.append(inbox.id, fixture('plain.eml'), { flags: ['\\Seen'], internalDate: day });
  await store.messages.append(inbox.id, fixture('multipart.eml'), { flags: ['\\Answered', '\\Flagged', '$Label1', 'Work'], internalDate: day + 86_400_000 });
  await store.messages.append(inbox.id, Buffer.from(BODY_FROM), { flags: ['\\Draft', '\\Deleted'], internalDate: day + 2 * 86_400_000 });
  await store.messages.append(inbox.id, fixture('pop3-barelf.eml'), { flags: [], internalDate: day + 3 * 86_400_000 });
  await store.messages.append(projects.id, fixture('tutorial-attachments.eml'), { flags: ['\\Seen'], internalDate: day - 86_400_000 });
  await store.messages.append(deep.id, fixture('tutorial-html.eml'), { flags: ['\\Flagged'], internalDate: day });
  await lab.deliver('alice@example.test', fixture('pop3-html.eml'));

  const dir = tmp(t);
  let r = await po(lab.dataDir, ['export', 'alice@example.test', path.join(dir, 'mail'), '--format', 'mbox']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^exported 7 message\(s\) from 8 mailbox\(es\)/);
  // Thunderbird's layout: children of "Projects" in Projects.sbd/
  const exported = readFileSync(path.join(dir, 'mail', 'INBOX'), 'latin1');
  assert.match(exported, /^From MAILER-DAEMON Sun Jun  1 09:30:15 2025\n/);
  assert.match(exported, /\n>From here on the body has a bare From line,\n\n>From the top again\.\n>>From quoted already\n>>>From twice\n> From not quoted/);
  assert.match(exported, /\nStatus: O\nX-Status: AF\nX-Keywords: \$Label1 Work\n/);
  assert.ok(readFileSync(path.join(dir, 'mail', 'Projects.sbd', 'Größe 2026'), 'latin1').startsWith('From '));

  r = await po(lab.dataDir, ['import', 'bob@example.test', path.join(dir, 'mail')]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^imported 7 message\(s\) into 8 mailbox\(es\) .*; 0 already there \(skipped\), 0 failed\n$/);

  const a = await mailboxesOverImap(lab, 'alice@example.test', 'pw');
  const b = await mailboxesOverImap(lab, 'bob@example.test', 'pw');
  assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
  for (const [name, msgs] of a) {
    assert.equal(b.get(name)!.length, msgs.length, name);
    msgs.forEach((m, i) => {
      const other = b.get(name)![i];
      assert.equal(other.source, m.source, `${name} #${i + 1}: same bytes`);
      assert.deepEqual(other.flags, m.flags, `${name} #${i + 1}: same flags`);
      assert.equal(Math.floor(other.internalDate / 1000), Math.floor(m.internalDate / 1000), `${name} #${i + 1}: same internal date`);
    });
  }
  assert.equal(a.get('INBOX')!.length, 5);

  // the journey of an imported message: the MDA's 'imported' step
  const trace = await store.journey.trace('<from-lines@remote.test>');
  assert.ok(trace.some((s) => s.agent === 'MDA' && s.step === 'imported' && s.details.mailbox === 'INBOX'), JSON.stringify(trace));

  r = await po(lab.dataDir, ['import', 'bob@example.test', path.join(dir, 'mail')]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^imported 0 message\(s\) into 8 mailbox\(es\) .*; 7 already there \(skipped\), 0 failed\n$/);
  const again = await mailboxesOverImap(lab, 'bob@example.test', 'pw');
  assert.equal(again.get('INBOX')!.length, 5);

  // --mailbox: one mailbox to one file, and into a named mailbox
  r = await po(lab.dataDir, ['export', 'alice@example.test', path.join(dir, 'inbox.mbox'), '--format', 'mbox', '--mailbox', 'INBOX']);
  assert.equal(r.code, 0, r.err);
  r = await po(lab.dataDir, ['import', 'bob@example.test', path.join(dir, 'inbox.mbox'), '--mailbox', 'Old/Alice']);
  assert.match(r.out, /^imported 5 message\(s\) into 1 mailbox\(es\)/);
  r = await po(lab.dataDir, ['export', 'alice@example.test', path.join(dir, 'inbox.mbox'), '--format', 'mbox', '--mailbox', 'INBOX']);
  assert.equal(r.code, 1);
  assert.match(r.err, /exists already/);
  r = await po(lab.dataDir, ['import', 'nobody@example.test', path.join(dir, 'inbox.mbox')]);
  assert.equal(r.code, 1);
  assert.equal(r.err, 'postoffice: no such user: nobody@example.test\n');
  r = await po(lab.dataDir, ['export', 'alice@example.test', path.join(dir, 'x'), '--format', 'mbx']);
  assert.equal(r.code, 2);
  r = await po(lab.dataDir, ['import', 'bob@example.test', path.join(dir, 'nothing-here')]);
  assert.equal(r.code, 1);
  assert.match(r.err, /no such file or folder/);
  writeFileSync(path.join(dir, 'notes.txt'), 'just some notes\n');
  r = await po(lab.dataDir, ['import', 'bob@example.test', path.join(dir, 'notes.txt')]);
  assert.equal(r.code, 1);
  assert.match(r.err, /is not an mbox file/);
});

test('readMbox: truncated file, a bare "From " body line, mboxrd unquoting, oversize, CRLF, any chunk size', async (t) => {
  const dir = tmp(t);
  const file = path.join(dir, 'box');
  const text = [
    'From alice@example.test Tue Dec  1 13:37:04 2026',
    'From: a@example.test', 'Subject: one', 'Status: R', '', 'From here on: not a new message (no date).', '>From quoted', '>>From twice', '',
    'From bob@example.test Sat Jan 03 12:00:00 +0000 2015', // Gmail Takeout's From_ line
    'From: b@example.test', 'Subject: two', 'X-Status: F', '', 'big ' + 'x'.repeat(3000), '',
    'From carol@example.test Wed Dec  2 10:00:00 2026',
    'Subject: three', '', 'short', '',
    'From nobody Wed Dec  2 10:00:00 2026',
    'no header here', '',
    'From dave@example.test Wed Dec  2 11:00:00 2026 +0200',
    'Subject: cut off', '', 'the file ends in the mid',
  ].join('\n');
  writeFileSync(file, text);
  const all = await readAll(file, 2000);
  assert.deepEqual(all.map((m) => m.error ?? 'ok'), ['ok', 'larger than 2000 bytes', 'ok', 'not a message: no header field at its start', 'truncated: the file ends in the middle of this message']);
  assert.equal(all[0].raw!.toString(), 'From: a@example.test\nSubject: one\n\nFrom here on: not a new message (no date).\nFrom quoted\n>From twice\n');
  assert.deepEqual(all[0].flags, ['\\Seen']);
  assert.equal(all[0].date, Date.UTC(2026, 11, 1, 13, 37, 4));
  assert.equal(all[1].date, Date.UTC(2015, 0, 3, 12, 0, 0));
  assert.equal(all[2].raw!.toString(), 'Subject: three\n\nshort\n');
  assert.equal(all[4].date, Date.UTC(2026, 11, 2, 9, 0, 0));
  // the same file read 1, 7 and 64 bytes at a time gives the same messages
  for (const chunk of [1, 7, 64]) {
    const again = await readAll(file, 2000, chunk);
    assert.deepEqual(again.map((m) => [m.error, m.raw?.toString(), m.date, m.offset]), all.map((m) => [m.error, m.raw?.toString(), m.date, m.offset]), `chunk ${chunk}`);
  }
  // a CRLF mbox (written on Windows)
  writeFileSync(file, text.replace(/\n/g, '\r\n') + '\r\n');
  const crlf = await readAll(file, 4000);
  assert.deepEqual(crlf.map((m) => m.error ?? 'ok'), ['ok', 'ok', 'ok', 'not a message: no header field at its start', 'ok']);
  assert.equal(crlf[2].raw!.toString(), 'Subject: three\r\n\r\nshort\r\n');
  // leading blank lines; a writer that leaves out the blank line between messages
  writeFileSync(file, '\n\nFrom a@b Mon Jan  5 01:02:03 2026\nSubject: 1\n\none\nFrom b@c Mon Jan  5 01:02:04 2026\nSubject: 2\n\ntwo\n');
  assert.deepEqual((await readAll(file)).map((m) => m.raw?.toString()), ['Subject: 1\n\none\n', 'Subject: 2\n\ntwo\n']);
  // not an mbox at all
  writeFileSync(file, 'Subject: hello\n\nbody\n');
  await assert.rejects(readAll(file), /not an mbox file/);
});

test('From_ lines and mboxEntry: what we write, we read back', () => {
  assert.equal(fromLine('a@b', Date.UTC(2026, 0, 5, 1, 2, 3)), 'From a@b Mon Jan  5 01:02:03 2026\n');
  assert.equal(fromLineDate('From a@b Mon Jan  5 01:02:03 2026'), Date.UTC(2026, 0, 5, 1, 2, 3));
  assert.equal(fromLineDate('From MAILER-DAEMON Fri Jul  8 12:08:34 2011'), Date.UTC(2011, 6, 8, 12, 8, 34));
  assert.equal(fromLineDate('From - Sat Jan 03 12:00:00 2015'), Date.UTC(2015, 0, 3, 12, 0, 0), "Thunderbird's From_ line");
  assert.equal(fromLineDate('From here on, a sentence'), null);
  assert.equal(fromLineDate('From a@b Mon Jan  5 01:02 2026'), Date.UTC(2026, 0, 5, 1, 2, 0));
  const raw = Buffer.from('Return-Path: <x@y.test>\r\nSubject: s\r\n\r\nFrom me\r\n>From you\r\n');
  const entry = mboxEntry(raw, ['\\Seen', '\\Answered', 'Later'], Date.UTC(2020, 1, 29, 23, 59, 59));
  assert.equal(entry.toString(), 'From x@y.test Sat Feb 29 23:59:59 2020\nReturn-Path: <x@y.test>\nSubject: s\nStatus: RO\nX-Status: A\nX-Keywords: Later\n\n>From me\n>>From you\n\n');
  const back = parseStatusHeaders(Buffer.from('Return-Path: <x@y.test>\nSubject: s\nStatus: RO\nX-Status: A\nX-Keywords: Later\n\nFrom me\n'));
  assert.equal(back.raw.toString(), 'Return-Path: <x@y.test>\nSubject: s\n\nFrom me\n');
  assert.deepEqual(back.flags.sort(), ['Later', '\\Answered', '\\Seen']);
  // Thunderbird: X-Mozilla-Status read (read + replied + marked), kept in the bytes
  const moz = parseStatusHeaders(Buffer.from('X-Mozilla-Status: 0007\nSubject: s\n\nbody\n'));
  assert.deepEqual(moz.flags.sort(), ['\\Answered', '\\Flagged', '\\Seen']);
  assert.equal(moz.raw.toString(), 'X-Mozilla-Status: 0007\nSubject: s\n\nbody\n');
});
