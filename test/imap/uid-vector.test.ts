// The selected mailbox's sequence map (src/imap/uid-vector.ts) against a plain array doing the
// same: random appends and expunges, on a vector of its own and on one shared with the store
// (which must never change), and the \Recent ranges against a set.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UidRanges, UidVector } from '../../src/imap/uid-vector.js';
import { rng } from '../helpers/rng.js';


function same(v: UidVector, model: number[]): void {
  assert.equal(v.length, model.length);
  assert.deepEqual([...v], model);
  assert.equal(v.last(), model.length ? model[model.length - 1] : 0);
}

for (const shared of [false, true]) {
  test(`sequence numbers follow appends and expunges (${shared ? 'starting from the store\'s shared vector' : 'a vector of its own'})`, () => {
    const rand = rng(shared ? 7 : 11);
    const start: number[] = [];
    for (let u = 1; u < 3000; u++) if (rand() < 0.7) start.push(u);
    // as the store's cache keeps it: a vector inside a bigger buffer, whose later appends go past
    // the part handed out (mailboxes.view)
    const buffer = new Uint32Array(start.length + 100);
    buffer.set(start);
    const store = buffer.subarray(0, start.length);
    const before = store.slice();
    const v = shared ? UidVector.shared(store) : UidVector.of(start);
    const model = [...start];
    let next = 3000;
    for (let k = 0; k < 100; k++) buffer[start.length + k] = 5000 + k; // the store's own appends
    const tail = buffer.slice(start.length);
    for (let step = 0; step < 400; step++) {
      const r = rand();
      if (r < 0.4) {
        const add: number[] = [];
        for (let k = Math.floor(rand() * 50); k > 0; k--) { next += 1 + Math.floor(rand() * 3); add.push(next); }
        v.append(add);
        model.push(...add);
      } else if (r < 0.8 && model.length) {
        // some known UIDs (repeated), some unknown ones
        const gone: number[] = [];
        for (let k = Math.floor(rand() * 20); k > 0; k--) gone.push(model[Math.floor(rand() * model.length)]);
        gone.push(next + 100, 0);
        if (gone.length > 2) gone.push(gone[0]);
        const expect: { seq: number; uid: number }[] = [];
        const set = new Set(gone);
        for (let i = model.length - 1; i >= 0; i--) if (set.has(model[i])) expect.push({ seq: i + 1, uid: model[i] });
        assert.deepEqual(v.remove(gone), expect, 'EXPUNGE order: highest sequence number first');
        for (const e of expect) model.splice(e.seq - 1, 1);
      } else {
        const probe = Math.floor(rand() * (next + 5));
        const i = model.indexOf(probe);
        assert.equal(v.seqOf(probe), i + 1);
        assert.equal(v.has(probe), i >= 0);
        const lb = model.findIndex((u) => u >= probe);
        assert.equal(v.lowerBound(probe), lb < 0 ? model.length : lb);
        const a = Math.floor(rand() * model.length);
        assert.deepEqual(v.slice(a, a + 7), model.slice(a, a + 7));
        assert.equal(v.at(a), model[a]);
      }
      same(v, model);
    }
    assert.equal(v.at(-1), undefined);
    assert.equal(v.at(model.length), undefined);
    assert.throws(() => v.append([v.last()]), RangeError, 'an EXISTS never goes back');
    assert.deepEqual(store, before, 'the store\'s vector is never written');
    assert.deepEqual(buffer.slice(start.length), tail, 'nor what the store appended past it');
  });
}

test('\\Recent ranges: membership and the count in the view', () => {
  const rand = rng(3);
  const view = UidVector.of(Array.from({ length: 500 }, (_, i) => i * 2 + 1));
  const r = new UidRanges();
  const model = new Set<number>();
  for (let step = 0; step < 60; step++) {
    const lo = Math.floor(rand() * 1000);
    const hi = lo + Math.floor(rand() * 40);
    for (let u = lo; u <= hi; u++) model.add(u);
    r.add(lo, hi);
    for (let u = 0; u < 1010; u++) assert.equal(r.has(u), model.has(u), `uid ${u}`);
    assert.equal(r.countIn(view), [...view].filter((u) => model.has(u)).length);
  }
  r.add(10, 9); // an empty claim changes nothing
  for (let u = 0; u < 1010; u++) assert.equal(r.has(u), model.has(u), `uid ${u}`);
  assert.equal(new UidRanges().countIn(view), 0);
});
