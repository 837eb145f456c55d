// `postoffice import ADDRESS imaps://...` from a second post office: every mailbox with its flags
// and internal dates; the source's \Seen untouched (BODY.PEEK); a second run copies only what is
// missing; bad passwords and URLs are one-line errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture, startLab } from '../helpers/lab.js';
import { mailboxesOverImap, po } from './util.js';

test('IMAP import from a second post office: mailboxes, flags, dates; resumable', async (t) => {
  const source = await startLab(t, { users: { 'alice@example.test': 'alice-pw' } });
  const target = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  const s = source.po.store;
  const alice = (await s.users.get('alice@example.test'))!;
  const inbox = (await s.mailboxes.get(alice.id, 'INBOX'))!;
  const sent = (await s.mailboxes.get(alice.id, 'Sent'))!;
  await s.mailboxes.create(alice.id, 'Projects');
  const q1 = await s.mailboxes.create(alice.id, 'Projects/Q1 Ärger');
  const day = Date.UTC(2024, 2, 10, 8, 0, 0);
  await s.messages.append(inbox.id, fixture('plain.eml'), { flags: ['\\Seen', '\\Flagged'], internalDate: day });
  await s.messages.append(inbox.id, fixture('multipart.eml'), { flags: [], internalDate: day + 1000_000 });
  await s.messages.append(inbox.id, fixture('tutorial-text.eml'), { flags: ['\\Answered', '$Forwarded', 'Work'], internalDate: day + 2000_000 });
  await s.messages.append(sent.id, fixture('tutorial-html.eml'), { flags: ['\\Seen'], internalDate: day - 5000_000 });
  await s.messages.append(q1.id, fixture('tutorial-attachments.eml'), { flags: ['\\Draft'], internalDate: day + 9000_000 });
  const msgWithoutId = Buffer.from('From: x@remote.test\r\nSubject: no id\r\n\r\nno Message-ID here\r\n');
  await s.messages.append(q1.id, msgWithoutId, { flags: [], internalDate: day });

  const url = `imaps://alice@example.test@127.0.0.1:${source.port('imaps')}`;
  let r = await po(target.dataDir, ['import', 'bob@example.test', url, '--insecure'], { input: 'alice-pw\n' });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^imported 6 message\(s\) into 8 mailbox\(es\) .*; 0 already there \(skipped\), 0 failed\n$/);

  const a = await mailboxesOverImap(source, 'alice@example.test', 'alice-pw');
  const b = await mailboxesOverImap(target, 'bob@example.test', 'pw');
  assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
  for (const [name, msgs] of a) assert.deepEqual(b.get(name), msgs, name);
  assert.deepEqual(a.get('INBOX')!.map((m) => m.flags.join(' ')), ['\\Flagged \\Seen', '', '$Forwarded Work \\Answered'], 'the source keeps its flags (no \\Seen set by the import)');

  // a second run downloads nothing; a new message and a new mailbox on the source come over
  r = await po(target.dataDir, ['import', 'bob@example.test', url, '--insecure'], { env: { POSTOFFICE_IMPORT_PASSWORD: 'alice-pw' } });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^imported 0 message\(s\) into 8 mailbox\(es\) .*; 6 already there \(skipped\), 0 failed\n$/);
  await source.deliver('alice@example.test', fixture('pop3-text.eml'));
  const later = await s.mailboxes.create(alice.id, 'Later');
  await s.messages.append(later.id, fixture('pop3-html.eml'), { flags: ['\\Seen'], internalDate: day });
  r = await po(target.dataDir, ['import', 'bob@example.test', url, '--insecure'], { input: 'alice-pw' });
  assert.match(r.out, /^imported 2 message\(s\) into 9 mailbox\(es\) .*; 6 already there \(skipped\), 0 failed\n$/);
  const b2 = await mailboxesOverImap(target, 'bob@example.test', 'pw');
  assert.equal(b2.get('INBOX')!.length, 4);
  assert.deepEqual(b2.get('Later'), (await mailboxesOverImap(source, 'alice@example.test', 'alice-pw')).get('Later'));

  // into a named parent
  r = await po(target.dataDir, ['import', 'bob@example.test', url, '--insecure', '--mailbox', 'From Alice'], { input: 'alice-pw' });
  assert.match(r.out, /^imported 8 message\(s\)/);
  const b3 = await mailboxesOverImap(target, 'bob@example.test', 'pw');
  assert.equal(b3.get('From Alice/Projects/Q1 Ärger')!.length, 2);
  assert.equal(b3.get('From Alice/Sent')!.length, 1);

  // errors: one line, exit 1
  r = await po(target.dataDir, ['import', 'bob@example.test', url, '--insecure'], { input: 'wrong' });
  assert.equal(r.code, 1);
  assert.match(r.err, /^postoffice: cannot sign in to 127\.0\.0\.1:\d+ as alice@example\.test: authentication failed\n$/);
  r = await po(target.dataDir, ['import', 'bob@example.test', url], { input: 'alice-pw' });
  assert.equal(r.code, 1, 'a self-signed certificate is refused without --insecure');
  assert.match(r.err, /^postoffice: cannot sign in/);
  r = await po(target.dataDir, ['import', 'bob@example.test', `imaps://127.0.0.1:${source.port('imaps')}`], { input: 'alice-pw' });
  assert.equal(r.code, 1);
  assert.match(r.err, /needs a user name/);
  r = await po(target.dataDir, ['import', 'bob@example.test', `imaps://alice:pw@127.0.0.1:${source.port('imaps')}`]);
  assert.match(r.err, /not in the URL/);
});
