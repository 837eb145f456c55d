// The store's memory, the same for both backends: UID vectors and message lists by mailbox, parsed
// MIME structures and recently read message bytes by blob. Shared by every session of the process, bounded, and never
// stale: a list is kept under its mailbox's UIDVALIDITY and HIGHESTMODSEQ (every change to a mailbox's
// messages raises it in the same transaction, on any node), and a blob id names the same bytes forever.
import type { MailboxChange, MessageRecord } from './types.js';

/** parsed MIME structures kept in memory (a few KiB each) */
const META_CACHE_ENTRIES = 20_000;
/**
 * message records kept in memory, all cached mailboxes together: about 222 bytes each (an object,
 * its frozen flags array and strings), so at most ~45 MB. SELECT, FETCH and SEARCH of a large
 * mailbox no longer read its list (mailboxes.view, messages.some, headerCandidates); what still
 * does (SORT, THREAD, small mailboxes) keeps lists of up to LIST_CACHE_MAX_LIST records, so a
 * million-message list is never kept.
 */
const LIST_CACHE_ROWS = 200_000;
/** a longer list is returned but not kept (~22 MB) */
const LIST_CACHE_MAX_LIST = 100_000;
/** UIDs kept in memory for mailboxes.view, all mailboxes together: 4 bytes each (16 MB) */
const UID_CACHE_UIDS = 4_000_000;
/** default memory for recently read message bytes (config bodyCacheBytes) */
export const DEFAULT_BODY_CACHE_BYTES = 32 * 1024 * 1024;
/** blob ids remembered as read once (a body is kept on its second read): ~40 bytes each in a Map */
const BODY_ADMIT_IDS = 65_536;

/** Message lists by mailbox, least recently used first; several sessions on one mailbox share one list. */
export class ListCache {
  private readonly lists = new Map<number, { uidValidity: number; modseq: number; rows: readonly MessageRecord[] }>();
  private rows = 0;

  /** the list kept for this mailbox if it is still the mailbox's current one (a stale one goes) */
  get(mailboxId: number, uidValidity: number, modseq: number): readonly MessageRecord[] | null {
    const hit = this.lists.get(mailboxId);
    if (!hit) return null;
    this.drop(mailboxId);
    if (hit.uidValidity !== uidValidity || hit.modseq !== modseq) return null;
    this.lists.set(mailboxId, hit);
    this.rows += hit.rows.length;
    return hit.rows;
  }

  set(mailboxId: number, uidValidity: number, modseq: number, rows: readonly MessageRecord[]): void {
    if (rows.length > LIST_CACHE_MAX_LIST) return;
    this.drop(mailboxId);
    while (this.rows + rows.length > LIST_CACHE_ROWS) this.drop(this.lists.keys().next().value as number);
    this.lists.set(mailboxId, { uidValidity, modseq, rows });
    this.rows += rows.length;
  }

  drop(mailboxId: number): void {
    const hit = this.lists.get(mailboxId);
    if (!hit) return;
    this.lists.delete(mailboxId);
    this.rows -= hit.rows.length;
  }
}

/** What a mailbox row says of its UIDs, read in the same read transaction as the UIDs themselves. */
export interface UidState { uidValidity: number; uidNext: number; messages: number }

interface UidEntry {
  uidValidity: number;
  /** every UID below this was known when the vector was read or last appended to */
  uidNext: number;
  /** the UIDs are buf[0, n); appends write past n (views handed out are subarrays, never changed) */
  buf: Uint32Array;
  n: number;
}

/**
 * Every live UID of a mailbox, ascending, one Uint32Array per mailbox (4 bytes a message), shared by
 * every session that selects it and kept current from the store's change events: 'exists' appends
 * the UIDs at or above what the vector knew, 'expunge' removes (into a new array: vectors handed
 * out never change), 'deleted' drops. An event applied twice or late changes nothing: a UID below
 * the vector's uidNext was there when it was read, and an expunged UID never comes back.
 *
 * `view()` checks the vector against the mailbox row read in the caller's read transaction
 * (UIDVALIDITY, UIDNEXT, the messages counter). The vector always holds every live UID below its
 * uidNext (it was read whole, then only UIDs that follow on without a gap were appended, and only
 * expunged ones removed), plus perhaps some removed since; so UIDs at or above its uidNext (the
 * events have not brought them yet: they cross from the writer after the commit) are read by UID
 * range and appended, and then equal counts mean the vector is exactly the mailbox's; otherwise it
 * is read again. Events only save reads: a missed one cannot make a view wrong. Least recently used first; at most
 * UID_CACHE_UIDS UIDs are kept in all (a larger mailbox is read each time and not kept).
 */
