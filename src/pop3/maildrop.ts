// RFC 1939 §5: the maildrop as the session saw it at login: messages numbered from 1, sizes,
// deletion marks. It is a snapshot: mail arriving later waits for the next session.
import type { MailboxRecord, Store } from '../store/index.js';

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

export class Maildrop {
  private constructor(
    readonly mailbox: MailboxRecord,
    readonly messages: DropMessage[],
  ) {}

  /** The INBOX as a maildrop, from metadata only: the store keeps every copy with CRLF line ends, so its size is what RETR sends. */
  static async open(store: Store, mailbox: MailboxRecord): Promise<Maildrop> {
    const recs = await store.messages.list(mailbox.id);
    const messages: DropMessage[] = recs.map((r, i) => ({
      n: i + 1, uid: r.uid, size: r.size, blobId: r.blobId, msgId: r.msgId, seen: r.flags.includes('\\Seen'), deleted: false,
    }));
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
