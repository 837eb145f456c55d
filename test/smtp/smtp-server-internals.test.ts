// src/smtp/smtp-server-patch.ts reaches into smtp-server (no public hook exists for these needs).
// If an smtp-server update renames or changes what it relies on, these tests fail and say which
// internal moved, instead of the listeners misbehaving quietly. Real smtp-server listeners on
// 127.0.0.1, a raw TCP client so every reply line is seen as sent.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { missingInternals, onEveryCommand, receivingData, sendOn, sessionId, SMTP_SERVER_INTERNALS, type PatchedServerOptions } from '../../src/smtp/smtp-server-patch.js';

const HINT = 'smtp-server internals changed: read src/smtp/smtp-server-patch.ts against the new smtp-server source before updating the pinned version';

async function listen(t: TestContext, opts: Partial<PatchedServerOptions>): Promise<number> {
  const server = new SMTPServer({ logger: false, authOptional: true, disabledCommands: ['AUTH', 'STARTTLS'], hideENHANCEDSTATUSCODES: false, closeTimeout: 100, greetDelayMs: 0, ...opts } as PatchedServerOptions);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.server.address() as net.AddressInfo).port;
}

/** A line-oriented raw client: `next()` is the next reply line; `closed` settles when the server hangs up. */
function dial(t: TestContext, port: number) {
  const sock = net.connect(port, '127.0.0.1');
  t.after(() => sock.destroy());
  const lines: string[] = [];
  const waiting: ((l: string) => void)[] = [];
  let buf = '';
  sock.setEncoding('latin1');
  sock.on('data', (d: string) => {
    buf += d;
    for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const w = waiting.shift();
      if (w) w(l); else lines.push(l);
    }
  });
  const closed = new Promise<void>((resolve) => sock.on('close', () => resolve()));
  const next = () => new Promise<string>((resolve, reject) => {
    const l = lines.shift();
    if (l !== undefined) return resolve(l);
    const timer = setTimeout(() => reject(new Error('no reply line within 5 s')), 5000);
    waiting.push((x) => { clearTimeout(timer); resolve(x); });
  });
  /** the last line of a (possibly multi-line) reply */
  const reply = async () => { for (;;) { const l = await next(); if (!/^\d{3}-/.test(l)) return l; } };
  const send = (l: string) => sock.write(`${l}\r\n`);
  return { sock, next, reply, send, closed };
}

test('the smtp-server internals the patch wraps still exist', () => {
  assert.deepEqual(missingInternals(), [], HINT);
  assert.ok(SMTP_SERVER_INTERNALS.methods.includes('_onCommand'));
});

test('our own enhanced status code is not doubled; smtp-server still adds one where we gave none (send() context)', async (t) => {
  const port = await listen(t, {
    onMailFrom(addr, _s, cb) {
      if (addr.address === 'own@x.test') return cb(Object.assign(new Error('5.7.1 relaying denied'), { responseCode: 550 }));
      if (addr.address === 'none@x.test') return cb(Object.assign(new Error('no code here'), { responseCode: 550 }));
      cb();
    },
  });
  const c = dial(t, port);
  assert.match(await c.reply(), /^220 /);
  c.send('EHLO client.test');
  assert.match(await c.reply(), /^250 /);
  c.send('MAIL FROM:<own@x.test>');
  assert.equal(await c.reply(), '550 5.7.1 relaying denied', `${HINT} (SMTPConnection.prototype.send(code, data, context))`);
  c.send('MAIL FROM:<none@x.test>');
  assert.equal(await c.reply(), '550 5.1.1 no code here', 'smtp-server derives an enhanced code from 550 when the text has none');
});

test('greetDelayMs replaces init()\'s fixed 100 ms, and init()\'s maxClients check (via _server.options/_server.connections) still works', async (t) => {
  const port = await listen(t, { maxClients: 1, greetDelayMs: 0 });
  const a = dial(t, port);
  assert.match(await a.next(), /^220 /, `${HINT} (SMTPConnection.prototype.init / _setListeners / connectionReady)`);
  const b = dial(t, port);
  assert.match(await b.next(), /^421 .*Too many connected clients/, `${HINT} (SMTPConnection._server.options.maxClients / _server.connections)`);
  await b.closed;
  // an early talker still gets smtp-server's own refusal (the patched init keeps the check)
  const slowPort = await listen(t, { greetDelayMs: 300 });
  const early = dial(t, slowPort);
  early.send('EHLO too.early');
  assert.match(await early.next(), /^421 .*You talk too soon/);
});

test('connectionReady and _onCommand: a session\'s connection is found (a 421 can be sent on it) and every command is heard; _dataStream tells a DATA transfer', async (t) => {
  const heard: string[] = [];
  const seen: { inMail: boolean | null; inData: boolean | null; session: SMTPServerSession | null } = { inMail: null, inData: null, session: null };
  t.after(onEveryCommand((s) => heard.push(s.id)));
  const port = await listen(t, {
    onMailFrom(_a, s, cb) { seen.inMail = receivingData(s); seen.session = s; cb(); },
    onData(stream, s, cb) {
      seen.inData = receivingData(s);
      stream.on('data', () => undefined);
      stream.on('end', () => cb(null, 'ok'));
    },
  });
  const c = dial(t, port);
  assert.match(await c.reply(), /^220 /);
  c.send('EHLO client.test');
  await c.reply();
  c.send('NOOP');
  assert.match(await c.reply(), /^250 /);
  c.send('MAIL FROM:<a@x.test>');
  await c.reply();
  c.send('RCPT TO:<b@x.test>');
  await c.reply();
  c.send('DATA');
  assert.match(await c.reply(), /^354 /);
  c.send('Subject: x\r\n\r\nbody\r\n.');
  assert.match(await c.reply(), /^250 /);
  assert.equal(seen.inMail, false, `${HINT} (SMTPConnection._dataStream: set only while a DATA body is read)`);
  assert.equal(seen.inData, true, `${HINT} (SMTPConnection._dataStream: set while a DATA body is read)`);
  assert.ok(heard.length >= 5 && heard.every((id) => id === seen.session!.id), `${HINT} (SMTPConnection.prototype._onCommand: ${heard.length} commands heard)`);
  assert.equal(sendOn(seen.session!, 421, '4.7.0 evicted, try again later'), true, `${HINT} (SMTPConnection.prototype.connectionReady)`);
  assert.equal(await c.reply(), '421 4.7.0 evicted, try again later');
  await c.closed;
});

test('session ids sort by time (5.): the id a hook sees is the connection\'s, 18 characters of 0-9a-v, later sessions sort after', async (t) => {
  const seen: string[] = [];
  const port = await listen(t, { onConnect(s: SMTPServerSession, cb: (err?: Error) => void) { seen.push(s.id); cb(); } });
  for (let i = 0; i < 3; i++) {
    const c = dial(t, port);
    assert.match(await c.reply(), /^220 /);
    c.send('QUIT');
    await c.closed;
    await new Promise((r) => setTimeout(r, 2)); // a later millisecond
  }
  assert.equal(seen.length, 3);
  for (const id of seen) assert.match(id, /^[0-9a-v]{18}$/);
  assert.deepEqual([...seen].sort(), seen, 'in the order the sessions came');
  assert.equal(new Set(seen).size, 3);
  // the time part: 10 digits of milliseconds since 1970
  const ms = parseInt(seen[0].slice(0, 10), 32);
  assert.ok(Math.abs(ms - Date.now()) < 60_000, `time part ${ms} is now`);
  assert.ok(sessionId(1) < sessionId(2) && sessionId(2 ** 40) > sessionId(2 ** 39), 'fixed width');
});
