// `postoffice user add --admin`, `user admin ADDRESS on|off`, and admins in `user list`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { SqliteStore } from '../../src/store/index.js';
import { CLI } from '../helpers/process.js';

function run(dataDir: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, POSTOFFICE_DATA_DIR: dataDir }, timeout: 20_000 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, out: stdout, err: stderr }));
  });
}

test('user add --admin, user admin on|off, user list marks admins; errors exit 1, bad usage 2', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-cli-admin-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let r = await run(dir, ['user', 'add', 'boss@example.test', '--admin', '--password', 'pw']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^added admin boss@example\.test/);
  r = await run(dir, ['user', 'add', 'pleb@example.test', '--password', 'pw']);
  assert.equal(r.code, 0, r.err);
  r = await run(dir, ['user', 'list']);
  assert.match(r.out, /^boss@example\.test\s+0 message\(s\)\s+0\.0 KiB\s+admin$/m);
  assert.match(r.out, /^pleb@example\.test\s+0 message\(s\)\s+0\.0 KiB$/m);

  r = await run(dir, ['user', 'admin', 'PLEB@example.test', 'on']);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 'pleb@example.test is an admin now\n');
  r = await run(dir, ['user', 'admin', 'boss@example.test', 'off']);
  assert.equal(r.code, 0, r.err);
  const store = new SqliteStore({ dataDir: dir });
  try {
    assert.equal((await store.users.get('pleb@example.test'))!.admin, true);
    assert.equal((await store.users.get('boss@example.test'))!.admin, false);
  } finally {
    await store.close();
  }
  r = await run(dir, ['user', 'admin', 'nobody@example.test', 'on']);
  assert.equal(r.code, 1);
  assert.equal(r.err, 'postoffice: no such user: nobody@example.test\n');
  r = await run(dir, ['user', 'admin', 'boss@example.test', 'maybe']);
  assert.equal(r.code, 2);
  assert.match(r.err, /user admin: expected ADDRESS on\|off/);
  r = await run(dir, ['user', 'admin', 'boss@example.test']);
  assert.equal(r.code, 2);
});