export class UidCache {
  private readonly entries = new Map<number, UidEntry>();
  private total = 0;
  /** for tests and the bench: vectors read whole, and read from a UID on */
  readonly stats = { loads: 0, topUps: 0 };
  constructor(private readonly max = UID_CACHE_UIDS) {}

  /** Applies a committed change (any order relative to view(); twice is harmless). */
  apply(c: MailboxChange): void {
    const e = this.entries.get(c.mailboxId);
    if (!e) return;
    if (c.kind === 'deleted') this.drop(c.mailboxId);
    else if (c.kind === 'exists') {
      // only what follows on from the vector: after a gap (an event missed, or UIDs added and
      // removed before another process's commit was announced) view() reads from uidNext instead
      const fresh = c.uids.filter((uid) => uid >= e.uidNext);
      if (fresh.length && fresh[0] === e.uidNext && fresh.every((uid, i) => uid === e.uidNext + i)) this.append(c.mailboxId, e, fresh);
    } else if (c.kind === 'expunge') this.remove(e, c.uids);
  }

  /**
   * The mailbox's UIDs as of `state` (read in the same transaction as `read`): from the vector
   * kept, topped up by `read(from)` (the UIDs at or above `from`, ascending), or read whole by `read(1)`.
   */
  view(mailboxId: number, state: UidState, read: (from: number) => ArrayLike<number>): Uint32Array {
    const e = this.entries.get(mailboxId);
    if (e && e.uidValidity === state.uidValidity && e.uidNext <= state.uidNext) {
      if (e.uidNext < state.uidNext) {
        this.stats.topUps++;
        this.append(mailboxId, e, read(e.uidNext));
        e.uidNext = state.uidNext;
      }
      if (this.entries.get(mailboxId) === e && e.n === state.messages) {
        this.entries.delete(mailboxId); // most recently used last
        this.entries.set(mailboxId, e);
        return e.buf.subarray(0, e.n);
      }
    }
    this.drop(mailboxId);
    this.stats.loads++;
    const got = read(1);
    const uids = got instanceof Uint32Array ? got : Uint32Array.from(got);
    this.set(mailboxId, state, uids);
    return uids;
  }

  /** The vector kept, if it is exactly the mailbox's as of `state` (no read needed), else null. */
  get(mailboxId: number, state: UidState): Uint32Array | null {
    const e = this.entries.get(mailboxId);
    if (!e || e.uidValidity !== state.uidValidity || e.uidNext !== state.uidNext || e.n !== state.messages) return null;
    return e.buf.subarray(0, e.n);
  }

  /** What the vector kept for this mailbox knows (an asynchronous store reads only UIDs at or above uidNext then), or undefined. */
  peek(mailboxId: number): UidState | undefined {
    const e = this.entries.get(mailboxId);
    return e && { uidValidity: e.uidValidity, uidNext: e.uidNext, messages: e.n };
  }

  /** Keeps `uids` (every live UID as of `state`, ascending) as the mailbox's vector. */
  set(mailboxId: number, state: UidState, uids: Uint32Array): void {
    this.drop(mailboxId);
    if (uids.length > this.max) return;
    this.entries.set(mailboxId, { uidValidity: state.uidValidity, uidNext: state.uidNext, buf: uids, n: uids.length });
    this.total += uids.length;
    this.evict(mailboxId);
  }

  /** Drops every vector (e.g. a change channel was lost). */
  clear(): void {
    this.entries.clear();
    this.total = 0;
  }

  drop(mailboxId: number): void {
    const e = this.entries.get(mailboxId);
    if (!e) return;
    this.entries.delete(mailboxId);
    this.total -= e.buf.length;
  }

  /** UIDs kept, all mailboxes together (capacity included) */
  get size(): number {
    return this.total;
  }

  private append(mailboxId: number, e: UidEntry, uids: ArrayLike<number>): void {
    let last = e.n ? e.buf[e.n - 1] : 0;
    for (let i = 0; i < uids.length; i++) {
      const uid = uids[i];
      if (uid <= last) continue;
      if (e.n === e.buf.length) {
        const grown = new Uint32Array(Math.max(16, Math.ceil(e.buf.length * 1.25)));
        grown.set(e.buf.subarray(0, e.n));
        this.total += grown.length - e.buf.length;
        e.buf = grown;
      }
      e.buf[e.n++] = uid;
      last = uid;
      if (uid >= e.uidNext) e.uidNext = uid + 1;
    }
    this.evict(mailboxId);
  }

