// DESIGN "Change notification" across processes: commits by another process on the same
// database (the CLI's `import` or `user del` beside a running server, a second store on the
// same file) are announced as the same MailboxChange events as our own. SQLite has no
// notification channel, so while anyone listens the writer connection's PRAGMA data_version
// is read every POLL_MS: it changes only when ANOTHER connection commits (our own commits do
// not move it), and only then are the mailboxes' MODSEQs compared with the marks kept here
// and what moved read from messages/expunged by MODSEQ (indexed on mailbox_id, modseq).
// A PostgreSQL store will do the same with LISTEN/NOTIFY.
import type Database from 'better-sqlite3';
import type { FlagChange, MailboxChange } from './types.js';

/** how often an idle store looks for other processes' commits (IDLE pushes within a second) */
export const POLL_MS = 300;

/** what this store last knew of one mailbox: everything up to here has been announced */
interface Mark { uidValidity: number; uidNext: number; modseq: number }

type Row = Record<string, unknown>;

/** a mailbox first seen after the marks were taken: it was empty (uidnext 1, nothing modified) */
const NEW_MAILBOX: Mark = { uidValidity: 0, uidNext: 1, modseq: 0 };

export class OtherWriters {
  private marks: Map<number, Mark> | null = null;
  private version = -1;
  private timer: NodeJS.Timeout | null = null;
  private readonly st = new Map<string, Database.Statement>();

  /**
   * `db` is the store's writer connection; every method runs on its thread between (or, for
   * the two `own*` hooks, inside) the store's write transactions, never during one of them.
   */
  constructor(private readonly db: Database.Database, private readonly emit: (c: MailboxChange) => void) {}

  get active(): boolean {
    return this.timer !== null;
  }

  start(): void {
    if (this.timer) return;
    this.marks = null; // taken afresh on the next look: what happened while nobody listened is not news
    this.timer = setInterval(() => this.poll(), POLL_MS);
    this.timer.unref();
    // the marks now, so that whatever others commit from here on is news
    this.poll();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.marks = null;
  }

  private q(sql: string): Database.Statement {
    let s = this.st.get(sql);
    if (!s) this.st.set(sql, (s = this.db.prepare(sql)));
    return s;
  }

  private dataVersion(): number {
    // prepared once: about 1.5 µs a call (db.pragma() compiles it each time)
    return this.q('PRAGMA data_version').pluck().get() as number;
  }

  /** The timer: nothing but one PRAGMA unless another connection committed. */
  poll(): void {
    if (this.db.inTransaction || !this.db.open) return;
    try {
      if (this.marks && this.dataVersion() === this.version) return;
      // one read transaction: the version and every row read come from the same snapshot
      const out: MailboxChange[] = [];
      this.db.exec('BEGIN');
      try {
        this.look(out);
      } finally {
        this.db.exec('COMMIT');
      }
      for (const c of out) this.emit(c);
    } catch {
      // a busy or closing database: look again on the next tick, from fresh marks
      this.marks = null;
    }
  }

  /**
   * Inside our own write transaction, before its jobs run (we hold the write lock, so nothing
   * else commits until our COMMIT): what others committed since the last look. The caller
   * announces the result after its COMMIT, before its own changes.
   */
  ownWriteBegins(): MailboxChange[] {
    const out: MailboxChange[] = [];
    if (!this.active) return out;
    try {
      if (!this.marks || this.dataVersion() !== this.version) this.look(out);
    } catch {
      // never fails the write it rides on: the marks are taken afresh next time
      this.marks = null;
      return [];
    }
    return out;
  }

  /** Inside our own write transaction, after its jobs: the marks of the mailboxes it changed. */
  ownWriteEnds(changes: Iterable<MailboxChange>): void {
    if (!this.active || !this.marks) return;
    const seen = new Set<number>();
    try {
      for (const c of changes) {
        if (seen.has(c.mailboxId)) continue;
        seen.add(c.mailboxId);
        const r = this.q('SELECT uidvalidity, uidnext, highestmodseq FROM mailboxes WHERE id = ?').get(c.mailboxId) as Row | undefined;
        if (r) this.marks.set(c.mailboxId, { uidValidity: r.uidvalidity as number, uidNext: r.uidnext as number, modseq: r.highestmodseq as number });
        else this.marks.delete(c.mailboxId);
      }
    } catch {
      this.marks = null; // never fails the write it rides on
    }
  }

  /** Our write transaction failed: its marks may be ahead of the database. Take them afresh. */
  ownWriteFailed(): void {
    this.marks = null;
  }

  /** Compare every mailbox with its mark (inside a transaction); `out` gets what changed. */
  private look(out: MailboxChange[]): void {
    const version = this.dataVersion();
    const rows = this.q('SELECT id, uidvalidity, uidnext, highestmodseq FROM mailboxes').all() as Row[];
    const first = !this.marks;
    const old = this.marks ?? new Map<number, Mark>();
    const next = new Map<number, Mark>();
    for (const r of rows) {
      const id = r.id as number;
      const now: Mark = { uidValidity: r.uidvalidity as number, uidNext: r.uidnext as number, modseq: r.highestmodseq as number };
      next.set(id, now);
      if (first) continue;
      const was = old.get(id) ?? NEW_MAILBOX;
      if (now.modseq > was.modseq) this.derive(id, was, out);
    }
    if (!first) for (const id of old.keys()) if (!next.has(id)) out.push({ mailboxId: id, kind: 'deleted' });
    this.marks = next;
    this.version = version;
  }

  /** What another process did to one mailbox since `was`, read by MODSEQ. */
  private derive(mailboxId: number, was: Mark, out: MailboxChange[]): void {
    const rows = this.q('SELECT uid, flags, modseq FROM messages WHERE mailbox_id = ? AND modseq > ? ORDER BY uid').all(mailboxId, was.modseq) as Row[];
    const fresh: number[] = [];
    const flags: FlagChange[] = [];
    let freshModseq = 0;
    let flagModseq = 0;
    for (const r of rows) {
      const uid = r.uid as number;
      const modseq = r.modseq as number;
      if (uid >= was.uidNext) {
        fresh.push(uid);
        freshModseq = Math.max(freshModseq, modseq);
      } else {
        flags.push({ uid, flags: r.flags ? (r.flags as string).split(' ') : [], modseq });
        flagModseq = Math.max(flagModseq, modseq);
      }
    }
    // tombstones of messages added and removed since the mark were never announced: skipped
    const gone = this.q('SELECT uid, modseq FROM expunged WHERE mailbox_id = ? AND modseq > ? AND uid < ? ORDER BY uid').all(mailboxId, was.modseq, was.uidNext) as Row[];
    if (flags.length) out.push({ mailboxId, kind: 'flags', changes: flags, modseq: flagModseq });
    if (fresh.length) out.push({ mailboxId, kind: 'exists', uids: fresh, modseq: freshModseq });
    if (gone.length) out.push({ mailboxId, kind: 'expunge', uids: gone.map((g) => g.uid as number), modseq: gone.reduce((m, g) => Math.max(m, g.modseq as number), 0) });
  }
}
