// Slowloris: many idle connections from one address must not starve other clients.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { lineReader, startLab } from '../helpers/lab.js';

function open(port: number, localAddress = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress }, () => resolve(s));
    s.once('error', reject);
  });
}

test('150 idle connections from one address, limit 100: each newcomer is greeted and the longest-idle one gets 421 4.7.0; others are served at once', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' }, env: { POSTOFFICE_MAX_CONNECTIONS_PER_IP: '100' } });
  const port = lab.port('smtp');
  const idle: net.Socket[] = [];
  t.after(() => idle.forEach((s) => s.destroy()));
  const readers: ReturnType<typeof lineReader>[] = [];
  const greetings: Promise<string>[] = [];
  for (let i = 0; i < 150; i++) {
    const s = await open(port);
    s.on('error', () => undefined);
    idle.push(s);
    const r = lineReader(s);
    readers.push(r);
    greetings.push(r.next().catch(() => 'closed'));
  }
  const first = await Promise.all(greetings);
  // before issue 13 the last 50 got "421 4.7.0 ... too many connections from your address" instead
  assert.equal(first.filter((l) => l.startsWith('220 ')).length, 150, 'every newcomer is greeted');
  const evicted = await Promise.all(readers.slice(0, 50).map((r) => r.next().catch(() => 'closed')));
  for (const l of evicted) assert.match(l, /^421 4\.7\.0 mail\.example\.test too many connections from your address; the longest idle one is closed to make room/);
  assert.equal(lab.po.limiter.openFrom('127.0.0.1'), 100);

  // a client from another address is greeted at once and can deliver
  const t0 = Date.now();
  const other = await open(port, '127.0.0.2');
  const r = lineReader(other);
  assert.match(await r.next(), /^220 /);
  assert.ok(Date.now() - t0 < 2000, 'greeted at once');
  const reply = async () => { for (;;) { const l = await r.next(); if (l[3] !== '-') return l; } };
  other.write('EHLO other.test\r\n'); await reply();
  other.write('MAIL FROM:<x@other.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n');
  await reply(); await reply(); await reply();
  other.write('Subject: still served\r\n\r\nhello\r\n.\r\nQUIT\r\n');
  assert.match(await reply(), /^250 2\.6\.0/);
  other.destroy();
  // closing idle connections frees their slots
  idle.forEach((s) => s.destroy());
  await new Promise((res) => setTimeout(res, 300));
  assert.equal(lab.po.limiter.open, 0);
});
