// The body cache's admission (src/store/caches.ts BodyCache): a body is kept on its second read,
// so one pass over a mailbox (a POP3 session) neither keeps its bytes nor pushes out what others re-read.
import assert from 'node:assert/strict';
import test from 'node:test';
import { BodyCache } from '../../src/store/caches.js';

const body = (n: number, size = 1000) => Buffer.alloc(size, n % 256);

test('a body read once is not kept; the second read keeps it', () => {
  const c = new BodyCache(64 * 1024);
  c.set(1, body(1));
  assert.equal(c.kept(1), false, 'first read: not kept');
  c.set(1, body(1));
  assert.equal(c.kept(1), true, 'second read: kept');
  assert.ok(c.get(1)?.equals(body(1)));
  c.set(1, body(1)); // already kept: nothing changes
  assert.ok(c.get(1)?.equals(body(1)));
});

test('a second read soon after the first takes the bytes from probation (no database read) and keeps them', () => {
  const c = new BodyCache(64 * 1024); // probation: 8 KB, 8 bodies of 1000 bytes
  const first = body(1);
  c.set(1, first);
  const again = c.get(1);
  assert.equal(again, first, 'the same bytes, from probation');
  assert.equal(c.kept(1), true, 'the second read kept them');
  for (let id = 100; id < 120; id++) c.set(id, body(id)); // 20 KB of first reads: probation overflows
  assert.equal(c.get(1), first, 'kept, not in probation any more');
  // a first read whose bytes were pushed out of probation by later first reads
  c.set(2, body(2));
  for (let id = 200; id < 220; id++) c.set(id, body(id));
  assert.equal(c.get(2), undefined, 'out of probation, never kept');
  assert.equal(c.kept(2), false);
  c.set(2, body(2)); // read from the database again: its second read, kept
  assert.equal(c.kept(2), true);
  assert.ok(c.get(219), 'the latest first read is still in probation');
  assert.equal(c.get(200), undefined, 'the oldest ones are gone');
});

test('one pass over more than the cache holds leaves what was re-read in place', () => {
  const c = new BodyCache(16 * 1024);
  for (const id of [1, 2]) { c.set(id, body(id)); c.set(id, body(id)); } // read twice: kept
  for (let id = 100; id < 200; id++) c.set(id, body(id)); // 100 KB read once (a POP3 session)
  assert.ok(c.kept(1) && c.kept(2), 'the re-read bodies survive a single pass');
  for (let id = 100; id < 200; id++) assert.equal(c.kept(id), false);
  // a second pass keeps what fits (the most recent ones), still bounded by the cache's bytes
  for (let id = 100; id < 200; id++) c.set(id, body(id));
  assert.ok(c.kept(199));
  assert.equal(c.kept(100), false);
  assert.equal(c.get(100), undefined);
});

test('the ids read once are bounded: the oldest is forgotten, its bytes too', () => {
  const c = new BodyCache(64 * 1024, 4);
  for (let id = 1; id <= 5; id++) c.set(id, body(id)); // id 1 falls out of the 4 remembered
  assert.equal(c.get(1), undefined, 'forgotten: no bytes in probation either');
  c.set(1, body(1));
  assert.equal(c.kept(1), false, 'forgotten: its next read counts as a first one');
  c.set(5, body(5));
  assert.equal(c.kept(5), true, 'remembered: its second read keeps it');
});

test('bodyCacheBytes 0 keeps nothing; a body over 1/16 of the cache is never kept', () => {
  const off = new BodyCache(0);
  for (let i = 0; i < 3; i++) off.set(1, body(1, 10));
  assert.equal(off.get(1), undefined);
  const c = new BodyCache(16 * 1024);
  for (let i = 0; i < 3; i++) c.set(1, body(1, 2000));
  assert.equal(c.get(1), undefined);
});
