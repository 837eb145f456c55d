// DESIGN "change notification": one subscription to store.events per listener, fanned out to
// the sessions that have the changed mailbox selected (not every session hears every change).
import type { MailboxChange, Store } from '../store/index.js';

export type ChangeListener = (c: MailboxChange) => void;

export class MailboxHub {
  private readonly byMailbox = new Map<number, Set<ChangeListener>>();
  private readonly onChange = (c: MailboxChange) => {
    const set = this.byMailbox.get(c.mailboxId);
    if (set) for (const f of [...set]) f(c);
  };

  constructor(private readonly store: Store) {
    store.events.on('change', this.onChange);
  }

  watch(mailboxId: number, f: ChangeListener): void {
    let set = this.byMailbox.get(mailboxId);
    if (!set) this.byMailbox.set(mailboxId, (set = new Set()));
    set.add(f);
  }

  unwatch(mailboxId: number, f: ChangeListener): void {
    const set = this.byMailbox.get(mailboxId);
    if (!set) return;
    set.delete(f);
    if (!set.size) this.byMailbox.delete(mailboxId);
  }

  close(): void {
    this.store.events.off('change', this.onChange);
  }
}
