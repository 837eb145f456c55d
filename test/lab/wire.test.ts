// The lab's wire in front of an MX port, with a real postoffice behind it and nodemailer's SMTP
// client (the relay's) in front: it forwards from the client's own address, and its faults break
// the connection the way the lab promises (down, slow greeting, broken STARTTLS), once each.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { Wire } from '../../src/lab/wire.js';
import { silentLogger } from '../../src/log/log.js';
import { startLab } from '../helpers/lab.js';
import { freePort } from '../helpers/process.js';

type Err = Error & { code?: string };

/** connect, greet, EHLO, STARTTLS: the outcome of an SMTP client session opening through the wire */
function open(port: number, opts: { greetingTimeout?: number; localAddress?: string } = {}): Promise<{ conn: SMTPConnection; secure: boolean } | { err: Err }> {
  return new Promise((resolve) => {
    const conn = new SMTPConnection({
      host: '127.0.0.1', port, name: 'client.test', opportunisticTLS: true, tls: { rejectUnauthorized: false },
      localAddress: opts.localAddress, greetingTimeout: opts.greetingTimeout ?? 5000, connectionTimeout: 5000, socketTimeout: 5000,
    });
    let done = false;
    conn.once('error', (err: Err) => { if (!done) { done = true; conn.close(); resolve({ err }); } });
    conn.connect(() => { if (!done) { done = true; resolve({ conn, secure: conn.secure }); } });
  });
}

test('the wire forwards from the client address and breaks connections on request, once per arming', { timeout: 60_000 }, async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  const port = await freePort();
  const wire = new Wire({ host: '127.0.0.1', port, target: { host: '127.0.0.1', port: lab.port('smtp') }, log: silentLogger });
  await wire.start();
  t.after(() => wire.close());

  // plain forwarding, STARTTLS through it, and the sender's address kept (the receiver's SPF sees it)
  const ok = await open(port);
  assert.ok('conn' in ok, 'err' in ok ? ok.err.message : '');
  assert.equal(ok.secure, true, 'STARTTLS through the wire');
  const echo = net.createServer((s) => s.end(`${s.remoteAddress}\r\n`));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  t.after(() => echo.close());
  const port2 = await freePort();
  const wire2 = new Wire({ host: '127.0.0.1', port: port2, target: { host: '127.0.0.1', port: (echo.address() as net.AddressInfo).port }, log: silentLogger });
  await wire2.start();
  t.after(() => wire2.close());
  const seen = await new Promise<string>((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port: port2, localAddress: '127.0.0.5' });
    s.once('error', reject);
    s.once('data', (d) => { resolve(d.toString().trim()); s.destroy(); });
  });
  assert.equal(seen, '127.0.0.5', 'the receiver sees the sender\'s own address');

  // arming cuts live sessions: a pooled relay session cannot sneak past the fault
  const closed = new Promise<void>((resolve) => ok.conn.once('end', () => resolve()));
  wire.arm({ kind: 'tls-broken' });
  await closed;

  // tls-broken: STARTTLS is answered 220, then the handshake fails; the next connection is fine
  const broken = await open(port);
  assert.ok('err' in broken, 'the handshake fails');
  assert.match(broken.err.message, /wrong version number|packet length|TLS|socket/i);
  const after = await open(port);
  assert.ok('conn' in after && after.secure, 'the fault was used up');
  after.conn.quit();

  // slow: no greeting within the client's greeting time-out
  wire.arm({ kind: 'slow', delayMs: 3000 });
  const slow = await open(port, { greetingTimeout: 500 });
  assert.ok('err' in slow);
  assert.match(slow.err.message, /Greeting never received/);
  const fine = await open(port, { greetingTimeout: 2000 });
  assert.ok('conn' in fine, 'the next greeting comes at once');

  // a fault for one sender's address leaves the others alone
  wire.arm({ kind: 'slow', delayMs: 3000 }, '127.0.0.9');
  const other = await open(port, { greetingTimeout: 2000, localAddress: '127.0.0.8' });
  assert.ok('conn' in other, 'another sender is not slowed');
  other.conn.quit();
  const target = await open(port, { greetingTimeout: 500, localAddress: '127.0.0.9' });
  assert.ok('err' in target, 'the armed sender is slowed');

  // down: refused while down, live connections cut; listening again afterwards
  const live = await open(port);
  assert.ok('conn' in live);
  const cut = new Promise<void>((resolve) => live.conn.once('end', () => resolve()));
  await wire.down(1500);
  await cut;
  assert.equal(wire.isDown, true);
  const refused = await open(port);
  assert.ok('err' in refused);
  assert.match(refused.err.message, /ECONNREFUSED/);
  const t0 = Date.now();
  for (;;) {
    const r = await open(port);
    if ('conn' in r) { r.conn.quit(); break; }
    assert.ok(Date.now() - t0 < 20_000, 'the wire listens again');
    await new Promise((res) => setTimeout(res, 200));
  }
  assert.equal(wire.isDown, false);
});
