// `npx postoffice ...` round trips, as an operator types them (a separate process each time).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../helpers/lab.js';
import { CLI } from '../helpers/process.js';

function run(dataDir: string, args: string[], input?: string, env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], { env: { ...process.env, POSTOFFICE_DATA_DIR: dataDir, ...env }, timeout: 20_000 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, out: stdout, err: stderr }));
    if (input !== undefined) child.stdin!.end(input);
  });
}

test('`npx postoffice` in the checkout runs the CLI, as the README says (npm ci / npm run build leave dist/src/cli/main.js executable)', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = await new Promise<{ code: number; out: string; err: string }>((resolve) => {
    execFile('npx', ['--no-install', 'postoffice', 'domain', 'list'], { cwd: ROOT, env: { ...process.env, POSTOFFICE_DATA_DIR: dir }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, out: stdout, err: stderr }));
  });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^example\.test\s+0 user\(s\)\n$/);
});

test('domain, user, alias and queue commands round-trip; errors are one line with exit 1, bad usage exit 2', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  let r = await run(dir, ['domain', 'add', 'Sina.Test']);
  assert.equal(r.code, 0); assert.match(r.out, /added domain sina\.test/);
  r = await run(dir, ['domain', 'list']);
  assert.match(r.out, /^example\.test\s+0 user\(s\)\nsina\.test\s+0 user\(s\)\n$/);

  r = await run(dir, ['user', 'add', 'friend@sina.test', '--password', 'pw1']);
  assert.equal(r.code, 0, r.err);
  r = await run(dir, ['user', 'add', 'me@example.test', '--password-stdin'], 'secret from stdin\n');
  assert.equal(r.code, 0, r.err);
  r = await run(dir, ['user', 'add', 'me@example.test', '--password', 'x']);
  assert.equal(r.code, 1); assert.equal(r.err, 'postoffice: user me@example.test already exists\n');
  r = await run(dir, ['user', 'add', 'x@nowhere.test', '--password', 'x']);
  assert.equal(r.code, 1); assert.match(r.err, /^postoffice: nowhere\.test is not a local domain/);
  r = await run(dir, ['user', 'list']);
  assert.match(r.out, /friend@sina\.test\s+0 message\(s\)/); assert.match(r.out, /me@example\.test/);
  assert.ok(!r.out.includes('secret'), 'passwords are never shown');

  r = await run(dir, ['user', 'passwd', 'me@example.test', '--password', 'new']);
  assert.equal(r.code, 0, r.err);
  r = await run(dir, ['alias', 'add', 'boss@example.test', 'me@example.test']);
  assert.equal(r.code, 0, r.err);
  r = await run(dir, ['alias', 'add', '@sina.test', 'friend@sina.test']);
  assert.equal(r.code, 0, r.err);
  r = await run(dir, ['alias', 'list']);
  assert.equal(r.out, '@sina.test         ->  friend@sina.test\nboss@example.test  ->  me@example.test\n');
  r = await run(dir, ['alias', 'del', 'boss@example.test']);
  assert.equal(r.code, 0);
  r = await run(dir, ['queue', 'list']);
  assert.equal(r.out, 'queue is empty\n');
  r = await run(dir, ['queue', 'del', '42']);
  assert.equal(r.code, 1); assert.equal(r.err, 'postoffice: no queue entry 42\n');
  r = await run(dir, ['trace', '<nothing@here>']);
  assert.equal(r.code, 1);

  r = await run(dir, ['user', 'del', 'me@example.test']);
  assert.equal(r.code, 0);
  r = await run(dir, ['domain', 'del', 'sina.test']);
  assert.equal(r.code, 1); assert.match(r.err, /still has 1 user/);

  for (const bad of [['frobnicate'], ['user'], ['user', 'add', 'a@example.test'], ['queue', 'del', 'abc'], []]) {
    r = await run(dir, bad);
    assert.equal(r.code, 2, `usage error for ${bad.join(' ')}`);
    assert.match(r.err, /usage: postoffice/);
  }
  r = await run(dir, ['domain', 'list'], undefined, { POSTOFFICE_SMTP_PORT: 'seventy' });
  assert.equal(r.code, 1);
  assert.equal(r.err, 'postoffice: invalid config: ports.smtp (POSTOFFICE_SMTP_PORT): expected a port number 0-65535, got "seventy"\n');
});
