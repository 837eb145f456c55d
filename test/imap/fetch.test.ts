import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture, startLab, transcript } from '../helpers/lab.js';
import { client } from './helpers.js';

const USERS = { users: { 'bob@example.test': 'pw' } };

/** Read one FETCH response with literals from a raw socket: the items as a map label -> bytes. */
async function fetchRaw(lab: Awaited<ReturnType<typeof startLab>>, line: string): Promise<{ text: string; lits: Buffer[] }> {
  const sock = await lab.connect('imaps');
  const chunks: Buffer[] = [];
  sock.on('data', (d: Buffer) => chunks.push(d));
  sock.write(`a LOGIN bob@example.test pw\r\nb SELECT INBOX\r\nc ${line}\r\n`);
  const deadline = Date.now() + 10_000;
  while (!Buffer.concat(chunks).toString('latin1').includes('\r\nc ')) {
    if (Date.now() > deadline) throw new Error('no reply');
    await new Promise((r) => setTimeout(r, 10));
  }
  sock.destroy();
  const all = Buffer.concat(chunks);
  const start = all.indexOf('* 1 FETCH') >= 0 ? all.lastIndexOf('\r\n* ', all.indexOf('\r\nc ')) : -1;
  const resp = all.subarray(all.indexOf('FETCH (', start) - 4, all.indexOf('\r\nc ') + 2);
  // split out literals
  const lits: Buffer[] = [];
  let text = '';
  let p = 0;
  for (;;) {
    const open = resp.indexOf('{', p);
    if (open < 0) { text += resp.toString('utf8', p); break; }
    const close = resp.indexOf('}\r\n', open);
    const n = Number(resp.toString('latin1', open + 1, close));
    text += resp.toString('utf8', p, open) + '<lit>';
    lits.push(resp.subarray(close + 3, close + 3 + n));
    p = close + 3 + n;
  }
  return { text, lits };
}

test('FETCH of a plain message: every simple item, exact lines', async (t) => {
  const lab = await startLab(t, USERS);
  await lab.deliver('bob@example.test', fixture('plain.eml'));
  const sock = await lab.connect('imaps');
  await transcript(sock, `
    S: * OK ...
    C: a LOGIN bob@example.test pw
    S: a OK ...
    C: b EXAMINE INBOX
    S: * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)
    S: * OK [PERMANENTFLAGS ()] read-only
    S: * 1 EXISTS
    S: * 1 RECENT
    S: * OK [UNSEEN 1] first unseen
    S: * OK [UIDVALIDITY ...
    S: * OK [UIDNEXT 2] predicted next UID
    S: * OK [HIGHESTMODSEQ ...
    S: b OK [READ-ONLY] EXAMINE completed
    C: c FETCH 1 (UID FLAGS RFC822.SIZE ENVELOPE)
    S: * 1 FETCH (UID 1 FLAGS (\\Recent) RFC822.SIZE 239 ENVELOPE ("Mon, 23 Nov 2026 10:00:00 +0000" "Hello plain" (("Alice" NIL "alice" "example.test")) (("Alice" NIL "alice" "example.test")) (("Alice" NIL "alice" "example.test")) (("Bob" NIL "bob" "example.test")) NIL NIL NIL "<plain1@example.test>"))
    S: c OK FETCH completed
    C: d FETCH 1 BODYSTRUCTURE
    S: * 1 FETCH (BODYSTRUCTURE ("text" "plain" ("CHARSET" "utf-8") NIL NIL "7BIT" 38 2 NIL NIL NIL NIL))
    S: d OK FETCH completed
    C: e FETCH 1 BODY
    S: * 1 FETCH (BODY ("text" "plain" ("CHARSET" "utf-8") NIL NIL "7BIT" 38 2))
    S: e OK FETCH completed
    C: f FETCH 1 (BODY[TEXT]<6.3>)
    S: * 1 FETCH (BODY[TEXT]<6> {3}
    S: Bob)
    S: f OK FETCH completed
    C: g FETCH 1 (FLAGS)
    S: * 1 FETCH (FLAGS (\\Recent))
    S: g OK FETCH completed
    C: h FETCH 2 FLAGS
    S: h BAD invalid message sequence number
    C: i UID FETCH 2:* FLAGS
    S: * 1 FETCH (UID 1 FLAGS (\\Recent))
    S: i OK FETCH completed
    C: j FETCH 1 (BODY[1.HEADER.BOGUS])
    S: j BAD invalid section 1.HEADER.BOGUS
  `);
});

