// The one writer: the connection with synchronous=FULL and the group commit. Every write queued
// while the event loop was busy joins one transaction (a SAVEPOINT each, so one failing write
// does not take the others with it), and each caller's promise resolves only after that
// transaction's COMMIT (fsync) returned; then the changes are announced. In the server this
// runs on the writer thread (store/worker.ts); the CLI and tests run it in their own thread.
import type Database from 'better-sqlite3';
import { EventEmitter } from 'node:events';
import { InternalError } from '../../mail/errors.js';
import type { MimeLimits } from '../../mail/mime.js';
import { OtherWriters } from '../other-writers.js';
import type { MailboxChange, StoreEvents } from '../types.js';
import { openWriteDb, statements } from './open.js';

/** What a write sees inside the group transaction. */
export interface Tx {
  /** a statement on the writer connection, compiled once */
  st(sql: string): Database.Statement;
  /** what this write changed: announced after COMMIT, dropped if the write fails */
  readonly changes: MailboxChange[];
}

interface Job { run: (tx: Tx) => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void; changes: MailboxChange[] }

export interface WriterOptions {
  file: string;
  /** ms a write may wait for others to share its commit (0: whatever arrived by the next tick) */
  commitDelayMs?: number;
  /** MIME parsing limits at delivery (config mimeMax*) */
  mimeLimits?: Partial<MimeLimits>;
  /** while 'change' has listeners, also announce what other processes commit (default true) */
  announceOthers?: boolean;
}

export class Writer {
  /** 'change' after each commit; 'queued' when queue entries became due */
  readonly events: StoreEvents = new EventEmitter() as StoreEvents;
  readonly mimeLimits: Partial<MimeLimits> | undefined;
  /** for tests and the bench: group transactions and the writes they carried */
  readonly stats = { commits: 0, jobs: 0 };
  /** told the seconds of every committed group transaction (the writer thread sends them to /metrics) */
  onCommit: ((seconds: number) => void) | null = null;
  /** told every change before it is announced (the reader's UID vectors in the same thread) */
  observe: ((c: MailboxChange) => void) | null = null;
  /** a statement on this connection, outside any write (reads the writer needs before its transaction) */
  readonly st: (sql: string) => Database.Statement;
  private readonly db: Database.Database;
  private readonly commitDelayMs: number;
  /** announces other processes' commits while anyone listens (null: this writer does not) */
  private readonly others: OtherWriters | null = null;
  private pending: Job[] = [];
  private scheduled = false;
  private closed = false;

  constructor(opts: WriterOptions) {
    this.db = openWriteDb(opts.file);
    this.st = statements(this.db);
    this.commitDelayMs = opts.commitDelayMs ?? 0;
    this.mimeLimits = opts.mimeLimits;
    this.events.setMaxListeners(0);
    if (opts.announceOthers !== false) {
      const others = new OtherWriters(this.db, (c) => this.announce(c));
      this.others = others;
      // 'newListener' fires before the listener is added, 'removeListener' after it is gone
      const ev = this.events as EventEmitter;
      ev.on('newListener', (event: string) => { if (event === 'change' && !this.closed) others.start(); });
      ev.on('removeListener', (event: string) => { if (event === 'change' && this.events.listenerCount('change') === 0) others.stop(); });
    }
  }

  /** Queue a write; it runs inside the next group transaction and resolves after COMMIT. */
  write<T>(run: (tx: Tx) => T): Promise<T> {
    if (this.closed) return Promise.reject(new InternalError('STORE_CLOSED', 'store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ run, resolve: resolve as (v: unknown) => void, reject, changes: [] });
      if (!this.scheduled) {
        this.scheduled = true;
        if (this.commitDelayMs > 0) setTimeout(() => this.flush(), this.commitDelayMs);
        else setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    const results: { ok: boolean; value: unknown }[] = [];
    let others: MailboxChange[] = [];
    const started = performance.now();
    try {
      this.db.exec('BEGIN IMMEDIATE');
      // what other processes committed before we took the lock is announced before our own
      others = this.others?.ownWriteBegins() ?? [];
      for (const job of batch) {
        this.db.exec('SAVEPOINT job');
        try {
          results.push({ ok: true, value: job.run({ st: this.st, changes: job.changes }) });
          this.db.exec('RELEASE job');
        } catch (err) {
          this.db.exec('ROLLBACK TO job');
          this.db.exec('RELEASE job');
          job.changes.length = 0;
          results.push({ ok: false, value: err });
        }
      }
      if (this.others?.active) this.others.ownWriteEnds(batch.flatMap((job) => job.changes));
      this.db.exec('COMMIT'); // synchronous=FULL: durable when this returns
      this.stats.commits++;
      this.stats.jobs += batch.length;
      this.onCommit?.((performance.now() - started) / 1000);
    } catch (err) {
      this.others?.ownWriteFailed();
      if (this.db.inTransaction) {
        try { this.db.exec('ROLLBACK'); } catch { /* already rolled back */ }
      }
      const e = new InternalError('STORE_WRITE_FAILED', `commit failed: ${(err as Error).message}`, { cause: err });
      for (const job of batch) job.reject(e);
      return;
    }
    batch.forEach((job, i) => {
      const r = results[i];
      if (r.ok) job.resolve(r.value);
      else job.reject(r.value);
    });
    for (const c of others) this.announce(c);
    for (const job of batch) for (const c of job.changes) this.announce(c);
  }

  private announce(c: MailboxChange): void {
    this.observe?.(c);
    this.events.emit('change', c);
  }

  /** Commits what is queued, then closes the connection. */
  close(): void {
    if (this.closed) return;
    if (this.pending.length) this.flush();
    this.closed = true;
    this.others?.stop();
    this.db.close();
  }
}
