// The whole server on PostgreSQL (POSTOFFICE_STORE_URL set): the tutorial's flow with real clients,
// Python's smtplib to SMTPS, imaplib and poplib to read, imapflow in IDLE, and the journey of it all.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { fixture, startLab, type Lab } from '../helpers/lab.js';
import { pgDatabase, pgUnavailable } from '../helpers/pg.js';
import { CLI } from '../helpers/process.js';
import { python } from '../helpers/python.js';
import { client } from '../imap/helpers.js';

const FIXTURES = ['tutorial-text.eml', 'tutorial-html.eml', 'tutorial-attachments.eml'];
const USERS = { 'alice@example.test': 'alice-pw', 'bob@example.test': 'bob-pw' };
const skip = pgUnavailable() ?? false;

async function pgLab(t: Parameters<typeof startLab>[0]): Promise<{ lab: Lab; url: string }> {
  const url = await pgDatabase(t);
  return { lab: await startLab(t, { users: USERS, env: { POSTOFFICE_STORE_URL: url } }), url };
}

test('tutorial on PostgreSQL: smtplib sends, imaplib and poplib read byte for byte; the journey is whole', { skip, timeout: 120_000 }, async (t) => {
  const { lab } = await pgLab(t);
  const store = lab.po.store;
  assert.equal(await store.domains.isLocal('example.test'), true);
  const sent = await python(`
import smtplib, ssl, sys
ctx = ssl._create_unverified_context()
with smtplib.SMTP_SSL('127.0.0.1', int(sys.argv[1]), context=ctx) as s:
    s.login('alice@example.test', 'alice-pw')
    for f in sys.argv[2:]:
        print(s.sendmail('alice@example.test', ['bob@example.test'], open(f, 'rb').read()) == {})
`, [String(lab.port('smtps')), ...FIXTURES.map((f) => `test/fixtures/${f}`)]);
  assert.equal(sent.trim(), 'True\nTrue\nTrue');

  // what the 250 promised is in the database, each tutorial mail byte for byte after our trace headers
  const bob = (await store.users.get('bob@example.test'))!;
  const inbox = (await store.mailboxes.get(bob.id, 'INBOX'))!;
  const msgs = await store.messages.list(inbox.id);
  assert.deepEqual(msgs.map((m) => m.uid), [1, 2, 3]);
  const raws = await Promise.all(msgs.map((m) => store.messages.raw(m.blobId)));
  FIXTURES.forEach((f, i) => assert.ok(raws[i].subarray(raws[i].length - fixture(f).length).equals(fixture(f)), f));

  // imaplib: SELECT, FETCH the bytes back, mark one \Seen, SEARCH
  const imap = JSON.parse(await python(`
import imaplib, json, ssl, sys
m = imaplib.IMAP4_SSL('127.0.0.1', int(sys.argv[1]), ssl_context=ssl._create_unverified_context())
m.login('bob@example.test', 'bob-pw')
typ, data = m.select('INBOX')
out = {'exists': int(data[0])}
out['bodies'] = []
for i in range(1, out['exists'] + 1):
    typ, d = m.fetch(str(i), '(BODY.PEEK[])')
    out['bodies'].append(d[0][1].decode('latin1'))
m.store('1', '+FLAGS', '\\\\Seen')
out['unseen'] = m.search(None, 'UNSEEN')[1][0].decode()
out['subject'] = m.search('UTF-8', 'SUBJECT', 'attachments')[1][0].decode()
m.logout()
print(json.dumps(out))
`, [String(lab.port('imaps'))])) as { exists: number; bodies: string[]; unseen: string; subject: string };
  assert.equal(imap.exists, 3);
  imap.bodies.forEach((b, i) => assert.equal(b, raws[i].toString('latin1'), `IMAP FETCH ${i + 1} byte for byte`));
  assert.equal(imap.unseen, '2 3');
  assert.equal(imap.subject, '3');

  // poplib: STAT, RETR, DELE, QUIT; UIDL from (UIDVALIDITY, UID)
  const pop = JSON.parse(await python(`
import poplib, json, ssl, sys
p = poplib.POP3_SSL('127.0.0.1', int(sys.argv[1]), context=ssl._create_unverified_context())
p.user('bob@example.test'); p.pass_('bob-pw')
out = {'stat': list(p.stat()), 'uidl': [u.decode() for u in p.uidl()[1]]}
out['retr'] = b'\\r\\n'.join(p.retr(2)[1]).decode('latin1')
out['dele'] = p.dele(3).decode()
out['quit'] = p.quit().decode()
print(json.dumps(out))
`, [String(lab.port('pop3s'))])) as { stat: number[]; uidl: string[]; retr: string; dele: string; quit: string };
  assert.deepEqual(pop.stat, [3, raws.reduce((n, r) => n + r.length, 0)]);
  assert.deepEqual(pop.uidl, msgs.map((m, i) => `${i + 1} ${inbox.uidValidity}.${m.uid}`));
  assert.equal(pop.retr + '\r\n', raws[1].toString('latin1'));
  assert.match(pop.quit, /^\+OK .*\(2 messages left\)/);
  assert.deepEqual((await store.messages.list(inbox.id)).map((m) => m.uid), [1, 2]);

  // MUA -> MTA in -> MDA <- MUA, from the PostgreSQL journey
  const steps = (await store.journey.trace('<tutorial-html@example.test>')).map((r) => `${r.agent}:${r.step}`);
  for (const s of ['MUA:submitted', 'MTA in:received', 'MDA:stored', 'MUA access:fetched', 'MUA access:retrieved']) assert.ok(steps.includes(s), `${s} in ${steps.join(', ')}`);
});

