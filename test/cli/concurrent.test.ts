// The CLI works on the same database while the server is delivering mail (WAL, busy timeout).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { test } from 'node:test';
import { lineReader } from '../helpers/lab.js';
import { CLI, seedDataDir, startServe } from '../helpers/process.js';

function cli(dataDir: string, ...args: string[]): Promise<number> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, POSTOFFICE_DATA_DIR: dataDir }, timeout: 60_000 },
      (error) => resolve(error ? Number(error.code ?? 1) : 0));
  });
}

test('CLI commands succeed while 4 SMTP sessions deliver; no delivery fails', async (t) => {
  const dataDir = await seedDataDir(t, 'cli-live', { 'bob@example.test': 'pw' });
  const srv = await startServe(dataDir);
  t.after(() => srv.stop('SIGKILL'));

  let stop = false;
  const results: string[] = [];
  const sender = async () => {
    const sock = net.connect({ port: srv.ports.smtp, host: '127.0.0.1' });
    const r = lineReader(sock, 30_000);
    const reply = async () => { for (;;) { const l = await r.next(); if (l[3] !== '-') return l; } };
    await reply();
    sock.write('EHLO c\r\n'); await reply();
    while (!stop) {
      sock.write('MAIL FROM:<a@example.net>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n');
      await reply(); await reply(); await reply();
      sock.write('Subject: busy\r\n\r\nhello\r\n.\r\n');
      results.push(await reply());
    }
    sock.destroy();
  };
  const senders = Array.from({ length: 4 }, sender);
  const codes: number[] = [];
  for (let i = 0; i < 6; i++) codes.push(await cli(dataDir, 'user', 'add', `u${i}@example.test`, '--password', 'pw'));
  codes.push(await cli(dataDir, 'alias', 'add', 'team@example.test', 'bob@example.test'));
  codes.push(await cli(dataDir, 'user', 'list'));
  codes.push(await cli(dataDir, 'user', 'del', 'u0@example.test'));
  stop = true;
  await Promise.all(senders);
  assert.deepEqual(codes, Array(codes.length).fill(0), 'every CLI command succeeded');
  assert.ok(results.length > 0);
  assert.deepEqual(results.filter((l) => !l.startsWith('250 ')), [], 'no delivery failed meanwhile');
});
