// The PostgreSQL store's part of the store's memory (src/store/caches.ts): parsed structures without
// a connection behind them, the decoded texts SEARCH reads synchronously, bounded in bytes, and the
// guard that keeps asynchronous reads from handing an older snapshot to the UID vectors.
import { BodyCache, DEFAULT_BODY_CACHE_BYTES, ListCache, MetaCache, UidCache } from '../caches.js';

/** decoded texts kept for SEARCH (BlobMeta.searchText is read synchronously) */
const TEXT_CACHE_BYTES = 16 * 1024 * 1024;

/** a read of a mailbox's UIDs in flight: a change to the mailbox announced meanwhile makes it stale */
export interface UidLoad { mailboxId: number; stale: boolean }

/**
 * The guard the shared UidCache needs here, where reads are asynchronous: a read's snapshot may be
 * older than changes announced (and applied to the vector) while it was in flight. Comparing such a
 * snapshot with the vector, or keeping the UIDs it read, could pair a vector that has lost a newer
 * expunge with a count that an older, not yet announced one still makes up for. A stale read is
 * therefore answered from its own snapshot alone and leaves the cache as it is.
 */
export class UidLoads {
  private readonly loads = new Set<UidLoad>();

  begin(mailboxId: number): UidLoad {
    const l = { mailboxId, stale: false };
    this.loads.add(l);
    return l;
  }

  end(l: UidLoad): void {
    this.loads.delete(l);
  }

  /** a change was announced (before it reaches the UID vectors) */
  changed(mailboxId: number): void {
    for (const l of this.loads) if (l.mailboxId === mailboxId) l.stale = true;
  }

  /** the change channel was lost: every read in flight is stale */
  all(): void {
    for (const l of this.loads) l.stale = true;
  }
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
  readonly uidLoads = new UidLoads();
  readonly metas = new MetaCache<MetaFields>();
  readonly texts = new TextCache();
  readonly bodies: BodyCache;
  constructor(bodyCacheBytes = DEFAULT_BODY_CACHE_BYTES) {
    this.bodies = new BodyCache(bodyCacheBytes);
  }
}
