import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture, lineReader, startLab, transcript } from '../helpers/lab.js';
import { startImap } from '../../src/imap/index.js';
import { silentLogger } from '../../src/log/log.js';
import net from 'node:net';

test('unknown and malformed commands get BAD with a reason; too many errors end with BYE', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  await lab.deliver('bob@example.test', fixture('plain.eml'));
  await transcript(await lab.connect('imaps'), `
    S: * OK ...
    C: a FROBNICATE
    S: a BAD unknown command FROBNICATE
    C: b SELECT INBOX
    S: b BAD SELECT needs login first
    C: c LOGIN "unterminated
    S: c BAD unterminated quoted string
    C: d UID NOOP
    S: d BAD unknown command UID NOOP
    C: e LOGIN {99999999}
    S: e NO [TOOBIG] literal of 99999999 octets is too large
    C: f LOGIN bob@example.test pw
    S: f OK ...
    C: g FETCH 1 FLAGS
    S: g BAD FETCH needs a selected mailbox
    C: h SELECT INBOX
    S: * FLAGS ...
    S: * OK ...
    S: * 1 EXISTS
    S: * 1 RECENT
    S: * OK [UNSEEN 1] ...
    S: * OK ...
    S: * OK ...
    S: * OK ...
    S: h OK [READ-WRITE] SELECT completed
    C: i FETCH 2 FLAGS
    S: i BAD invalid message sequence number
    C: j FETCH 1:* (BODY[HEADER.FIELDS ()])
    S: j BAD invalid header field name
    C: k STORE 1 FLIP (\\Seen)
    S: k BAD unknown store item FLIP
    C: k2 FETCH 1 (FLAGS BOGUS)
    S: k2 BAD unknown fetch item BOGUS
    C: k3 NOOP
    S: k3 OK NOOP completed
    C: l1 BOGUS
    S: l1 BAD unknown command BOGUS
    C: l2 BOGUS
    S: l2 BAD unknown command BOGUS
    C: l3 BOGUS
    S: l3 BAD unknown command BOGUS
    C: l4 BOGUS
    S: l4 BAD unknown command BOGUS
    C: l5 BOGUS
    S: l5 BAD unknown command BOGUS
    C: l6 BOGUS
    S: l6 BAD unknown command BOGUS
    C: l7 BOGUS
    S: l7 BAD unknown command BOGUS
    C: l8 BOGUS
    S: l8 BAD unknown command BOGUS
    C: l9 BOGUS
    S: l9 BAD unknown command BOGUS
    C: l10 BOGUS
    S: l10 BAD unknown command BOGUS
    S: * BYE too many errors
  `);
});

test('a too-large non-synchronizing literal is refused and the connection closed; no + is sent', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' }, env: { POSTOFFICE_MAX_MESSAGE_BYTES: '1000' } });
  await transcript(await lab.connect('imaps'), `
    S: * OK ...
    C: a LOGIN bob@example.test pw
    S: a OK ...
    C: b APPEND INBOX {5000}
    S: b NO [TOOBIG] literal of 5000 octets is too large
    C: c APPEND INBOX {5000+}
    S: c BAD [TOOBIG] non-synchronizing literal of 5000 octets is too large
    S: * BYE cannot skip a non-synchronizing literal
  `);
});

test('an over-long line and too many commands before login end the session', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  const s1 = await lab.connect('imaps');
  const r1 = lineReader(s1);
  await r1.next();
  s1.write('a NOOP ' + 'x'.repeat(70 * 1024));
  assert.equal(await r1.next(), '* BAD line too long');
  assert.equal(await r1.next(), '* BYE too much input without a line end');
  const s2 = await lab.connect('imaps');
  const r2 = lineReader(s2);
  await r2.next();
  for (let i = 0; i < 25; i++) s2.write(`n${i} NOOP\r\n`);
  for (let i = 0; i < 25; i++) assert.equal(await r2.next(), `n${i} OK NOOP completed`);
  s2.write('x NOOP\r\n');
  assert.equal(await r2.next(), '* BYE too many commands before login');
});

test('idle timeouts: short before login, longer after (configurable)', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  const h = await startImap({ listener: 'imap', config: lab.config, store: lab.po.store, auth: lab.po.auth, tls: lab.po.tls, log: silentLogger, options: { preauthTimeoutMs: 1500, idleTimeoutMs: 4000 } }, 0, '127.0.0.1');
  t.after(() => h.close());
  const connect = () => new Promise<net.Socket>((resolve) => { const s = net.connect(h.port, '127.0.0.1', () => resolve(s)); });
  const s1 = await connect();
  const r1 = lineReader(s1);
  await r1.next();
  const t0 = Date.now();
  assert.equal(await r1.next(), '* BYE Autologout; idle for too long');
  assert.ok(Date.now() - t0 < 3500, 'the short pre-login timeout applies');
  const s2 = await connect();
  const r2 = lineReader(s2);
  await r2.next();
  s2.write('a LOGIN bob@example.test pw\r\n');
  assert.match(await r2.next(), /^a OK/);
  const t1 = Date.now();
  assert.equal(await r2.next(), '* BYE Autologout; idle for too long');
  assert.ok(Date.now() - t1 >= 3500, 'after login the longer timeout applies');
});

