// The tutorial across two nodes on one PostgreSQL database: Python's smtplib submits to node A
// (127.0.0.2), imaplib and poplib read on node B (127.0.0.3). What the nodes must agree on holds
// across them: POP3's one session per maildrop (RFC 1939 §8) and the login-failure counts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import tls from 'node:tls';
import pg from 'pg';
import { fixture } from '../helpers/lab.js';
import { pgUnavailable } from '../helpers/pg.js';
import { python } from '../helpers/python.js';
import { sharedDatabase, startNode, type PgNode } from './nodes.js';

const skip = pgUnavailable() ?? false;
const FIXTURES = ['tutorial-text.eml', 'tutorial-html.eml', 'tutorial-attachments.eml'];

/** A POP3 conversation over TLS: each command's first reply line (the greeting first). */
async function pop3(node: PgNode, commands: string[], keepOpen = false): Promise<{ replies: string[]; socket: tls.TLSSocket }> {
  const s = tls.connect({ host: node.host, port: node.ports.pop3s!, rejectUnauthorized: false });
  s.on('error', () => undefined);
  let buf = '';
  const line = () => new Promise<string>((resolve, reject) => {
    const look = () => {
      const i = buf.indexOf('\r\n');
      if (i < 0) return false;
      const l = buf.slice(0, i);
      buf = buf.slice(i + 2);
      resolve(l);
      return true;
    };
    if (look()) return;
    const on = (d: Buffer) => { buf += d.toString('latin1'); if (look()) { s.off('data', on); s.off('close', closed); } };
    const closed = () => reject(new Error(`connection closed; had ${buf}`));
    s.on('data', on);
    s.once('close', closed);
  });
  const replies = [await line()];
  for (const c of commands) {
    s.write(c + '\r\n');
    replies.push(await line());
  }
  if (!keepOpen) s.end();
  return { replies, socket: s };
}

test('tutorial across nodes: smtplib to node A, imaplib and poplib on node B read the same bytes', { skip, timeout: 120_000 }, async (t) => {
  const { url } = await sharedDatabase(t, { 'alice@example.test': 'alice-pw', 'bob@example.test': 'bob-pw' });
  const a = await startNode(t, { name: 'a', host: '127.0.0.2', url, listeners: ['smtps'] });
  const b = await startNode(t, { name: 'b', host: '127.0.0.3', url, listeners: ['imaps', 'pop3s'] });

  const out = await python(`
import smtplib, ssl, sys
ctx = ssl._create_unverified_context()
with smtplib.SMTP_SSL(sys.argv[1], int(sys.argv[2]), context=ctx) as s:
    s.login('alice@example.test', 'alice-pw')
    for f in sys.argv[3:]:
        print(s.sendmail('alice@example.test', ['bob@example.test'], open(f, 'rb').read()) == {})
`, [a.host, String(a.ports.smtps), ...FIXTURES.map((f) => `test/fixtures/${f}`)]);
  assert.equal(out.trim(), 'True\nTrue\nTrue');

  // imaplib on B: the three messages, each ending with exactly the bytes smtplib sent
  const imap = await python(`
import imaplib, ssl, sys, base64
c = imaplib.IMAP4_SSL(sys.argv[1], int(sys.argv[2]), ssl_context=ssl._create_unverified_context())
c.login('bob@example.test', 'bob-pw')
typ, data = c.select('INBOX')
print(data[0].decode())
for n in range(1, int(data[0]) + 1):
    typ, msg = c.fetch(str(n), '(RFC822)')
    print(base64.b64encode(msg[0][1]).decode())
c.logout()
`, [b.host, String(b.ports.imaps)]);
  const [count, ...bodies] = imap.trim().split('\n');
  assert.equal(count, '3');
  FIXTURES.forEach((f, i) => {
    const got = Buffer.from(bodies[i], 'base64');
    assert.ok(got.subarray(got.length - fixture(f).length).equals(fixture(f)), `${f} over IMAP on B`);
  });

  // poplib on B: STAT, RETR, the same bytes; DELE + QUIT removes them for every node
  const pop = await python(`
import poplib, ssl, sys, base64
p = poplib.POP3_SSL(sys.argv[1], int(sys.argv[2]), context=ssl._create_unverified_context())
p.user('bob@example.test'); p.pass_('bob-pw')
n, size = p.stat()
print(n)
for i in range(1, n + 1):
    resp, lines, octets = p.retr(i)
    print(base64.b64encode(b'\\r\\n'.join(lines) + b'\\r\\n').decode())
    p.dele(i)
p.quit()
`, [b.host, String(b.ports.pop3s)]);
  const [n, ...retrieved] = pop.trim().split('\n');
  assert.equal(n, '3');
  FIXTURES.forEach((f, i) => {
    const got = Buffer.from(retrieved[i], 'base64');
    assert.ok(got.subarray(got.length - fixture(f).length).equals(fixture(f)), `${f} over POP3 on B`);
  });
  const after = await python(`
import imaplib, ssl, sys
c = imaplib.IMAP4_SSL(sys.argv[1], int(sys.argv[2]), ssl_context=ssl._create_unverified_context())
c.login('bob@example.test', 'bob-pw')
print(c.select('INBOX')[1][0].decode())
`, [b.host, String(b.ports.imaps)]);
  assert.equal(after.trim(), '0');
});

