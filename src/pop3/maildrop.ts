// RFC 1939 §5: the maildrop as the session saw it at login: messages numbered from 1, sizes,
// deletion marks. It is a snapshot: mail arriving later waits for the next session.
import type { MailboxRecord, Store } from '../store/index.js';
import { crlfSize } from './body.js';

export interface DropMessage {
  /** RFC 1939 message-number */
  n: number;
  uid: number;
  /** octets RETR sends (CRLF line ends, before byte-stuffing) */
  size: number;
  blobId: number;
  msgId: string | null;
  seen: boolean;
  deleted: boolean;
}

/**
 * Exact sizes of mailbox copies with CRLF line ends, by "mailboxId.uidValidity.uid": a copy's
 * bytes never change and a UID is never reused within a UIDVALIDITY, so an entry never goes stale.
 */
export class SizeCache {
  private map = new Map<string, number>();
  constructor(private readonly max = 200_000) {}
  get(k: string): number | undefined {
    return this.map.get(k);
  }
  set(k: string, v: number): void {
    this.map.set(k, v);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
  }
}

export class Maildrop {
  private constructor(
    readonly mailbox: MailboxRecord,
    readonly messages: DropMessage[],
  ) {}

  /** The INBOX as a maildrop. Sizes come from the metadata; a copy whose stored line ends are not all CRLF is measured once. */
  static async open(store: Store, mailbox: MailboxRecord, sizes: SizeCache): Promise<Maildrop> {
    const recs = await store.messages.list(mailbox.id);
    const messages: DropMessage[] = [];
    let scanned = 0;
    for (const r of recs) {
      const key = `${mailbox.id}.${mailbox.uidValidity}.${r.uid}`;
      let size = sizes.get(key);
      if (size === undefined) {
        let raw: Buffer;
        try {
          raw = await store.messages.raw(r.blobId);
        } catch {
          continue; // expunged meanwhile
        }
        size = crlfSize(raw);
        sizes.set(key, size);
        scanned += raw.length;
        if (scanned > 16 << 20) { scanned = 0; await new Promise((res) => setImmediate(res)); }
      }
      messages.push({ n: messages.length + 1, uid: r.uid, size, blobId: r.blobId, msgId: r.msgId, seen: r.flags.includes('\\Seen'), deleted: false });
    }
    return new Maildrop(mailbox, messages);
  }

  /** A message by its number, deleted ones included (the caller tells them apart). */
  get(n: number): DropMessage | undefined {
    return n >= 1 && n <= this.messages.length ? this.messages[n - 1] : undefined;
  }

  /** A message that exists and is not marked deleted; else undefined. */
  live(n: number): DropMessage | undefined {
    const m = this.get(n);
    return m && !m.deleted ? m : undefined;
  }

  all(): DropMessage[] {
    return this.messages.filter((m) => !m.deleted);
  }

  stat(): { count: number; size: number } {
    let count = 0;
    let size = 0;
    for (const m of this.messages) if (!m.deleted) { count++; size += m.size; }
    return { count, size };
  }

  /** DESIGN: UIDL is derived from (UIDVALIDITY, UID), so it is stable across sessions. */
  uidl(m: DropMessage): string {
    return `${this.mailbox.uidValidity}.${m.uid}`;
  }

  deleted(): DropMessage[] {
    return this.messages.filter((m) => m.deleted);
  }

  reset(): void {
    for (const m of this.messages) m.deleted = false;
  }
}
