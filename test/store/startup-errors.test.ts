// A corrupt database or unreadable certificate files stop start-up with one clear line, exit 1.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { CLI } from '../helpers/process.js';

function serve(env: Record<string, string>): Promise<{ code: number; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'serve'], {
      timeout: 30_000,
      env: { ...process.env, POSTOFFICE_SMTP_PORT: '0', POSTOFFICE_SMTPS_PORT: '0', POSTOFFICE_SUBMISSION_PORT: '0', POSTOFFICE_IMAP_PORT: '0',
        POSTOFFICE_IMAPS_PORT: '0', POSTOFFICE_POP3_PORT: '0', POSTOFFICE_POP3S_PORT: '0', POSTOFFICE_HTTP_PORT: '0', ...env },
    }, (error, _out, err) => resolve({ code: error ? Number(error.code ?? 1) : 0, err }));
  });
}

test('a corrupt database file: one line naming the file, exit 1', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-corrupt-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'postoffice.sqlite'), Buffer.alloc(8192, 0x5a));
  const r = await serve({ POSTOFFICE_DATA_DIR: dir });
  assert.equal(r.code, 1);
  assert.match(r.err, /^postoffice: cannot open the database .*postoffice\.sqlite: file is not a database\n$/);
});

test('unreadable certificate files: one line naming the setting, exit 1', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-cert-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(path.join(dir, 'data'));
  const r = await serve({ POSTOFFICE_DATA_DIR: path.join(dir, 'data'), POSTOFFICE_TLS_CERT: path.join(dir, 'missing.pem'), POSTOFFICE_TLS_KEY: path.join(dir, 'missing.key') });
  assert.equal(r.code, 1);
  assert.match(r.err, /^postoffice: cannot read TLS certificate\/key \(POSTOFFICE_TLS_CERT\/_KEY\): ENOENT/);
  assert.equal(r.err.split('\n').filter(Boolean).length, 1);
});
