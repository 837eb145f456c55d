// The PostgreSQL store's part of the store's memory (src/store/caches.ts): parsed structures without
// a connection behind them, and the decoded texts SEARCH reads synchronously, bounded in bytes.
import { BodyCache, DEFAULT_BODY_CACHE_BYTES, ListCache, MetaCache } from '../caches.js';
import type { MailboxChange } from '../types.js';

/** decoded texts kept for SEARCH (BlobMeta.searchText is read synchronously) */
const TEXT_CACHE_BYTES = 16 * 1024 * 1024;

/** UIDs kept in memory, all cached mailboxes together (4 bytes each, capacity counted) */
const UID_CACHE_UIDS = 4 * 1024 * 1024;

interface UidEntry { uidValidity: number; uidNext: number; buf: Uint32Array; length: number }
/** a read of a mailbox's UIDs in flight: changes to the mailbox meanwhile make it too old to keep */
export interface UidLoad { mailboxId: number; stale: boolean }

/**
 * Every live UID of a mailbox, ascending, by mailbox, least recently used first (SELECT of a large
 * mailbox without a row per message). Kept current from the store's change events (in commit
 * order): an exists appends the UIDs at or above the vector's UIDNEXT (an event the vector already
 * holds is a no-op), an expunge removes. A reader checks a vector against UIDVALIDITY, UIDNEXT and
 * the message count read in one snapshot (get) and reads the UIDs again on any difference.
 * A vector handed out is never changed: appends go past its end (or to a new buffer), an expunge
 * makes a new one.
 */
export class UidCache {
  private readonly entries = new Map<number, UidEntry>();
  private readonly loads = new Set<UidLoad>();
  private size = 0;

  /** what the vector of a mailbox is kept under, without taking it */
  peek(mailboxId: number): { uidValidity: number; uidNext: number; messages: number } | undefined {
    const e = this.entries.get(mailboxId);
    return e && { uidValidity: e.uidValidity, uidNext: e.uidNext, messages: e.length };
  }

  /** the vector if it is the one of this UIDVALIDITY, UIDNEXT and count (a read of the mailbox row says which) */
  get(mailboxId: number, uidValidity: number, uidNext: number, messages: number): Uint32Array | null {
    const e = this.entries.get(mailboxId);
    if (!e || e.uidValidity !== uidValidity || e.uidNext !== uidNext || e.length !== messages) return null;
    this.entries.delete(mailboxId);
    this.entries.set(mailboxId, e);
    return e.buf.subarray(0, e.length);
  }

  /** before reading a mailbox's UIDs from the database */
  begin(mailboxId: number): UidLoad {
    const l = { mailboxId, stale: false };
    this.loads.add(l);
    return l;
  }

  /** the UIDs read (at `uidNext` of `uidValidity`) are kept, unless the mailbox changed since begin() */
  finish(load: UidLoad, uidValidity: number, uidNext: number, uids: Uint32Array, keep = true): void {
    this.loads.delete(load);
    if (!keep || load.stale) return;
    this.drop(load.mailboxId);
    if (uids.length > UID_CACHE_UIDS / 4) return;
    this.evictFor(uids.length);
    this.entries.set(load.mailboxId, { uidValidity, uidNext, buf: uids, length: uids.length });
    this.size += uids.length;
  }

  /** one committed change, in commit order */
  apply(c: MailboxChange): void {
    for (const l of this.loads) if (l.mailboxId === c.mailboxId) l.stale = true;
    if (c.kind === 'deleted') { this.drop(c.mailboxId); return; }
    const e = this.entries.get(c.mailboxId);
    if (!e) return;
    if (c.kind === 'exists') {
      const fresh = c.uids.filter((u) => u >= e.uidNext).sort((a, b) => a - b);
      if (!fresh.length) return;
      if (e.length + fresh.length > e.buf.length) {
        // a new buffer: vectors handed out keep the old one
        const buf = new Uint32Array(Math.max(16, (e.length + fresh.length) * 2));
        buf.set(e.buf.subarray(0, e.length));
        this.size += buf.length - e.buf.length;
        e.buf = buf;
      }
      e.buf.set(fresh, e.length);
      e.length += fresh.length;
      e.uidNext = fresh[fresh.length - 1] + 1;
      if (this.size > UID_CACHE_UIDS) this.evictFor(0);
    } else if (c.kind === 'expunge') {
      const cur = e.buf.subarray(0, e.length);
      const gone = new Set(c.uids);
      let n = 0;
      for (const u of gone) if (bisect(cur, u) >= 0) n++;
      if (!n) return;
      const buf = new Uint32Array(e.length - n);
      let j = 0;
      for (let i = 0; i < cur.length; i++) if (!gone.has(cur[i])) buf[j++] = cur[i];
      this.size += buf.length - e.buf.length;
      e.buf = buf;
      e.length = buf.length;
    }
  }

  drop(mailboxId: number): void {
    const e = this.entries.get(mailboxId);
    if (!e) return;
    this.entries.delete(mailboxId);
    this.size -= e.buf.length;
  }

  /** every vector goes (changes may have been missed), and reads in flight are not kept */
  clear(): void {
    for (const l of this.loads) l.stale = true;
    this.entries.clear();
    this.size = 0;
  }

  private evictFor(n: number): void {
    while (this.size + n > UID_CACHE_UIDS && this.entries.size) this.drop(this.entries.keys().next().value as number);
  }
}

/** index of `u` in the ascending vector, or -1 */
function bisect(v: Uint32Array, u: number): number {
  let lo = 0;
  let hi = v.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (v[mid] === u) return mid;
    if (v[mid] < u) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** A blob's parsed structure (the decoded text is kept apart, in TextCache). */
export interface MetaFields { mime: unknown; messageId: string | null; subject: string | null }

/** Decoded texts by blob id, oldest first, bounded in bytes (SEARCH reads BlobMeta.searchText synchronously). */
export class TextCache {
  private readonly texts = new Map<number, string>();
  private bytes = 0;

  get(blobId: number): string | undefined {
    return this.texts.get(blobId);
  }

  set(blobId: number, text: string): void {
    const size = text.length * 2;
    if (size > TEXT_CACHE_BYTES / 4) return;
    this.texts.set(blobId, text);
    this.bytes += size;
    while (this.bytes > TEXT_CACHE_BYTES) {
      const [id, old] = this.texts.entries().next().value as [number, string];
      this.texts.delete(id);
      this.bytes -= old.length * 2;
    }
  }
}

export class PgCaches {
  readonly lists = new ListCache();
  readonly uids = new UidCache();
  readonly metas = new MetaCache<MetaFields>();
  readonly texts = new TextCache();
  readonly bodies: BodyCache;
  constructor(bodyCacheBytes = DEFAULT_BODY_CACHE_BYTES) {
    this.bodies = new BodyCache(bodyCacheBytes);
  }
}
