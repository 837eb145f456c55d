// Real clients: imapflow (the library most Node mail apps use) against the real server, with mail
// delivered over SMTP by nodemailer.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { startLab, type Lab } from '../helpers/lab.js';

const USERS = { users: { 'bob@example.test': 'pw', 'alice@example.test': 'pw' } };

function flow(lab: Lab, user = 'bob@example.test'): ImapFlow {
  return new ImapFlow({
    host: '127.0.0.1', port: lab.port('imaps'), secure: true, tls: { rejectUnauthorized: false },
    auth: { user, pass: 'pw' }, logger: false, disableAutoIdle: false,
  });
}

const ATTACHMENT = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7) & 0xff));
const TEXT = 'Grüße aus Berlin!\nSecond line — with a dash.\n';
const HTML = '<p>Grüße <b>aus</b> Berlin</p>';

async function smtpSend(lab: Lab, raw: Buffer, to = 'bob@example.test'): Promise<void> {
  // Alice submits as users do (465 + AUTH): since issue 13, port 25 refuses our own domains as senders
  const tr = nodemailer.createTransport({ host: '127.0.0.1', port: lab.port('smtps'), secure: true, tls: { rejectUnauthorized: false }, auth: { user: 'alice@example.test', pass: 'pw' } });
  await tr.sendMail({ envelope: { from: 'alice@example.test', to: [to] }, raw });
  tr.close();
}

async function composed(subject: string): Promise<Buffer> {
  const mail = new MailComposer({
    from: 'Alice <alice@example.test>', to: 'Bob <bob@example.test>', subject, text: TEXT, html: HTML,
    attachments: [{ filename: 'data.bin', content: ATTACHMENT, contentType: 'application/octet-stream' }],
  });
  return mail.compile().build();
}