  private remove(e: UidEntry, uids: readonly number[]): void {
    const gone = new Set<number>();
    const v = e.buf.subarray(0, e.n);
    for (const uid of uids) if (indexOf(v, uid) >= 0) gone.add(uid);
    if (!gone.size) return;
    const next = new Uint32Array(e.n - gone.size);
    let j = 0;
    for (let i = 0; i < e.n; i++) if (!gone.has(e.buf[i])) next[j++] = e.buf[i];
    this.total += next.length - e.buf.length;
    e.buf = next;
    e.n = next.length;
  }

  /** keeps the total within bounds, dropping the least recently used other mailboxes first (then this one) */
  private evict(keep: number): void {
    for (const id of this.entries.keys()) {
      if (this.total <= this.max) return;
      if (id !== keep) this.drop(id);
    }
    if (this.total > this.max) this.drop(keep);
  }
}

/** binary search in an ascending vector: the index of `uid`, or -1 */
function indexOf(v: Uint32Array, uid: number): number {
  let lo = 0;
  let hi = v.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (v[mid] === uid) return mid;
    if (v[mid] < uid) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** Parsed structures by blob id, least recently used first: every client fetching the same mailbox parses it once. */
export class MetaCache<T> {
  private readonly metas = new Map<number, T>();

  get(blobId: number): T | undefined {
    const m = this.metas.get(blobId);
    if (m) {
      this.metas.delete(blobId);
      this.metas.set(blobId, m);
    }
    return m;
  }

  set(blobId: number, m: T): void {
    if (this.metas.size >= META_CACHE_ENTRIES) this.metas.delete(this.metas.keys().next().value as number);
    this.metas.set(blobId, m);
  }
}

/**
 * Recently read message bytes by blob id, least recently used first, bounded in bytes. A body is
 * kept on its second read within the last BODY_ADMIT_IDS reads, not its first: a POP3 session (or
 * one IMAP client) reads each message once, and keeping those bytes would only push out what
 * others re-read and make the garbage collector move buffers that nobody asks for again (every
 * RETR of a mailbox bigger than the cache was a miss that evicted). Several clients reading one
 * mailbox keep it from the second reader on. The bodies of the most recent first reads wait in a
 * small probation area (1/8 of the cache's bytes, outside it): a second read soon after the first
 * (clients fetching the same new mail side by side) takes the bytes from there instead of reading
 * them from the database again, and keeps them.
 */
export class BodyCache {
  private readonly bodies = new Map<number, Buffer>();
  private bytes = 0;
  /** blob ids read once and not kept (ids only, oldest first) */
  private readonly seenOnce = new Map<number, true>();
  /** the bytes of the latest first reads, oldest first, bounded by probationMax (their ids are in seenOnce too) */
  private readonly probation = new Map<number, Buffer>();
  private probationBytes = 0;
  private readonly probationMax: number;
  constructor(private readonly max: number, private readonly admitIds = BODY_ADMIT_IDS) {
    this.probationMax = Math.floor(max / 8);
  }

  get(blobId: number): Buffer | undefined {
    const hit = this.bodies.get(blobId);
    if (hit) {
      this.bodies.delete(blobId);
      this.bodies.set(blobId, hit);
      return hit;
    }
    const waiting = this.probation.get(blobId);
    // a second read while the first one's bytes are still here: kept from now on
    if (waiting) this.set(blobId, waiting);
    return waiting;
  }

  /** Whether the bytes are in the cache proper (not only waiting in probation). */
  kept(blobId: number): boolean {
    return this.bodies.has(blobId);
  }

  set(blobId: number, raw: Buffer): void {
    // big messages would push out many small ones for one read: only those up to 1/16 of the cache
    if (raw.length > this.max / 16 || this.bodies.has(blobId)) return;
    if (!this.seenOnce.delete(blobId)) {
      this.seenOnce.set(blobId, true);
      if (this.seenOnce.size > this.admitIds) this.forget(this.seenOnce.keys().next().value as number);
      if (raw.length <= this.probationMax) {
        this.probation.set(blobId, raw);
        this.probationBytes += raw.length;
        while (this.probationBytes > this.probationMax) this.leaveProbation(this.probation.keys().next().value as number);
      }
      return;
    }
    this.leaveProbation(blobId);
    this.bodies.set(blobId, raw);
    this.bytes += raw.length;
    while (this.bytes > this.max) {
      const [oldId, old] = this.bodies.entries().next().value as [number, Buffer];
      this.bodies.delete(oldId);
      this.bytes -= old.length;
    }
  }

  /** The id read once falls out of memory: its bytes too. */
  private forget(blobId: number): void {
    this.seenOnce.delete(blobId);
    this.leaveProbation(blobId);
  }

  private leaveProbation(blobId: number): void {
    const b = this.probation.get(blobId);
    if (!b) return;
    this.probation.delete(blobId);
    this.probationBytes -= b.length;
  }
}