test('random bytes and mutated commands never crash the server', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  await lab.deliver('bob@example.test', fixture('multipart.eml'));
  const seeds = [
    'a FETCH 1 (BODY.PEEK[1.2.HEADER.FIELDS (A B)]<0.5> BODYSTRUCTURE ENVELOPE)', 'b SEARCH OR (FROM "a") NOT SEEN UID 1:*',
    'c STORE 1 +FLAGS (\\Seen)', 'd LIST "" "*"', 'e STATUS INBOX (MESSAGES)', 'f UID FETCH 1:* (BINARY.PEEK[1] MODSEQ) (CHANGEDSINCE 1)',
    'g APPEND INBOX {5+}\r\nhello', 'h SELECT INBOX (CONDSTORE)', 'i COPY 1 Archive', 'j ID ("a" "b")',
  ];
  let seed = 12345;
  const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  for (let round = 0; round < 5; round++) {
    const sock = await lab.connect('imaps');
    sock.on('error', () => undefined);
    sock.write('a LOGIN bob@example.test pw\r\nb SELECT INBOX\r\n');
    for (let i = 0; i < 40; i++) {
      let line = seeds[rnd(seeds.length)];
      const pos = rnd(line.length);
      const junk = String.fromCharCode(...Array.from({ length: rnd(6) }, () => rnd(256)));
      line = rnd(2) ? line.slice(0, pos) + junk + line.slice(pos + 1) : line.slice(0, pos);
      sock.write(Buffer.from(line + '\r\n', 'latin1'));
    }
    await new Promise((r) => setTimeout(r, 100));
    sock.destroy();
  }
  // still serving
  await transcript(await lab.connect('imaps'), `
    S: * OK ...
    C: z LOGIN bob@example.test pw
    S: z OK ...
  `);
});

test('an IDLE client is dropped after the idle timeout too', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  const h = await startImap({ listener: 'imaps', config: lab.config, store: lab.po.store, auth: lab.po.auth, tls: lab.po.tls, log: silentLogger, options: { idleTimeoutMs: 500 } }, 0, '127.0.0.1');
  t.after(() => h.close());
  const tls = await import('node:tls');
  const sock = await new Promise<net.Socket>((resolve) => { const s = tls.connect({ port: h.port, host: '127.0.0.1', rejectUnauthorized: false }, () => resolve(s)); });
  const r = lineReader(sock);
  await r.next();
  sock.write('a LOGIN bob@example.test pw\r\nb IDLE\r\n');
  assert.match(await r.next(), /^a OK/);
  assert.equal(await r.next(), '+ idling');
  assert.equal(await r.next(), '* BYE Autologout; idle for too long');
});

test('a client that stops reading a big FETCH is dropped (back-pressure, bounded wait)', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  const big = Buffer.concat([fixture('plain.eml'), Buffer.alloc(4 * 1024 * 1024, 'x')]);
  await lab.deliver('bob@example.test', big);
  const h = await startImap({ listener: 'imap', config: lab.config, store: lab.po.store, auth: lab.po.auth, tls: lab.po.tls, log: silentLogger, options: { idleTimeoutMs: 700 } }, 0, '127.0.0.1');
  t.after(() => h.close());
  const sock = await new Promise<net.Socket>((resolve) => { const s = net.connect(h.port, '127.0.0.1', () => resolve(s)); });
  sock.write('a LOGIN bob@example.test pw\r\nb SELECT INBOX\r\n' + 'c FETCH 1 BODY.PEEK[]\r\n'.repeat(10));
  sock.pause(); // do not read for a while
  await new Promise((r) => setTimeout(r, 2500));
  let got = '';
  sock.on('data', (d: Buffer) => { got += d.toString('latin1').replace(/x{1000,}/g, ''); });
  sock.resume();
  const closed = await new Promise<boolean>((resolve) => {
    sock.once('close', () => resolve(true));
    setTimeout(() => resolve(false), 8000);
  });
  assert.ok(closed, 'the server gave up on the client');
  assert.ok((got.match(/\r\nc OK/g) ?? []).length < 10, 'not every FETCH was answered');
});

test('keywords are bounded: 50 characters each (as Dovecot), 64 in one command; the mailbox is unchanged', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  await lab.deliver('bob@example.test', fixture('plain.eml'));
  const k50 = 'k'.repeat(50);
  const many = Array.from({ length: 65 }, (_, i) => `kw${i}`).join(' ');
  await transcript(await lab.connect('imaps'), `
    S: * OK ...
    C: a LOGIN bob@example.test pw
    S: a OK ...
    C: b SELECT INBOX
    S: * FLAGS ...
    S: * OK ...
    S: * 1 EXISTS
    S: * 1 RECENT
    S: * OK [UNSEEN 1] ...
    S: * OK ...
    S: * OK ...
    S: * OK ...
    S: b OK [READ-WRITE] SELECT completed
    C: c STORE 1 +FLAGS (${k50})
    S: * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft ${k50})
    S: * OK [PERMANENTFLAGS ...
    S: * 1 FETCH (FLAGS (${k50} \\Recent))
    S: c OK STORE completed
    C: d STORE 1 +FLAGS (${k50}x)
    S: d NO [CANNOT] keyword longer than 50 characters
    C: e STORE 1 FLAGS (${many})
    S: e NO [LIMIT] at most 64 keywords at once
    C: f APPEND INBOX (${k50}y) {1+}
    C: x
    S: f NO [CANNOT] keyword longer than 50 characters
    C: g FETCH 1 FLAGS
    S: * 1 FETCH (FLAGS (${k50} \\Recent))
    S: g OK FETCH completed
  `);
});
