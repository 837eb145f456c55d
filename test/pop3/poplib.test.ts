import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import nodemailer from 'nodemailer';
import { fixture, ROOT, startLab } from '../helpers/lab.js';

const run = promisify(execFile);
const FIXTURES = ['pop3-text.eml', 'pop3-html.eml', 'pop3-attachment.eml'];

async function poplib(mode: 'stls' | 'ssl', port: number, out: string) {
  const { stdout } = await run('python3', [path.join(ROOT, 'test', 'pop3', 'poplib-client.py'), mode, String(port), 'bob@example.test', 'pw', out], { timeout: 20_000 });
  return JSON.parse(stdout) as { capsBefore: string[] | null; caps: string[]; count: number; size: number; list: string[]; uidl: string[]; tops: number[]; dele: string; rset: string; dele2: string; quit: string };
}

test("Python's poplib (STLS and POP3_SSL) retrieves the text, HTML and attachment mails byte for byte", { timeout: 60_000 }, async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw', 'alice@example.test': 'alice-pw' } });
  const out = mkdtempSync(path.join(os.tmpdir(), 'postoffice-poplib-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  // MTA in: the mails arrive over SMTP, as in the tutorial: Alice submits on 465 with AUTH (since
  // issue 13, port 25 refuses a sender in our own domains unless SPF permits the client)
  const smtp = nodemailer.createTransport({ host: '127.0.0.1', port: lab.port('smtps'), secure: true, tls: { rejectUnauthorized: false }, auth: { user: 'alice@example.test', pass: 'alice-pw' } });
  for (const f of FIXTURES) await smtp.sendMail({ envelope: { from: 'alice@example.test', to: ['bob@example.test'] }, raw: fixture(f) });
  smtp.close();
  const mb = await lab.po.store.mailboxes.get((await lab.po.store.users.get('bob@example.test'))!.id, 'INBOX');
  const stored = await lab.po.store.messages.list(mb!.id);
  assert.equal(stored.length, 3);
  const raws = await Promise.all(stored.map((m) => lab.po.store.messages.raw(m.blobId)));

  const a = await poplib('stls', lab.port('pop3'), out);
  assert.ok(a.capsBefore!.includes('STLS'));
  assert.ok(!a.caps.includes('STLS'));
  for (const c of ['TOP', 'UIDL', 'USER', 'SASL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'EXPIRE', 'IMPLEMENTATION']) assert.ok(a.caps.includes(c), c);
  assert.equal(a.count, 3);
  assert.equal(a.size, raws.reduce((n, r) => n + r.length, 0));
  assert.deepEqual(a.list, raws.map((r, i) => `${i + 1} ${r.length}`));
  assert.deepEqual(a.uidl, stored.map((m, i) => `${i + 1} ${mb!.uidValidity}.${m.uid}`));
  for (let i = 0; i < 3; i++) {
    const got = readFileSync(path.join(out, `stls-${i + 1}.eml`));
    assert.ok(got.equals(raws[i]), `message ${i + 1} byte for byte`);
    // what the tutorial sent is there unchanged, after our Return-Path: and Received:
    assert.ok(got.subarray(got.length - fixture(FIXTURES[i]).length).equals(fixture(FIXTURES[i])), FIXTURES[i]);
  }
  assert.match(a.dele, /^\+OK message 1 deleted/);
  assert.match(a.rset, /^\+OK/);
  assert.match(a.dele2, /^\+OK message 3 deleted/);
  assert.match(a.quit, /^\+OK .*\(2 messages left\)/);

  // \Seen on everything retrieved; the attachment mail is gone
  const left = await lab.po.store.messages.list(mb!.id);
  assert.deepEqual(left.map((m) => m.uid), stored.slice(0, 2).map((m) => m.uid));
  assert.ok(left.every((m) => m.flags.includes('\\Seen')));

  const b = await poplib('ssl', lab.port('pop3s'), out);
  assert.equal(b.count, 2);
  assert.deepEqual(b.uidl, a.uidl.slice(0, 2), 'UIDL stable across sessions');
  for (let i = 0; i < 2; i++) assert.ok(readFileSync(path.join(out, `ssl-${i + 1}.eml`)).equals(raws[i]));
  assert.match(b.quit, /\(1 message left\)/);
  assert.equal((await lab.po.store.messages.list(mb!.id)).length, 1);
});
