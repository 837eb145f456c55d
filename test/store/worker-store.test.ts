// The server's store keeps DESIGN's "one writer": WorkerStore implements Store (checked by the
// compiler, below), its own thread holds only a read-only connection, and every function of the
// `writes` table goes to the writer thread (a closed store refuses each one as STORE_CLOSED, the
// forwarder's answer; a write served on this thread would fail differently or succeed).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { InternalError } from '../../src/mail/errors.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { writes } from '../../src/store/sqlite/api.js';
import type { Store } from '../../src/store/types.js';
import { WorkerStore } from '../../src/store/worker-store.js';

// tsc fails here if either store stops implementing the Store interface
const storeOf: (s: WorkerStore | SqliteStore) => Store = (s) => s;
void storeOf;

/** every dispatch path of the writes table: 'deliver', 'queue.finish', ... */
function paths(table: object, prefix = ''): string[] {
  return Object.entries(table).flatMap(([k, v]) => (typeof v === 'function' ? [prefix + k] : paths(v as object, `${prefix}${k}.`)));
}

function at(store: object, p: string): (...a: unknown[]) => Promise<unknown> {
  const parts = p.split('.');
  const owner = parts.slice(0, -1).reduce<Record<string, unknown>>((o, k) => o[k] as Record<string, unknown>, store as Record<string, unknown>);
  const fn = owner[parts[parts.length - 1]];
  assert.equal(typeof fn, 'function', `store has ${p}`);
  return (fn as (...a: unknown[]) => Promise<unknown>).bind(owner);
}

test('every write goes to the writer thread; this thread reads on a read-only connection', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-worker-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = await WorkerStore.open(dir);
  assert.equal((store as unknown as { reader: { readonly: boolean } }).reader.readonly, true);
  // the store works end to end: a write on the writer thread, read back here
  assert.equal(await store.domains.add('example.test'), true);
  assert.deepEqual((await store.domains.list()).map((d) => d.name), ['example.test']);
  await store.close();

  const all = paths(writes);
  assert.ok(all.includes('deliver') && all.includes('queue.finish') && all.includes('messages.remove'), all.join(' '));
  for (const p of all) {
    await assert.rejects(at(store, p)([], [], [], []), (err: unknown) => err instanceof InternalError && err.code === 'STORE_CLOSED', `${p} is forwarded`);
  }
});
