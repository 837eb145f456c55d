// The container entrypoint, run directly (no container engine needed): data dir, first user
// from the environment (once; a generated password when none or the example one is given),
// then the command. test/docker/compose.test.ts (npm run test:docker) runs the real image.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { verifyPassword } from '../../src/auth/password.js';
import { SqliteStore } from '../../src/store/index.js';
import { ROOT } from '../helpers/lab.js';

const ENTRY = path.join(ROOT, 'docker', 'entrypoint.sh');

function run(env: Record<string, string>, args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile('sh', [ENTRY, ...args], { env: { PATH: process.env.PATH!, POSTOFFICE_APP: ROOT, ...env }, timeout: 120_000 },
      (error, out, err) => resolve({ code: error ? Number(error.code ?? 1) : 0, out, err }));
  });
}

function tempDir(t: { after(fn: () => void): void }): string {
  const base = mkdtempSync(path.join(os.tmpdir(), 'postoffice-docker-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  return path.join(base, 'data');
}

/** every file of the data dir (the database, its WAL) holds none of these bytes */
function assertNotStored(data: string, secret: string): void {
  for (const f of readdirSync(data)) {
    if (!f.startsWith('postoffice.sqlite')) continue;
    assert.ok(!readFileSync(path.join(data, f)).includes(Buffer.from(secret)), `${f} holds the password in clear`);
  }
}

/** the stored hash of `address` matches `password`, and the account is a dashboard admin */
async function assertLogin(data: string, address: string, password: string): Promise<void> {
  const store = new SqliteStore({ dataDir: data });
  try {
    const row = await store.users.passwordHash(address);
    assert.ok(row, `${address} exists`);
    assert.match(row.hash, /^scrypt\$/, 'an scrypt hash');
    assert.equal(await verifyPassword(password, row.hash), true, 'the password printed is the one stored');
    assert.equal(await verifyPassword(password + 'x', row.hash), false);
    assert.equal(row.user.admin, true, 'the first user is a dashboard admin');
  } finally {
    await store.close();
  }
}

test('entrypoint creates the data dir and the admin user once, then runs the command', async (t) => {
  const data = tempDir(t);
  const env = { POSTOFFICE_DATA_DIR: data, POSTOFFICE_ADMIN_ADDRESS: 'admin@mydomain.test', POSTOFFICE_ADMIN_PASSWORD: 'pw with spaces' };
  let r = await run(env, ['user', 'list']);
  assert.equal(r.code, 0, r.err);
  assert.ok(existsSync(path.join(data, 'postoffice.sqlite')));
  assert.match(r.out, /^added admin admin@mydomain\.test/m);
  assert.match(r.out, /^admin@mydomain\.test\s+0 message.*admin$/m);
  assert.ok(!r.out.includes('generated password'), 'a password given is used, not replaced');
  r = await run(env, ['domain', 'list']);
  assert.equal(r.code, 0, r.err);
  assert.ok(!r.out.includes('added'), 'the user is created only once');
  assert.match(r.out, /mydomain\.test\s+1 user/);
  assertNotStored(data, 'pw with spaces');
  await assertLogin(data, 'admin@mydomain.test', 'pw with spaces');
  r = await run({ POSTOFFICE_DATA_DIR: data }, ['echo', 'any command']);
  assert.equal(r.out, 'any command\n');
});

for (const [name, password] of [['unset', undefined], ['empty', ''], ['the example value change-me', 'change-me']] as const) {
  test(`entrypoint: POSTOFFICE_ADMIN_PASSWORD ${name} -> a strong password is generated, printed once with how to change it, stored as a hash`, async (t) => {
    const data = tempDir(t);
    const env: Record<string, string> = { POSTOFFICE_DATA_DIR: data, POSTOFFICE_ADMIN_ADDRESS: 'Admin@MyDomain.test' };
    if (password !== undefined) env.POSTOFFICE_ADMIN_PASSWORD = password;
    let r = await run(env, ['user', 'list']);
    assert.equal(r.code, 0, r.err);
    const m = /^entrypoint:\s+generated password: (\S+)$/m.exec(r.out);
    assert.ok(m, `the log shows the password:\n${r.out}`);
    const generated = m[1];
    assert.match(generated, /^[A-Za-z0-9_-]{24}$/, '24 base64url characters (144 bits)');
    assert.notEqual(generated, 'change-me');
    assert.match(r.out, password === 'change-me' ? /POSTOFFICE_ADMIN_PASSWORD is the example value change-me/ : /POSTOFFICE_ADMIN_PASSWORD is not set/);
    assert.match(r.out, /shown only this once/);
    assert.match(r.out, /docker compose exec -T postoffice postoffice user passwd admin@mydomain\.test --password-stdin/);
    assert.match(r.out, /^admin@mydomain\.test\s+0 message.*admin$/m);
    assertNotStored(data, generated);
    await assertLogin(data, 'admin@mydomain.test', generated);

    // the next start (the container restarted): no new password, none printed
    r = await run(env, ['user', 'list']);
    assert.equal(r.code, 0, r.err);
    assert.ok(!r.out.includes('generated password') && !r.out.includes('added'), r.out);
    await assertLogin(data, 'admin@mydomain.test', generated);
  });
}

test('entrypoint: a first user left with change-me by an earlier docker-compose.yml gets a generated password; others are left alone', async (t) => {
  const data = tempDir(t);
  const cli = (args: string[], input: string) => new Promise<{ code: number; out: string; err: string }>((resolve) => {
    const child = execFile(process.execPath, [path.join(ROOT, 'dist', 'src', 'cli', 'main.js'), ...args], { env: { PATH: process.env.PATH!, POSTOFFICE_DATA_DIR: data }, timeout: 120_000 },
      (error, out, err) => resolve({ code: error ? Number(error.code ?? 1) : 0, out, err }));
    child.stdin!.end(input);
  });
  // what the old entrypoint made from `POSTOFFICE_ADMIN_PASSWORD: change-me`, and a second user with the same password
  assert.equal((await cli(['domain', 'add', 'mydomain.test'], '')).code, 0);
  assert.equal((await cli(['user', 'add', 'admin@mydomain.test', '--password-stdin'], 'change-me\n')).code, 0);
  assert.equal((await cli(['user', 'add', 'other@mydomain.test', '--password-stdin'], 'change-me\n')).code, 0);
  const env = { POSTOFFICE_DATA_DIR: data, POSTOFFICE_ADMIN_ADDRESS: 'admin@mydomain.test', POSTOFFICE_ADMIN_PASSWORD: 'change-me' };
  let r = await run(env, ['user', 'list']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /admin@mydomain\.test still had the example password change-me of an earlier docker-compose\.yml/);
  assert.match(r.out, /^password changed for admin@mydomain\.test$/m);
  const generated = /generated password: (\S+)/.exec(r.out)![1];
  const store = new SqliteStore({ dataDir: data });
  try {
    const row = (await store.users.passwordHash('admin@mydomain.test'))!;
    assert.equal(await verifyPassword(generated, row.hash), true);
    assert.equal(await verifyPassword('change-me', row.hash), false, 'change-me no longer opens the first account');
    // only the first user (the one the entrypoint made) is the entrypoint's business
    assert.equal(await verifyPassword('change-me', (await store.users.passwordHash('other@mydomain.test'))!.hash), true);
  } finally {
    await store.close();
  }
  r = await run(env, ['user', 'list']);
  assert.equal(r.code, 0, r.err);
  assert.ok(!r.out.includes('generated password'), 'replaced once');
  // a first user with a password of its own is left alone
  assert.equal((await cli(['user', 'passwd', 'admin@mydomain.test', '--password-stdin'], 'my own\n')).code, 0);
  r = await run(env, ['user', 'list']);
  assert.ok(!r.out.includes('generated password'), r.out);
  await assertLogin(data, 'admin@mydomain.test', 'my own').catch((err: Error) => assert.match(err.message, /dashboard admin/));
});

test('entrypoint: two first starts generate two different passwords', async (t) => {
  const seen = new Set<string>();
  for (let i = 0; i < 2; i++) {
    const r = await run({ POSTOFFICE_DATA_DIR: tempDir(t), POSTOFFICE_ADMIN_ADDRESS: 'admin@mydomain.test' }, ['user', 'list']);
    assert.equal(r.code, 0, r.err);
    seen.add(/generated password: (\S+)/.exec(r.out)![1]);
  }
  assert.equal(seen.size, 2);
});

test('entrypoint: no POSTOFFICE_ADMIN_ADDRESS -> no user; a malformed one is refused', async (t) => {
  const data = tempDir(t);
  let r = await run({ POSTOFFICE_DATA_DIR: data }, ['user', 'list']);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, '');
  r = await run({ POSTOFFICE_DATA_DIR: data, POSTOFFICE_ADMIN_ADDRESS: 'admin' }, ['user', 'list']);
  assert.equal(r.code, 1);
  assert.match(r.err, /POSTOFFICE_ADMIN_ADDRESS=admin is not an address/);
});

test('healthcheck script: exit 1 with the reason when nothing answers; with HTTP off, a TCP connect to a mail port', async (t) => {
  const script = path.join(ROOT, 'docker', 'healthcheck.mjs');
  const probe = (env: Record<string, string>) => new Promise<{ code: number; err: string }>((resolve) => {
    execFile(process.execPath, [script], { env: { PATH: process.env.PATH!, ...env }, timeout: 120_000 },
      (error, _out, err) => resolve({ code: error ? Number(error.code ?? 1) : 0, err }));
  });
  // a port nothing listens on (any more)
  const gone = net.createServer().listen(0, '127.0.0.1');
  await once(gone, 'listening');
  const free = (gone.address() as net.AddressInfo).port;
  await new Promise((resolve) => gone.close(resolve));
  let r = await probe({ POSTOFFICE_HTTP_PORT: String(free) });
  assert.equal(r.code, 1);
  assert.match(r.err, new RegExp(`unhealthy: http://127\\.0\\.0\\.1:${free}/healthz: ECONNREFUSED`));
  r = await probe({ POSTOFFICE_HTTP_PORT: '0', POSTOFFICE_SMTP_PORT: String(free) });
  assert.equal(r.code, 1);
  assert.match(r.err, new RegExp(`unhealthy: SMTP 127\\.0\\.0\\.1:${free}: ECONNREFUSED`));
  r = await probe({ POSTOFFICE_HTTP_PORT: '0' });
  assert.equal(r.code, 1);
  assert.match(r.err, /no listener is on/);
  const server = net.createServer((s) => s.end()).listen(0, '127.0.0.1');
  t.after(() => server.close());
  await once(server, 'listening');
  r = await probe({ POSTOFFICE_HTTP_PORT: '0', POSTOFFICE_SMTP_PORT: '0', POSTOFFICE_SMTPS_PORT: String((server.address() as net.AddressInfo).port) });
  assert.equal(r.code, 0, r.err);
});