test('POP3 maildrop lock and login-failure counts hold across nodes', { skip, timeout: 120_000 }, async (t) => {
  const { url } = await sharedDatabase(t, { 'bob@example.test': 'bob-pw' });
  const env = { POSTOFFICE_LOCAL_SENDER_ON_PORT25: 'allow' };
  const a = await startNode(t, { name: 'a', host: '127.0.0.2', url, listeners: ['pop3s'], env });
  const b = await startNode(t, { name: 'b', host: '127.0.0.3', url, listeners: ['pop3s'], env });

  // RFC 1939 §8: bob's POP3 session on A holds the maildrop; a second session on B is refused
  const first = await pop3(a, ['USER bob@example.test', 'PASS bob-pw'], true);
  assert.match(first.replies[2], /^\+OK /);
  const second = await pop3(b, ['USER bob@example.test', 'PASS bob-pw']);
  assert.match(second.replies[2], /^-ERR \[IN-USE\] /);
  // A's session ends with QUIT: the lock is gone for every node at once
  first.socket.write('QUIT\r\n');
  await new Promise((r) => first.socket.once('close', r));
  const third = await pop3(b, ['USER bob@example.test', 'PASS bob-pw', 'QUIT']);
  assert.match(third.replies[2], /^\+OK /);

  // (a node killed while holding a lock lets go when the lock expires: test/multinode/leases.test.ts)
  const db = new pg.Client({ connectionString: url });
  db.on('error', () => undefined);
  await db.connect();
  try {
    assert.equal((await db.query(`SELECT count(*)::int AS n FROM locks`)).rows[0].n, 0, 'QUIT released the lock');

    // failures on A and on B count together (per account and per client address)
    for (const node of [a, a, b]) {
      const r = await pop3(node, ['USER bob@example.test', 'PASS wrong']);
      assert.match(r.replies[2], /^-ERR \[AUTH\] /);
    }
    const counts = Object.fromEntries((await db.query('SELECT key, failures FROM login_failures')).rows.map((r) => [r.key as string, r.failures as number]));
    assert.equal(counts['account:bob@example.test'], 3, JSON.stringify(counts));
    // a successful login on either node forgets them
    const ok = await pop3(a, ['USER bob@example.test', 'PASS bob-pw', 'QUIT']);
    assert.match(ok.replies[2], /^\+OK /);
    assert.equal((await db.query(`SELECT count(*)::int AS n FROM login_failures WHERE key = 'account:bob@example.test'`)).rows[0].n, 0);
  } finally {
    await db.end();
  }
});
