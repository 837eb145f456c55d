import assert from 'node:assert/strict';
import { test } from 'node:test';
import zlib from 'node:zlib';
import { ImapFlow } from 'imapflow';
import { fixture, lineReader, startLab } from '../helpers/lab.js';

test('COMPRESS DEFLATE (RFC 4978): raw deflate both ways after the OK, big FETCH intact', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  const raw = fixture('multipart.eml');
  await lab.deliver('bob@example.test', raw);
  const sock = await lab.connect('imaps');
  const r = lineReader(sock);
  await r.next();
  sock.write('a LOGIN bob@example.test pw\r\n');
  assert.match(await r.next(), /^a OK/);
  sock.write('b COMPRESS DEFLATE\r\n');
  assert.equal(await r.next(), 'b OK DEFLATE active');
  sock.removeAllListeners('data');
  const inflate = zlib.createInflateRaw();
  const deflate = zlib.createDeflateRaw();
  sock.on('data', (d: Buffer) => inflate.write(typeof d === 'string' ? Buffer.from(d, 'latin1') : d));
  deflate.on('data', (d: Buffer) => sock.write(d));
  let got = Buffer.alloc(0);
  inflate.on('data', (d: Buffer) => { got = Buffer.concat([got, d]); });
  const send = (line: string) => { deflate.write(line + '\r\n'); deflate.flush(zlib.constants.Z_SYNC_FLUSH); };
  const until = async (tagLine: string) => {
    const deadline = Date.now() + 5000;
    while (!got.toString('latin1').includes(tagLine)) {
      if (Date.now() > deadline) throw new Error(`no ${tagLine}: ${got.toString('latin1')}`);
      await new Promise((res) => setTimeout(res, 10));
    }
  };
  send('c SELECT INBOX');
  await until('c OK');
  got = Buffer.alloc(0);
  send('d FETCH 1 (BODY.PEEK[])');
  await until('d OK FETCH completed');
  const head = `* 1 FETCH (BODY[] {${raw.length}}\r\n`;
  assert.equal(got.toString('latin1', 0, head.length), head);
  assert.ok(got.subarray(head.length, head.length + raw.length).equals(raw));
  send('e COMPRESS DEFLATE');
  await until('e NO [COMPRESSIONACTIVE]');
  sock.destroy();
});

test('imapflow negotiates COMPRESS and works through it', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  await lab.deliver('bob@example.test', fixture('multipart.eml'));
  const c = new ImapFlow({ host: '127.0.0.1', port: lab.port('imaps'), secure: true, tls: { rejectUnauthorized: false }, auth: { user: 'bob@example.test', pass: 'pw' }, logger: false });
  await c.connect();
  t.after(() => c.logout().catch(() => undefined));
  assert.ok((c as unknown as { _deflate?: unknown })._deflate, 'compression active');
  await c.mailboxOpen('INBOX');
  const m = await c.fetchOne('1', { source: true });
  assert.ok(m && m.source?.equals(fixture('multipart.eml')));
});