test('FETCH of a multipart message: every section kind, byte for byte', async (t) => {
  const lab = await startLab(t, USERS);
  const raw = fixture('multipart.eml');
  await lab.deliver('bob@example.test', raw);
  const s = raw.toString('latin1');
  const between = (a: string, b: string) => Buffer.from(s.slice(s.indexOf(a), s.indexOf(b, s.indexOf(a))), 'latin1');
  const headerEnd = s.indexOf('\r\n\r\n') + 4;
  const cases: [string, Buffer][] = [
    ['BODY.PEEK[]', raw],
    ['BODY.PEEK[HEADER]', raw.subarray(0, headerEnd)],
    ['BODY.PEEK[TEXT]', raw.subarray(headerEnd)],
    ['BODY.PEEK[1]', between('--inner\r\n', '\r\n--outer')],
    ['BODY.PEEK[1.1]', Buffer.from('Caf=C3=A9 au lait, soft=\r\n break.')],
    ['BODY.PEEK[1.1.MIME]', Buffer.from('Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n')],
    ['BODY.PEEK[1.2]', Buffer.from('<p>Caf\xc3\xa9</p>', 'latin1')],
    ['BODY.PEEK[2]', Buffer.from('AAECAwQFBgcICQ==')],
    ['BINARY.PEEK[2]', Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])],
    ['BINARY.PEEK[1.1]', Buffer.from('Café au lait, soft break.')],
    ['BODY.PEEK[3]', Buffer.from('From: Eve <eve@example.test>\r\nSubject: inner message\r\nContent-Type: text/plain\r\n\r\ninner body line')],
    ['BODY.PEEK[3.HEADER]', Buffer.from('From: Eve <eve@example.test>\r\nSubject: inner message\r\nContent-Type: text/plain\r\n\r\n')],
    ['BODY.PEEK[3.TEXT]', Buffer.from('inner body line')],
    ['BODY.PEEK[3.1]', Buffer.from('inner body line')],
    ['BODY.PEEK[3.HEADER.FIELDS (SUBJECT)]', Buffer.from('Subject: inner message\r\n\r\n')],
    ['BODY.PEEK[HEADER.FIELDS (To Cc)]', Buffer.from('To: Bob <bob@example.test>, carol@example.test\r\nCc: Dave <dave@example.test>\r\n\r\n')],
    ['BODY.PEEK[HEADER.FIELDS.NOT (From To Cc Subject Date Message-ID MIME-Version Return-Path Received)]', Buffer.from('Content-Type: multipart/mixed; boundary="outer"\r\n\r\n')],
    ['BODY.PEEK[]<10.20>', raw.subarray(10, 30)],
  ];
  for (const [item, want] of cases) {
    const r = await fetchRaw(lab, `FETCH 1 (${item})`);
    assert.equal(r.lits.length, 1, `${item}: ${r.text}`);
    assert.deepEqual(r.lits[0], want, item);
  }
  const size = await fetchRaw(lab, 'FETCH 1 (BINARY.SIZE[2] BODY.PEEK[9])');
  assert.match(size.text, /BINARY\.SIZE\[2\] 10 BODY\[9\] <lit>\)/);
  assert.equal(size.lits[0].length, 0);
});

test('BODY[] sets \\Seen (not in EXAMINE, not with PEEK), and the FETCH carries the new FLAGS', async (t) => {
  const lab = await startLab(t, USERS);
  await lab.deliver('bob@example.test', fixture('plain.eml'));
  const c = await client(lab, { user: 'bob@example.test' });
  await c.cmd('EXAMINE INBOX');
  const ex = await c.cmd('FETCH 1 (BODY[HEADER.FIELDS (Subject)])');
  assert.equal(ex[0], '* 1 FETCH (BODY[HEADER.FIELDS (Subject)] {24}');
  assert.equal(ex[ex.length - 1], 'TAG OK FETCH completed');
  assert.ok(!ex.join('\n').includes('FLAGS'));
  await c.cmd('SELECT INBOX');
  const peek = await c.cmd('FETCH 1 (BODY.PEEK[TEXT])');
  assert.ok(!peek.join('\n').includes('\\Seen'));
  const body = await c.cmd('FETCH 1 (BODY[TEXT])');
  assert.equal(body[body.length - 2], ' FLAGS (\\Seen \\Recent))');
  assert.deepEqual(await c.cmd('FETCH 1 FLAGS'), ['* 1 FETCH (FLAGS (\\Seen \\Recent))', 'TAG OK FETCH completed']);
});

test('the first body fetch by a session records a journey event', async (t) => {
  const lab = await startLab(t, USERS);
  const { msgId } = await lab.deliver('bob@example.test', fixture('plain.eml'));
  const c = await client(lab, { user: 'bob@example.test' });
  await c.cmd('ID ("name" "journey-test")');
  await c.cmd('SELECT INBOX');
  await c.cmd('FETCH 1 (BODY.PEEK[HEADER])');
  await c.cmd('FETCH 1 (BODY.PEEK[])');
  await c.cmd('FETCH 1 (BODY.PEEK[])');
  const rows = (await lab.po.store.journey.trace(msgId)).filter((r) => r.agent === 'MUA access');
  assert.equal(rows.length, 1);
  assert.equal(rows[0].step, 'fetched');
  assert.deepEqual({ ...rows[0].details, session: 'x' }, { user: 'bob@example.test', session: 'x', client: 'journey-test', mailbox: 'INBOX', uid: 1 });
});
