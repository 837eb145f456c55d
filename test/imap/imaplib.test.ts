// Python's imaplib (a strict, old client) against the real server.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fixture, ROOT, startLab } from '../helpers/lab.js';

test('Python imaplib: STARTTLS and IMAPS, LIST, SELECT, SEARCH, FETCH parts, STORE/COPY/MOVE/EXPUNGE, APPEND, Chinese folders', { timeout: 30_000 }, async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' }, env: { POSTOFFICE_ALLOW_PLAINTEXT_LOOPBACK: 'false' } });
  await lab.deliver('bob@example.test', fixture('plain.eml'));
  await lab.deliver('bob@example.test', fixture('multipart.eml'));
  const script = path.join(ROOT, 'test', 'imap', 'py', 'imaplib_client.py');
  const child = spawn('python3', [script, String(lab.port('imap')), String(lab.port('imaps')), path.join(ROOT, 'test', 'fixtures', 'multipart.eml')]);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, out);
  assert.equal(out.trim(), 'OK');
});