test('IDLE on PostgreSQL: nodemailer delivers, imapflow in IDLE hears EXISTS; flags and expunges by another session too', { skip, timeout: 60_000 }, async (t) => {
  const { lab } = await pgLab(t);
  const flow = new ImapFlow({ host: '127.0.0.1', port: lab.port('imaps'), secure: true, tls: { rejectUnauthorized: false }, auth: { user: 'bob@example.test', pass: 'bob-pw' }, logger: false });
  await flow.connect();
  t.after(() => flow.logout().catch(() => {}));
  await flow.mailboxOpen('INBOX');
  const exists = new Promise<number>((resolve) => flow.on('exists', (e: { count: number }) => resolve(e.count)));
  const idling = flow.idle();
  const smtp = nodemailer.createTransport({ host: '127.0.0.1', port: lab.port('smtps'), secure: true, tls: { rejectUnauthorized: false }, auth: { user: 'alice@example.test', pass: 'alice-pw' } });
  t.after(() => smtp.close());
  const info = await smtp.sendMail({ envelope: { from: 'alice@example.test', to: ['bob@example.test'] }, raw: fixture('tutorial-text.eml') });
  assert.match(info.response, /^250 /);
  assert.equal(await exists, 1, 'IDLE announced the new message');
  await flow.noop();
  await idling.catch(() => {});

  // another session changes flags and expunges: a raw IMAP client in IDLE sees both
  await lab.deliver('bob@example.test', fixture('plain.eml'));
  const a = await client(lab, { user: 'bob@example.test', pass: 'bob-pw' });
  t.after(() => a.close());
  await a.cmd('SELECT INBOX');
  a.send('i1 IDLE\r\n');
  assert.equal(await a.next(), '+ idling');
  await flow.messageFlagsAdd('1', ['\\Deleted']);
  assert.match(await a.next(), /^\* 1 FETCH \(UID 1 FLAGS \(\\Deleted.*\)\)$/);
  await flow.messageDelete('1');
  assert.equal(await a.next(), '* 1 EXPUNGE');
  a.send('DONE\r\n');
  assert.equal(await a.next(), 'i1 OK IDLE terminated');
});

test('a second post office on the same database: mail taken by one wakes IDLE on the other', { skip, timeout: 60_000 }, async (t) => {
  const { lab: a, url } = await pgLab(t);
  const b = await startLab(t, { env: { POSTOFFICE_STORE_URL: url } });
  const c = await client(b, { user: 'bob@example.test', pass: 'bob-pw' });
  t.after(() => c.close());
  await c.cmd('SELECT INBOX');
  c.send('i1 IDLE\r\n');
  assert.equal(await c.next(), '+ idling');
  const smtp = nodemailer.createTransport({ host: '127.0.0.1', port: a.port('smtps'), secure: true, tls: { rejectUnauthorized: false }, auth: { user: 'alice@example.test', pass: 'alice-pw' } });
  t.after(() => smtp.close());
  await smtp.sendMail({ envelope: { from: 'alice@example.test', to: ['bob@example.test'] }, raw: fixture('tutorial-text.eml') });
  assert.equal(await c.next(), '* 1 EXISTS');
  assert.equal(await c.next(), '* 1 RECENT');
  c.send('DONE\r\n');
  assert.equal(await c.next(), 'i1 OK IDLE terminated');
  const f = await c.cmd('FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
  assert.match(f.join('\n'), /Subject: =\?UTF-8\?/i);
});

function cli(url: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, POSTOFFICE_STORE_URL: url, POSTOFFICE_DATA_DIR: '/nonexistent-postoffice-data', POSTOFFICE_LOG_LEVEL: 'silent' }, timeout: 30_000 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, out: stdout, err: stderr }));
  });
}

test('the CLI works on the same PostgreSQL database while the server runs', { skip, timeout: 60_000 }, async (t) => {
  const { lab, url } = await pgLab(t);
  let r = await cli(url, ['user', 'add', 'carol@example.test', '--password', 'carol-pw']);
  assert.equal(r.code, 0, r.err);
  r = await cli(url, ['user', 'list']);
  assert.match(r.out, /^carol@example\.test\s/m);
  // the running server knows carol at once: she logs in over IMAP and gets mail over SMTP
  const c = await client(lab, { user: 'carol@example.test', pass: 'carol-pw' });
  t.after(() => c.close());
  await lab.deliver('carol@example.test', fixture('plain.eml'));
  const sel = await c.cmd('SELECT INBOX');
  assert.ok(sel.includes('* 1 EXISTS'), sel.join('\n'));
  r = await cli(url, ['alias', 'add', 'info@example.test', 'carol@example.test']);
  assert.equal(r.code, 0, r.err);
  assert.equal((await lab.po.store.users.resolve('info@example.test')).kind, 'local');
  r = await cli(url, ['queue', 'list']);
  assert.equal(r.code, 0, r.err);
  r = await cli(url, ['backup', '/tmp/nowhere']);
  assert.equal(r.code, 1);
  assert.match(r.err, /PostgreSQL.*pg_dump/);
});
