// A selected mailbox's sequence numbers (RFC 3501 §2.3.1.2): the UIDs the session knows of, in
// ascending order, so that sequence number n is at(n - 1). Kept in a Uint32Array (4 bytes a
// message; a million-message mailbox opens with one 4 MB copy, where a number[] took ~12 MB and
// ~30 ms to build). A session starts from the store's shared vector (MailboxView.uids) and copies
// it only when its view first changes (an EXISTS or EXPUNGE): sessions that only read share it.

/** the largest UID (RFC 3501 §2.3.1.1: a 32-bit value) */
const MAX_UID = 0xffff_ffff;

export class UidVector {
  private buf: Uint32Array;
  private n: number;
  /** buf is someone else's (the store's cache): copy before writing */
  private shared: boolean;

  private constructor(buf: Uint32Array, n: number, shared: boolean) {
    this.buf = buf;
    this.n = n;
    this.shared = shared;
  }

  /** A view over the store's vector, which is never written through this object. */
  static shared(uids: Uint32Array): UidVector {
    return new UidVector(uids, uids.length, true);
  }

  /** A vector of its own (ascending UIDs). */
  static of(uids: readonly number[] = []): UidVector {
    return new UidVector(Uint32Array.from(uids), uids.length, false);
  }

  get length(): number {
    return this.n;
  }

  /** the UID of sequence number i + 1 (undefined past the end) */
  at(i: number): number | undefined {
    return i >= 0 && i < this.n ? this.buf[i] : undefined;
  }

  /** the highest UID, 0 for an empty mailbox */
  last(): number {
    return this.n ? this.buf[this.n - 1] : 0;
  }

  /** the index of the first UID >= uid (length when there is none) */
  lowerBound(uid: number): number {
    const b = this.buf;
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if (b[m] < uid) lo = m + 1;
      else hi = m;
    }
    return lo;
  }

  /** the sequence number of a UID, 0 when the session does not know it */
  seqOf(uid: number): number {
    const i = this.lowerBound(uid);
    return i < this.n && this.buf[i] === uid ? i + 1 : 0;
  }

  has(uid: number): boolean {
    return this.seqOf(uid) > 0;
  }

  /** UIDs at indexes [from, to), as a copy */
  slice(from: number, to: number): number[] {
    const a = Math.max(0, from);
    const b = Math.min(this.n, to);
    return b > a ? Array.from(this.buf.subarray(a, b)) : [];
  }

  *[Symbol.iterator](): IterableIterator<number> {
    for (let i = 0; i < this.n; i++) yield this.buf[i];
  }

  /** Appends UIDs above last(), ascending (RFC 3501 §7.3.1 EXISTS: new messages come at the end). */
  append(uids: readonly number[]): void {
    if (!uids.length) return;
    const need = this.n + uids.length;
    if (this.shared || need > this.buf.length) this.own(need + Math.max(64, need >>> 3));
    let last = this.last();
    for (const u of uids) {
      if (!(u > last && u <= MAX_UID)) throw new RangeError(`UID ${u} out of order after ${last}`);
      this.buf[this.n++] = u;
      last = u;
    }
  }

  /**
   * Takes these UIDs out (those the session does not know are ignored); returns the sequence
   * numbers they had, highest first, as RFC 3501 §7.4.1 EXPUNGE responses report them.
   */
  remove(uids: Iterable<number>): { seq: number; uid: number }[] {
    const at: number[] = [];
    for (const u of uids) {
      const i = this.lowerBound(u);
      if (i < this.n && this.buf[i] === u) at.push(i);
    }
    if (!at.length) return [];
    at.sort((a, b) => a - b);
    if (this.shared) this.own(this.buf.length);
    const b = this.buf;
    const out: { seq: number; uid: number }[] = [];
    // compact from the first removed index on, in one pass
    let w = at[0];
    let k = 0;
    for (let r = at[0]; r < this.n; r++) {
      if (k < at.length && at[k] === r) {
        while (k < at.length && at[k] === r) k++; // duplicates
        out.push({ seq: r + 1, uid: b[r] });
        continue;
      }
      b[w++] = b[r];
    }
    this.n = w;
    return out.reverse();
  }

  private own(capacity: number): void {
    const next = new Uint32Array(Math.max(capacity, this.n));
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
    this.shared = false;
  }
}

/**
 * The session's \Recent messages (RFC 3501 §2.3.2): what its claims took, as UID ranges. A claim
 * takes every message above the mailbox's watermark (mailboxes.claimRecent), so any message of the
 * view inside a claimed range is one of them; a million new messages are one range, not a million
 * set entries.
 */
export class UidRanges {
  /** disjoint [lo, hi] ranges, ascending */
  private ranges: [number, number][] = [];

  /** the UIDs lo..hi (a claim's range: mailboxes.claimRecent's after + 1 .. through); nothing when hi < lo */
  add(lo: number, hi: number): void {
    if (hi < lo) return;
    const next: [number, number][] = [];
    for (const r of this.ranges) {
      if (r[1] < lo - 1 || r[0] > hi + 1) next.push(r);
      else { lo = Math.min(lo, r[0]); hi = Math.max(hi, r[1]); }
    }
    next.push([lo, hi]);
    this.ranges = next.sort((a, b) => a[0] - b[0]);
  }

  has(uid: number): boolean {
    for (const [lo, hi] of this.ranges) if (uid >= lo && uid <= hi) return true;
    return false;
  }

  /** how many UIDs of the view are \Recent (RFC 3501 §7.3.2 RECENT counts the client's view) */
  countIn(view: UidVector): number {
    let n = 0;
    for (const [lo, hi] of this.ranges) n += view.lowerBound(hi + 1) - view.lowerBound(lo);
    return n;
  }
}
