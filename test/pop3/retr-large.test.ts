import assert from 'node:assert/strict';
import { test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { dotStuff, toCrlf } from '../../src/mail/dot-stuffing.js';
import { startLab } from '../helpers/lab.js';
import { Pop3Client } from './client.js';

v8.setFlagsFromString('--expose-gc');
const rawGc = vm.runInNewContext('gc') as () => void;
/** A full GC; array buffers are swept concurrently, so collect twice with a pause between. */
async function gc(): Promise<void> {
  rawGc();
  await new Promise((r) => setTimeout(r, 50));
  rawGc();
  await new Promise((r) => setTimeout(r, 50));
}

/** ~20 MB with bare LF line ends and lines starting with "." at every offset mod 64 KiB. */
function bigMessage(): Buffer {
  const parts: string[] = ['From: big@example.test\nTo: bob@example.test\nSubject: twenty megabytes\n\n'];
  let n = 0;
  let size = parts[0].length;
  while (size < 20 * 1024 * 1024) {
    const len = (n * 7919) % 97; // varied line lengths so that dots and line ends cross chunk boundaries
    const line = (n % 3 === 0 ? '.' : n % 5 === 0 ? '..' : 'x') + 'y'.repeat(len) + (n % 11 === 0 ? '\r\n' : '\n');
    parts.push(line);
    size += line.length;
    n++;
  }
  return Buffer.from(parts.join(''), 'latin1');
}

test('RETR of a 20 MB message streams with back-pressure and arrives intact', { timeout: 120_000 }, async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  const raw = bigMessage();
  await lab.deliver('bob@example.test', raw);
  const crlf = toCrlf(raw);
  const want = Buffer.concat([dotStuff(crlf), Buffer.from('.\r\n')]);

  const c = await Pop3Client.connect(lab.port('pop3'));
  await c.line();
  assert.match(await c.login('bob@example.test', 'pw'), /^\+OK/);
  assert.equal(await c.cmd('LIST 1'), `+OK 1 ${crlf.length}`);

  await gc();
  const before = process.memoryUsage().arrayBuffers;
  // a client that does not read: the server must wait (drain), not queue the whole message
  c.sock.pause();
  c.write('RETR 1\r\n');
  await new Promise((r) => setTimeout(r, 1500));
  await gc(); // what is still referenced: the stored bytes and whatever waits in the socket's queue
  const during = process.memoryUsage().arrayBuffers - before;
  c.sock.resume();
  assert.equal(await c.line(), `+OK ${crlf.length} octets`);
  const body = await c.multi();
  assert.equal(body.length, want.length);
  assert.ok(body.equals(want), 'CRLF line ends, stuffed dots, terminator');
  // the stored bytes (20 MB) are loaded once; queued output stays far below a second copy
  assert.ok(during < raw.length + 4 * 1024 * 1024, `memory held while the client stalls: ${(during / 1048576).toFixed(1)} MiB`);
  assert.match(await c.cmd('QUIT'), /^\+OK/);
});
