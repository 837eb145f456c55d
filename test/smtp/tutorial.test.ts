// The classic tutorial: SMTP_SSL + login, sending a Chinese plain-text mail, an HTML mail and a
// multipart mail with three attachments; each must be stored byte-for-byte and read back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { simpleParser } from 'mailparser';
import nodemailer from 'nodemailer';
import { fixture, startLab, type Lab } from '../helpers/lab.js';
import { python } from '../helpers/python.js';

const FIXTURES = ['tutorial-text.eml', 'tutorial-html.eml', 'tutorial-attachments.eml'];

async function inbox(lab: Lab, address: string) {
  const u = (await lab.po.store.users.get(address))!;
  const mb = (await lab.po.store.mailboxes.get(u.id, 'INBOX'))!;
  const msgs = await lab.po.store.messages.list(mb.id);
  return Promise.all(msgs.map(async (m) => ({ ...m, raw: await lab.po.store.messages.raw(m.blobId) })));
}

/** Stored = Return-Path + Received (added by us) + exactly the bytes the client sent. */
function assertStoredExactly(stored: Buffer, sent: Buffer): void {
  const text = stored.toString('latin1');
  assert.match(text, /^Return-Path: <alice@example\.test>\r\nReceived: from /);
  assert.ok(stored.subarray(stored.length - sent.length).equals(sent), 'the message body is stored byte-for-byte');
  const head = stored.subarray(0, stored.length - sent.length).toString('latin1');
  assert.match(head, /with ESMTPSA id \S+\.\d+\r\n\t\(version=TLSv1\.[23] cipher=\S+\)\r\n\tfor <bob@example\.test>;\r\n\t\w{3}, \d\d \w{3} \d{4}/);
}

async function checkAttachments(raw: Buffer): Promise<void> {
  const parsed = await simpleParser(raw);
  assert.equal(parsed.subject, 'Three attachments');
  const byName = Object.fromEntries(parsed.attachments.map((a) => [a.filename, a.content]));
  assert.equal(byName['notes.txt'].toString(), 'plain text attachment\nline 2\n');
  assert.ok(byName['data.bin'].equals(fixture('data.bin')));
  assert.ok(byName['logo.png'].equals(fixture('logo.png')));
}

test('nodemailer over SMTPS with AUTH: text, HTML and attachments stored byte-for-byte', async (t) => {
  const lab = await startLab(t, { users: { 'alice@example.test': 'alice-pw', 'bob@example.test': 'bob-pw' } });
  const transport = nodemailer.createTransport({
    host: '127.0.0.1', port: lab.port('smtps'), secure: true,
    auth: { user: 'alice@example.test', pass: 'alice-pw' }, tls: { rejectUnauthorized: false },
  });
  t.after(() => transport.close());
  for (const f of FIXTURES) {
    const info = await transport.sendMail({ envelope: { from: 'alice@example.test', to: ['bob@example.test'] }, raw: fixture(f) });
    assert.match(info.response, /^250 2\.6\.0 Ok: queued as \S+\.\d+$/);
  }
  const msgs = await inbox(lab, 'bob@example.test');
  assert.equal(msgs.length, 3);
  FIXTURES.forEach((f, i) => assertStoredExactly(msgs[i].raw, fixture(f)));
  const text = await simpleParser(msgs[0].raw);
  assert.equal(text.subject, '你好，邮件世界');
  assert.match(text.text ?? '', /这是一封用 Python smtplib 发送的中文纯文本邮件/);
  const html = await simpleParser(msgs[1].raw);
  assert.match(String(html.html), /<h1>Hello<\/h1>/);
  await checkAttachments(msgs[2].raw);
});

test("Python smtplib: SMTP_SSL + login sends the tutorial's three mails", async (t) => {
  const lab = await startLab(t, { users: { 'alice@example.test': 'alice-pw', 'bob@example.test': 'bob-pw' } });
  const out = await python(`
import smtplib, ssl, sys
ctx = ssl._create_unverified_context()
with smtplib.SMTP_SSL('127.0.0.1', int(sys.argv[1]), context=ctx) as s:
    s.login('alice@example.test', 'alice-pw')
    for f in sys.argv[2:]:
        print(s.sendmail('alice@example.test', ['bob@example.test'], open(f, 'rb').read()) == {})
`, [String(lab.port('smtps')), ...FIXTURES.map((f) => `test/fixtures/${f}`)]);
  assert.equal(out.trim(), 'True\nTrue\nTrue');
  const msgs = await inbox(lab, 'bob@example.test');
  assert.equal(msgs.length, 3);
  FIXTURES.forEach((f, i) => assertStoredExactly(msgs[i].raw, fixture(f)));
  await checkAttachments(msgs[2].raw);
  // the journey of a message: MUA -> MTA -> MDA
  const rows = await lab.po.store.journey.trace('<tutorial-attachments@example.test>');
  assert.deepEqual(rows.map((r) => `${r.agent}:${r.step}`), ['MUA:submitted', 'MTA in:received', 'MDA:stored']);
});

test('Python smtplib over submission (587) with STARTTLS, EmailMessage with attachments', async (t) => {
  const lab = await startLab(t, { users: { 'alice@example.test': 'alice-pw', 'bob@example.test': 'bob-pw' } });
  await python(`
import smtplib, ssl, sys
from email.message import EmailMessage
m = EmailMessage()
m['From'] = 'alice@example.test'; m['To'] = 'bob@example.test'; m['Subject'] = '附件测试'
m.set_content('正文')
m.add_attachment(open('test/fixtures/logo.png', 'rb').read(), maintype='image', subtype='png', filename='logo.png')
with smtplib.SMTP('127.0.0.1', int(sys.argv[1])) as s:
    s.starttls(context=ssl._create_unverified_context())
    s.login('alice@example.test', 'alice-pw')
    s.send_message(m)
`, [String(lab.port('submission'))]);
  const [msg] = await inbox(lab, 'bob@example.test');
  const parsed = await simpleParser(msg.raw);
  assert.equal(parsed.subject, '附件测试');
  assert.ok(parsed.attachments[0].content.equals(fixture('logo.png')));
  // RFC 6409 §8: the submission server added the missing Message-ID and Date
  assert.ok(parsed.messageId);
  assert.ok(parsed.date);
});
