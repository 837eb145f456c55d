// RFC 1939 §5: the maildrop as the session saw it at login: messages numbered from 1, sizes,
// deletion marks. It is a snapshot: mail arriving later waits for the next session.
import type { MailboxRecord, Store } from '../store/index.js';

/** records read per store call when a maildrop opens */
const OPEN_CHUNK = 5000;

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

  /**
   * The INBOX as a maildrop, from metadata only: its UIDs from the mailbox's view, then their
   * records `chunk` at a time (never the whole mailbox's list at once). The store keeps every copy
   * with CRLF line ends, so a record's size is what RETR sends. A message expunged between the two
   * reads is left out; one delivered after the view waits for the next session.
   */
  static async open(store: Store, mailbox: MailboxRecord, chunk = OPEN_CHUNK): Promise<Maildrop> {
    const view = await store.mailboxes.view(mailbox.id);
    if (!view) return new Maildrop(mailbox, []);
    const messages: DropMessage[] = [];
    for (let i = 0; i < view.uids.length; i += chunk) {
      const recs = await store.messages.some(mailbox.id, Array.from(view.uids.subarray(i, i + chunk)));
      for (const r of recs) {
        messages.push({ n: messages.length + 1, uid: r.uid, size: r.size, blobId: r.blobId, msgId: r.msgId, seen: r.flags.includes('\\Seen'), deleted: false });
      }
    }
    return new Maildrop(view.mailbox, messages);
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
