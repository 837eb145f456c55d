// The SQLite reader's part of the store's memory (src/store/caches.ts): a parsed structure that
// reads its decoded text from the read connection only when SEARCH asks for it.
import type Database from 'better-sqlite3';
import type { BlobMeta } from '../types.js';
import type { Row } from './open.js';

export { BodyCache, DEFAULT_BODY_CACHE_BYTES, ListCache, MetaCache, UidCache } from '../caches.js';

/** A blob's parsed structure, shared by every reader (read-only). */
export class CachedMeta implements BlobMeta {
  constructor(readonly mime: unknown, readonly messageId: string | null, readonly subject: string | null,
    private readonly blobId: number, private readonly textSt: Database.Statement) {}
  /** the decoded text (up to 1 MiB) is read only by SEARCH, when it asks for it, and never kept here */
  get searchText(): string {
    return ((this.textSt.get(this.blobId) as Row | undefined)?.search_text as string) ?? '';
  }
}
