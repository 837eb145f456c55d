// The PostgreSQL store's part of the store's memory (src/store/caches.ts): parsed structures without
// a connection behind them, and the decoded texts SEARCH reads synchronously, bounded in bytes.
import { BodyCache, DEFAULT_BODY_CACHE_BYTES, ListCache, MetaCache } from '../caches.js';

/** decoded texts kept for SEARCH (BlobMeta.searchText is read synchronously) */
const TEXT_CACHE_BYTES = 16 * 1024 * 1024;

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
  readonly metas = new MetaCache<MetaFields>();
  readonly texts = new TextCache();
  readonly bodies: BodyCache;
  constructor(bodyCacheBytes = DEFAULT_BODY_CACHE_BYTES) {
    this.bodies = new BodyCache(bodyCacheBytes);
  }
}
