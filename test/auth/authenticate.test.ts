// The login check: scrypt once per verified (account, password) for a while, shared by
// connections that log in together; failures always pay for scrypt and are never remembered.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Authenticator } from '../../src/auth/authenticate.js';
import { hashPassword } from '../../src/auth/password.js';
import { SqliteStore, type Store } from '../../src/store/index.js';

async function setup(t: { after(fn: () => unknown): void }) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-auth-'));
  const store = new SqliteStore({ dataDir: dir });
  t.after(async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); });
  await store.domains.add('example.test');
  await store.users.add('alice@example.test', await hashPassword('right'));
  await store.users.add('bob@example.test', await hashPassword('right'));
  return store as unknown as Store;
}

test('a verified login is remembered; five connections at once share one scrypt', async (t) => {
  const store = await setup(t);
  const auth = new Authenticator(store, { baseDelayMs: 1 });
  assert.ok((await auth.login('alice@example.test', 'right', '127.0.0.1')).user);
  assert.equal(auth.stats.scrypt, 1);
  assert.ok((await auth.login('Alice@Example.test', 'right', '127.0.0.2')).user);
  assert.deepEqual(auth.stats, { scrypt: 1, cacheHits: 1 });

  const five = await Promise.all(Array.from({ length: 5 }, () => auth.login('bob@example.test', 'right', '127.0.0.1')));
  assert.ok(five.every((r) => r.user?.address === 'bob@example.test'));
  assert.equal(auth.stats.scrypt, 2);
});

test('wrong passwords are checked every time and never let in; a new password ends the old one', async (t) => {
  const store = await setup(t);
  const auth = new Authenticator(store, { baseDelayMs: 1 });
  assert.ok((await auth.login('alice@example.test', 'right', '127.0.0.1')).user);
  for (let i = 0; i < 3; i++) assert.equal((await auth.login('alice@example.test', 'wrong', '127.0.0.1')).user, null);
  assert.equal(auth.stats.scrypt, 4);
  assert.equal((await auth.login('nobody@example.test', 'right', '127.0.0.1')).user, null);

  await store.users.setPassword('alice@example.test', await hashPassword('changed'));
  assert.equal((await auth.login('alice@example.test', 'right', '127.0.0.1')).user, null, 'the remembered old password no longer works');
  assert.ok((await auth.login('alice@example.test', 'changed', '127.0.0.1')).user);
});

test('authCacheTtlMs 0: every login pays for scrypt', async (t) => {
  const store = await setup(t);
  const auth = new Authenticator(store, { cacheTtlMs: 0 });
  for (let i = 0; i < 2; i++) assert.ok((await auth.login('alice@example.test', 'right', '127.0.0.1')).user);
  assert.deepEqual(auth.stats, { scrypt: 2, cacheHits: 0 });
});
