// Another implementation of the formats: Python's mailbox module reads what we export (mbox and
// Maildir, with flags), and we import what it writes (its mbox quotes "From " mboxo-style).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fixture, startLab } from '../helpers/lab.js';
import { python } from '../helpers/python.js';
import { mailboxesOverImap, po } from './util.js';

const READ = `
import json, mailbox, sys
kind, p = sys.argv[1], sys.argv[2]
box = mailbox.mbox(p, create=False) if kind == 'mbox' else mailbox.Maildir(p, factory=None, create=False)
out = []
for key in sorted(box.keys(), key=lambda k: str(k)) if kind == 'maildir' else box.keys():
    m = box[key]
    out.append({'subject': m['subject'], 'flags': ''.join(sorted(m.get_flags())), 'body': m.get_payload(decode=False) if not m.is_multipart() else None,
                'date': (m.get_from() if kind == 'mbox' else m.get_date())})
print(json.dumps(sorted(out, key=lambda o: o['subject'])))
`;

const WRITE = `
import mailbox, sys, email.message
mb = mailbox.mbox(sys.argv[1])
md = mailbox.Maildir(sys.argv[2])
for i, (flags, mdflags) in enumerate([('RO', 'S'), ('OFA', 'FR'), ('', '')]):
    msg = email.message.EmailMessage()
    msg['From'] = 'py@remote.test'
    msg['To'] = 'bob@example.test'
    msg['Subject'] = 'python %d' % i
    msg['Message-ID'] = '<python-%d@remote.test>' % i
    msg.set_content('line one\\nFrom the python side\\n>From quoted\\n')
    m = mailbox.mboxMessage(msg)
    m.set_flags(flags)
    m.set_from('py@remote.test', (2020, 1, 2 + i, 3, 4, 5, 0, 0, 0))
    mb.add(m)
    d = mailbox.MaildirMessage(msg)
    d.set_subdir('cur')
    d.set_flags(mdflags)
    d.set_date(1600000000 + i)
    md.add(d)
mb.close()
`;

test("Python's mailbox module reads our mbox and Maildir exports, and we import what it writes", async (t) => {
  const lab = await startLab(t, { users: { 'alice@example.test': 'pw', 'bob@example.test': 'pw' } });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-pymailbox-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const s = lab.po.store;
  const alice = (await s.users.get('alice@example.test'))!;
  const inbox = (await s.mailboxes.get(alice.id, 'INBOX'))!;
  await s.messages.append(inbox.id, fixture('plain.eml'), { flags: ['\\Seen', '\\Flagged'], internalDate: Date.UTC(2021, 6, 1, 12, 0, 0) });
  await s.messages.append(inbox.id, Buffer.from('From: a@remote.test\r\nSubject: quoting\r\n\r\nFrom the top\r\n>From once\r\n'), { flags: ['\\Answered'], internalDate: Date.UTC(2021, 6, 2, 12, 0, 0) });

  let r = await po(lab.dataDir, ['export', 'alice@example.test', path.join(dir, 'alice.mbox'), '--format', 'mbox', '--mailbox', 'INBOX']);
  assert.equal(r.code, 0, r.err);
  const mbox = JSON.parse(await python(READ, ['mbox', path.join(dir, 'alice.mbox')]));
  assert.equal(mbox.length, 2);
  assert.equal(mbox[0].subject, 'Hello plain');
  assert.equal(mbox[0].flags, 'FOR', 'Status: RO + X-Status: F');
  assert.match(mbox[0].date, /Thu Jul  1 12:00:00 2021$/);
  assert.equal(mbox[1].subject, 'quoting');
  assert.equal(mbox[1].flags, 'AO');
  // Python reads mboxrd quoting as written (it does not unquote): one more '>' on each From line
  assert.equal(mbox[1].body, '>From the top\n>>From once\n');

  r = await po(lab.dataDir, ['export', 'alice@example.test', path.join(dir, 'alice-md'), '--format', 'maildir', '--mailbox', 'INBOX']);
  assert.equal(r.code, 0, r.err);
  const md = JSON.parse(await python(READ, ['maildir', path.join(dir, 'alice-md')]));
  assert.deepEqual(md.map((m: { subject: string; flags: string; date: number }) => [m.subject, m.flags, m.date]),
    [['Hello plain', 'FS', Date.UTC(2021, 6, 1, 12, 0, 0) / 1000], ['quoting', 'R', Date.UTC(2021, 6, 2, 12, 0, 0) / 1000]]);

  await python(WRITE, [path.join(dir, 'py.mbox'), path.join(dir, 'py-md')]);
  r = await po(lab.dataDir, ['import', 'bob@example.test', path.join(dir, 'py.mbox'), '--mailbox', 'From Python']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^imported 3 message\(s\)/);
  r = await po(lab.dataDir, ['import', 'bob@example.test', path.join(dir, 'py-md'), '--mailbox', 'Python Maildir']);
  assert.match(r.out, /^imported 3 message\(s\)/);
  const bob = await mailboxesOverImap(lab, 'bob@example.test', 'pw');
  const seen = (name: string) => bob.get(name)!.map((m) => [/Subject: (.*)/.exec(m.source)![1].trim(), m.flags.join(' '), m.internalDate / 1000]);
  assert.deepEqual(seen('From Python'), [
    ['python 0', '\\Seen', Date.UTC(2020, 0, 2, 3, 4, 5) / 1000],
    ['python 1', '\\Answered \\Flagged', Date.UTC(2020, 0, 3, 3, 4, 5) / 1000],
    ['python 2', '', Date.UTC(2020, 0, 4, 3, 4, 5) / 1000],
  ]);
  assert.deepEqual(seen('Python Maildir'), [['python 0', '\\Seen', 1600000000], ['python 1', '\\Answered \\Flagged', 1600000001], ['python 2', '', 1600000002]]);
  // Python quoted "From the python side" as ">From " (mboxo); read as mboxrd, it is "From " again
  const body = bob.get('From Python')![0].source;
  assert.ok(body.includes('\r\nFrom the python side\r\n'), body);
  assert.ok(!/^Status:/m.test(body), 'Status: is the mbox copy\'s, not the message\'s');
});
