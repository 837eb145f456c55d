// The SQLite store in one thread: the writer (group commit) and a reader side by side. The CLI,
// `postoffice move` and tests use it; the server uses WorkerStore (store/worker-store.ts), whose
// writer runs on its own thread. Two processes on one file are serialised by SQLite's write lock.
import type { MimeLimits } from '../../mail/mime.js';
import { MemoryLocks } from '../memory-locks.js';
import type { Store, StoreEvents } from '../types.js';
import { assemble, bind, reads, writes } from './api.js';
import { backfillHeaderText } from './backfill.js';
import { databaseFile } from './open.js';
import { Reader } from './reader.js';
import { Writer } from './writer.js';

export interface SqliteStoreOptions {
  dataDir: string;
  /** ms a write may wait for others to share its commit (0: whatever arrived by the next tick) */
  commitDelayMs?: number;
  /** MIME parsing limits at delivery (config mimeMax*) */
  mimeLimits?: Partial<MimeLimits>;
  /** memory for recently read message bytes, shared by every session (0: none) */
  bodyCacheBytes?: number;
  /** while 'change' has listeners, also announce what other processes commit (default true) */
  announceOthers?: boolean;
}

export class SqliteStore implements Store {
  readonly file: string;
  readonly events: StoreEvents;
  readonly domains: Store['domains'];
  readonly users: Store['users'];
  readonly aliases: Store['aliases'];
  readonly mailboxes: Store['mailboxes'];
  readonly messages: Store['messages'];
  readonly queue: Store['queue'];
  readonly journey: Store['journey'];
  readonly submissions: Store['submissions'];
  readonly transcripts: Store['transcripts'];
  readonly deliver: Store['deliver'];
  readonly prune: Store['prune'];
  readonly locks: Store['locks'];
  readonly penalties: Store['penalties'];
  /** migration 090's header text of older blobs, done in the background (tests await it); resolves with the batches done */
  readonly backfilled: Promise<number>;
  private readonly writer: Writer;
  private readonly reader: Reader;

  constructor(opts: SqliteStoreOptions) {
    this.file = databaseFile(opts.dataDir);
    this.writer = new Writer({ file: this.file, commitDelayMs: opts.commitDelayMs, mimeLimits: opts.mimeLimits, announceOthers: opts.announceOthers });
    try {
      this.reader = new Reader(this.file, opts.bodyCacheBytes);
    } catch (err) {
      this.writer.close();
      throw err;
    }
    this.events = this.writer.events;
    // the UID vectors hear of every change in this thread before anyone else does
    this.writer.observe = (c) => this.reader.uids.apply(c);
    this.backfilled = backfillHeaderText(this.writer);
    const api = assemble(bind(reads, this.reader), bind(writes, this.writer));
    this.domains = api.domains;
    this.users = api.users;
    this.aliases = api.aliases;
    this.mailboxes = api.mailboxes;
    this.messages = api.messages;
    this.queue = api.queue;
    this.journey = api.journey;
    this.submissions = api.submissions;
    this.transcripts = api.transcripts;
    this.deliver = api.deliver;
    this.prune = api.prune;
    const mem = new MemoryLocks();
    this.locks = mem.locks;
    this.penalties = mem.penalties;
  }

  /** for tests and the bench: group transactions, the writes they carried, reads of message bytes */
  get stats(): { commits: number; jobs: number; bodyReads: number; bodyCacheHits: number } {
    return { ...this.writer.stats, ...this.reader.stats };
  }

  /** A consistent snapshot into `file` (which must not exist): VACUUM INTO on the reader (WAL: writers go on). */
  async backup(file: string): Promise<void> {
    this.reader.backup(file);
  }

  async close(): Promise<void> {
    this.writer.close();
    this.reader.close();
  }
}
