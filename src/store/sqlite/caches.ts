// The SQLite reader's part of the store's memory (src/store/caches.ts): a parsed structure that
// reads its decoded text from the read connection only when SEARCH asks for it.
import type Database from 'better-sqlite3';
import { storedSearchText } from '../analyze.js';
import type { BlobMeta } from '../types.js';
import type { Row } from './open.js';

export { BodyCache, DEFAULT_BODY_CACHE_BYTES, ListCache, MetaCache, UidCache } from '../caches.js';

/** CachedMeta's statement: the stored text, and the bytes when the text is analyze.ts TEXT_FROM_RAW (char(1)). */
export const TEXT_STATEMENT = 'SELECT search_text, CASE WHEN search_text = char(1) THEN raw END AS raw FROM blobs WHERE id = ?';

/** A blob's parsed structure, shared by every reader (read-only). */
export class CachedMeta implements BlobMeta {
  constructor(readonly mime: unknown, readonly messageId: string | null, readonly subject: string | null,
    private readonly blobId: number, private readonly textSt: Database.Statement) {}
  /**
   * The decoded text (up to 1 MiB) is read only by SEARCH, when it asks for it, and never kept here;
   * `textSt` (TEXT_STATEMENT) gives the bytes too when the text is to be decoded from them.
   */
  get searchText(): string {
    const row = this.textSt.get(this.blobId) as Row | undefined;
    if (!row) return '';
    return storedSearchText(row.search_text as string, () => row.raw as Buffer, this.mime);
  }
}
