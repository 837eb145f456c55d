// The store's user-facing error, the same for every backend (SQLite, PostgreSQL).

/** A user-facing store error (bad name, exists, not found): callers turn it into a protocol reply. */
export class StoreError extends Error {
  constructor(readonly reason: 'exists' | 'notfound' | 'invalid' | 'nonexistent-parent' | 'inuse', message: string) {
    super(message);
  }
}
