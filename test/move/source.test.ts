// What `postoffice import` finds in a PATH: one mbox, one Maildir with Maildir++ folders, or a
// tree (Thunderbird's Name + Name.sbd/, index files skipped, Maildirs inside a tree).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { discover } from '../../src/move/source.js';

const MBOX = 'From - Sat Jan 03 12:00:00 2015\nSubject: x\n\nbody\n\n';

test('discover: Thunderbird tree, Maildir++, Maildirs in a tree, --mailbox as parent', (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'postoffice-source-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const tb = path.join(root, 'Local Folders');
  mkdirSync(path.join(tb, 'Work.sbd'), { recursive: true });
  writeFileSync(path.join(tb, 'Inbox'), MBOX);
  writeFileSync(path.join(tb, 'Inbox.msf'), '// index');
  writeFileSync(path.join(tb, 'Drafts'), ''); // Thunderbird's empty folders are empty files
  writeFileSync(path.join(tb, 'Work'), MBOX);
  writeFileSync(path.join(tb, 'Work.sbd', 'Clients'), MBOX);
  writeFileSync(path.join(tb, 'Work.sbd', 'Clients.msf'), '');
  writeFileSync(path.join(tb, 'notes'), 'shopping list\n');
  writeFileSync(path.join(tb, '.hidden'), MBOX);
  writeFileSync(path.join(tb, 'msgFilterRules.dat'), 'version="9"');
  for (const s of ['cur', 'new', 'tmp']) mkdirSync(path.join(tb, 'Lists', s), { recursive: true });
  const skipped: string[] = [];
  const rel = (f: { mailbox: string; kind: string; path: string }) => [f.mailbox, f.kind, path.relative(tb, f.path)];
  assert.deepEqual(discover(tb, undefined, (f, why) => skipped.push(`${path.basename(f)}: ${why}`)).map(rel), [
    ['Drafts', 'mbox', 'Drafts'], ['INBOX', 'mbox', 'Inbox'], ['Lists', 'maildir', 'Lists'], ['Work', 'mbox', 'Work'], ['Work/Clients', 'mbox', 'Work.sbd/Clients'],
  ]);
  assert.deepEqual(skipped, ['notes: not an mbox file']);
  assert.deepEqual(discover(tb, 'Old Mail').map((f) => f.mailbox), ['Old Mail/Drafts', 'Old Mail/Inbox', 'Old Mail/Lists', 'Old Mail/Work', 'Old Mail/Work/Clients']);
  assert.deepEqual(discover(path.join(tb, 'Work')).map(rel), [['INBOX', 'mbox', 'Work']]);
  assert.deepEqual(discover(path.join(tb, 'Work'), 'Archive/Work').map((f) => f.mailbox), ['Archive/Work']);

  const md = path.join(root, 'Maildir');
  for (const d of ['', '.Sent', '.a.b', '.a']) for (const s of ['cur', 'new', 'tmp']) mkdirSync(path.join(md, d, s), { recursive: true });
  mkdirSync(path.join(md, '.notamaildir'));
  assert.deepEqual(discover(md).map((f) => f.mailbox), ['INBOX', 'Sent', 'a', 'a/b']);
  assert.deepEqual(discover(md, 'Imported').map((f) => f.mailbox), ['Imported', 'Imported/Sent', 'Imported/a', 'Imported/a/b']);

  assert.throws(() => discover(path.join(root, 'nope')), /no such file or folder/);
  assert.throws(() => discover(path.join(tb, 'notes')), /not an mbox file/);
  const empty = path.join(root, 'empty');
  mkdirSync(empty);
  assert.throws(() => discover(empty), /no mbox file or Maildir found/);
});