async function streamBytes(s: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

test('imapflow: login over TLS, list, select, search, fetch a multipart mail sent over SMTP part by part', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, USERS);
  const raw = await composed('Multipart über SMTP');
  await smtpSend(lab, raw);
  const c = flow(lab);
  await c.connect();
  t.after(() => c.logout().catch(() => undefined));
  const boxes = await c.list();
  assert.deepEqual(boxes.map((b) => b.path).sort(), ['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
  assert.equal(boxes.find((b) => b.path === 'Sent')?.specialUse, '\\Sent');
  const mb = await c.mailboxOpen('INBOX');
  assert.equal(mb.exists, 1);
  const uids = await c.search({ subject: 'über' }, { uid: true });
  assert.deepEqual(uids, [1]);
  const msg = await c.fetchOne('1', { source: true, bodyStructure: true, envelope: true, flags: true, uid: true }, { uid: true });
  assert.ok(msg);
  assert.equal(msg.envelope?.subject, 'Multipart über SMTP');
  // what went over SMTP (nodemailer's client sends CRLF line ends) is what IMAP gives back, after our trace headers
  const sentBytes = Buffer.from(raw.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
  assert.ok(msg.source!.subarray(msg.source!.length - sentBytes.length).equals(sentBytes), 'stored bytes end with exactly what was sent');
  assert.match(msg.source!.toString('latin1', 0, 200), /^Return-Path: <alice@example.test>\r\nReceived: /);
  // every leaf part, decoded by the client, equals what was put in
  const leaves: { part: string; type: string }[] = [];
  const walk = (n: { part?: string; type: string; childNodes?: unknown[] }) => {
    if (n.childNodes && n.childNodes.length) for (const k of n.childNodes) walk(k as typeof n);
    else leaves.push({ part: n.part ?? '1', type: n.type });
  };
  walk(msg.bodyStructure as unknown as { type: string });
  assert.deepEqual(leaves.map((l) => l.type), ['text/plain', 'text/html', 'application/octet-stream']);
  const want: Record<string, Buffer> = { 'text/plain': Buffer.from(TEXT.replace(/\n/g, '\r\n')), 'text/html': Buffer.from(HTML), 'application/octet-stream': ATTACHMENT };
  for (const l of leaves) {
    const d = await c.download('1', l.part, { uid: true });
    const got = await streamBytes(d.content!);
    const exp = want[l.type];
    assert.ok(got.equals(exp) || got.toString('utf8').replace(/\r\n/g, '\n') === exp.toString('utf8').replace(/\r\n/g, '\n'), `part ${l.part} (${l.type})`);
  }
  // raw part bytes too: BODY[n] equals the section of the source
  const parts = await c.fetchOne('1', { bodyParts: leaves.map((l) => l.part) }, { uid: true });
  for (const l of leaves) {
    const b = parts && parts.bodyParts?.get(l.part);
    assert.ok(b && msg.source!.includes(b), `BODY[${l.part}] is a slice of the message`);
  }
});

test('imapflow: flags seen by a second session, IDLE woken by SMTP delivery, MOVE/COPY/EXPUNGE with UIDPLUS, APPEND to Sent, Chinese folders', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, USERS);
  await smtpSend(lab, await composed('first'));
  await smtpSend(lab, await composed('second'));
  const a = flow(lab);
  const b = flow(lab);
  await a.connect();
  await b.connect();
  t.after(async () => { await a.logout().catch(() => undefined); await b.logout().catch(() => undefined); });
  await a.mailboxOpen('INBOX');
  await b.mailboxOpen('INBOX');

  // flags: a sets, b is told (b idles automatically)
  const flagSeen = once(b, 'flags');
  await a.messageFlagsAdd('1', ['\\Flagged'], { uid: true });
  const [fl] = await flagSeen as [{ uid?: number; flags: Set<string> }];
  assert.ok(fl.flags.has('\\Flagged'));

  // IDLE woken by an SMTP delivery, within a second
  const t0 = Date.now();
  const exists = once(b, 'exists');
  await smtpSend(lab, await composed('third'));
  const [ev] = await exists as [{ count: number }];
  assert.equal(ev.count, 3);
  assert.ok(Date.now() - t0 < 1500);

  // COPY and MOVE report UIDPLUS maps
  const copied = await a.messageCopy('1:2', 'Archive', { uid: true });
  assert.ok(copied);
  assert.deepEqual([...copied.uidMap!.entries()], [[1, 1], [2, 2]]);
  const moved = await a.messageMove('3', 'Archive', { uid: true });
  assert.ok(moved);
  assert.deepEqual([...moved.uidMap!.entries()], [[3, 3]]);
  assert.equal(await a.messageDelete('1', { uid: true }), true);
  const left = await a.search({ all: true }, { uid: true });
  assert.deepEqual(left, [2]);

  // APPEND to Sent, with APPENDUID
  const sent = await a.append('Sent', await composed('sent copy'), ['\\Seen']);
  assert.ok(sent);
  assert.equal(sent.uid, 1);
  assert.equal(sent.destination, 'Sent');

  // Chinese folder names round-trip through modified UTF-7
  await a.mailboxCreate('项目/二〇二六');
  const names = (await a.list()).map((x) => x.path);
  assert.ok(names.includes('项目/二〇二六') && names.includes('项目'), names.join(','));
  const r = await a.messageCopy('2', '项目/二〇二六', { uid: true });
  assert.ok(r);
  const st = await a.status('项目/二〇二六', { messages: true });
  assert.equal(st && st.messages, 1);
});

test('imapflow over STARTTLS on the imap port (plaintext login refused)', { timeout: 20_000 }, async (t) => {
  const lab = await startLab(t, { ...USERS, env: { POSTOFFICE_ALLOW_PLAINTEXT_LOOPBACK: 'false' } });
  const c = new ImapFlow({ host: '127.0.0.1', port: lab.port('imap'), secure: false, tls: { rejectUnauthorized: false }, auth: { user: 'bob@example.test', pass: 'pw' }, logger: false });
  await c.connect();
  t.after(() => c.logout().catch(() => undefined));
  assert.ok(c.secureConnection, 'upgraded with STARTTLS');
  const st = await c.status('INBOX', { messages: true, uidNext: true });
  assert.equal(st && st.messages, 0);
  const plain = new ImapFlow({ host: '127.0.0.1', port: lab.port('imap'), secure: false, doSTARTTLS: false, auth: { user: 'bob@example.test', pass: 'pw' }, logger: false });
  await assert.rejects(() => plain.connect());
  plain.close();
});
