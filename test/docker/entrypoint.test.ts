// The container entrypoint, run directly (no Docker engine on our machines): data dir, first
// user from the environment (once), then the command.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../helpers/lab.js';

const ENTRY = path.join(ROOT, 'docker', 'entrypoint.sh');

function run(env: Record<string, string>, args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile('sh', [ENTRY, ...args], { env: { PATH: process.env.PATH!, POSTOFFICE_APP: ROOT, ...env }, timeout: 30_000 },
      (error, out, err) => resolve({ code: error ? Number(error.code ?? 1) : 0, out, err }));
  });
}

test('entrypoint creates the data dir and the admin user once, then runs the command', async (t) => {
  const base = mkdtempSync(path.join(os.tmpdir(), 'postoffice-docker-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const data = path.join(base, 'data');
  const env = { POSTOFFICE_DATA_DIR: data, POSTOFFICE_ADMIN_ADDRESS: 'admin@mydomain.test', POSTOFFICE_ADMIN_PASSWORD: 'pw with spaces' };
  let r = await run(env, ['user', 'list']);
  assert.equal(r.code, 0, r.err);
  assert.ok(existsSync(path.join(data, 'postoffice.sqlite')));
  assert.match(r.out, /^added user admin@mydomain\.test/m);
  assert.match(r.out, /^admin@mydomain\.test\s+0 message/m);
  r = await run(env, ['domain', 'list']);
  assert.equal(r.code, 0, r.err);
  assert.ok(!r.out.includes('added user'), 'the user is created only once');
  assert.match(r.out, /mydomain\.test\s+1 user/);
  const db = readFileSync(path.join(data, 'postoffice.sqlite'));
  assert.ok(!db.includes(Buffer.from('pw with spaces')), 'the password is stored only as a hash');
  r = await run({ POSTOFFICE_DATA_DIR: data, POSTOFFICE_ADMIN_ADDRESS: 'x@mydomain.test' }, ['user', 'list']);
  assert.equal(r.code, 1);
  assert.match(r.err, /POSTOFFICE_ADMIN_PASSWORD is empty/);
  r = await run({ POSTOFFICE_DATA_DIR: data }, ['echo', 'any command']);
  assert.equal(r.out, 'any command\n');
});
