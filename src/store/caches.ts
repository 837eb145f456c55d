// The store's memory, the same for both backends: message lists by mailbox, parsed MIME structures
// and recently read message bytes by blob. Shared by every session of the process, bounded, and never
// stale: a list is kept under its mailbox's UIDVALIDITY and HIGHESTMODSEQ (every change to a mailbox's
// messages raises it in the same transaction, on any node), and a blob id names the same bytes forever.
import type { MessageRecord } from './types.js';

/** parsed MIME structures kept in memory (a few KiB each) */
const META_CACHE_ENTRIES = 20_000;
/** message records kept in memory, all cached mailboxes together (about 200 bytes each) */
const LIST_CACHE_ROWS = 500_000;
/** default memory for recently read message bytes (config bodyCacheBytes) */
export const DEFAULT_BODY_CACHE_BYTES = 32 * 1024 * 1024;

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
    if (rows.length > LIST_CACHE_ROWS) return;
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

/** Recently read message bytes by blob id, least recently used first, bounded in bytes. */
export class BodyCache {
  private readonly bodies = new Map<number, Buffer>();
  private bytes = 0;
  constructor(private readonly max: number) {}

  get(blobId: number): Buffer | undefined {
    const hit = this.bodies.get(blobId);
    if (hit) {
      this.bodies.delete(blobId);
      this.bodies.set(blobId, hit);
    }
    return hit;
  }

  set(blobId: number, raw: Buffer): void {
    // big messages would push out many small ones for one read: only those up to 1/16 of the cache
    if (raw.length > this.max / 16) return;
    this.bodies.set(blobId, raw);
    this.bytes += raw.length;
    while (this.bytes > this.max) {
      const [oldId, old] = this.bodies.entries().next().value as [number, Buffer];
      this.bodies.delete(oldId);
      this.bytes -= old.length;
    }
  }
}
