// MDA: the mailbox store on PostgreSQL (the `pg` pool), for several postoffice nodes on one
// database. The same Store as the SQLite one, with the same guarantees: every write is one
// transaction that resolves after COMMIT (synchronous_commit on); message bytes are stored once,
// content-addressed; UIDs and MODSEQs are taken from the mailbox row under its row lock (UPDATE
// ... RETURNING), so two nodes delivering to one mailbox at once never share or reorder a UID.
// Rows are locked mailboxes first (ascending id), then blobs, so concurrent writers rarely
// deadlock; when they do, PostgreSQL aborts one and db.ts runs it again.
//
// This class only wires the Store's namespaces to the job files, each a table of plain functions
// over one context (context.ts: the PgDb handle, the caches, the events, the group commit):
// accounts.ts, aliases.ts, mailboxes.ts, message-reads.ts, message-writes.ts, deliver.ts,
// queue.ts (with queue-lease.ts), journey.ts, submissions.ts, transcripts.ts, prune.ts, and
// locks.ts for what the nodes agree on. The row-level helpers every write shares are copies.ts;
// backfill.ts gives blobs stored before migration 040 their header text, in the background.
import { EventEmitter } from 'node:events';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../config/config.js';
import { InternalError } from '../../mail/errors.js';
import type { MimeLimits } from '../../mail/mime.js';
import type { MailboxChange, Store, StoreEvents } from '../types.js';
import { domains, users } from './accounts.js';
import { aliases } from './aliases.js';
import { backfillHeaderText } from './backfill.js';
import { PgCaches } from './caches.js';
import { bind, type Pg, type PgStats } from './context.js';
import { PgDb } from './db.js';
import { deliver, GroupCommit } from './deliver.js';
import { journey } from './journey.js';
import * as crossNode from './locks.js';
import { mailboxes } from './mailboxes.js';
import { messageReads } from './message-reads.js';
import { messageWrites } from './message-writes.js';
import { prune } from './prune.js';
import { queue } from './queue.js';
import { submissions } from './submissions.js';
import { transcripts } from './transcripts.js';

export const PG_MIGRATIONS_DIR = path.join(PACKAGE_ROOT, 'src', 'store', 'postgres', 'migrations');

export interface PgStoreOptions {
  /** postgres://user:password@host:port/database */
  url: string;
  mimeLimits?: Partial<MimeLimits>;
  /** memory for recently read message bytes, shared by every session (0: none) */
  bodyCacheBytes?: number;
  /** pooled connections (default 10) */
  poolSize?: number;
}

/** Every Store namespace and call served from the job files (events, close, backup, locks and penalties are the class's own). */
const api = {
  domains, users, aliases, mailboxes, queue, journey, submissions, transcripts,
  messages: { ...messageReads, ...messageWrites },
  deliver, prune,
  locks: {
    tryAcquire: (pg: Pg, key: string, owner: string, ttlMs: number): Promise<boolean> => crossNode.tryAcquire(pg.db, key, owner, ttlMs),
    release: (pg: Pg, key: string, owner: string): Promise<boolean> => crossNode.release(pg.db, key, owner),
  },
  penalties: {
    fail: (pg: Pg, keys: string[], now: number, forgetAfterMs: number): Promise<number> => crossNode.fail(pg.db, keys, now, forgetAfterMs),
    get: (pg: Pg, key: string, now: number, forgetAfterMs: number): Promise<number> => crossNode.failures(pg.db, key, now, forgetAfterMs),
    clear: (pg: Pg, keys: string[]): Promise<void> => crossNode.clear(pg.db, keys),
  },
};

export class PgStore implements Store {
  readonly events: StoreEvents = new EventEmitter() as StoreEvents;
  /** for tests and the bench: reads of message bytes; delivery transactions, the deliveries in them, and batches run again with a savepoint per delivery */
  readonly stats: PgStats = { bodyReads: 0, bodyCacheHits: 0, deliveryCommits: 0, deliveries: 0, isolatedRetries: 0 };
  readonly domains: Store['domains'];
  readonly users: Store['users'];
  readonly aliases: Store['aliases'];
  readonly mailboxes: Store['mailboxes'];
  readonly messages: Store['messages'];
  readonly queue: Store['queue'];
  readonly journey: Store['journey'];
  readonly submissions: Store['submissions'];
  readonly transcripts: Store['transcripts'];
  readonly locks: Store['locks'];
  readonly penalties: Store['penalties'];
  readonly deliver: Store['deliver'];
  readonly prune: Store['prune'];
  /** migration 040's header text of older blobs, done in the background (tests await it); resolves with the batches done here */
  readonly backfilled: Promise<number>;
  private readonly db: PgDb;
  private readonly caches: PgCaches;
  private closed = false;

  private constructor(db: PgDb, opts: PgStoreOptions) {
    this.db = db;
    this.caches = new PgCaches(opts.bodyCacheBytes);
    this.events.setMaxListeners(0);
    const pg: Pg = { db, events: this.events, mimeLimits: opts.mimeLimits, caches: this.caches, stats: this.stats, group: new GroupCommit() };
    const b = bind(api, pg);
    this.domains = b.domains;
    this.users = b.users;
    this.aliases = b.aliases;
    this.mailboxes = b.mailboxes;
    this.messages = b.messages;
    this.queue = b.queue;
    this.journey = b.journey;
    this.submissions = b.submissions;
    this.transcripts = b.transcripts;
    this.locks = b.locks;
    this.penalties = b.penalties;
    this.deliver = b.deliver;
    this.prune = b.prune;
    this.backfilled = backfillHeaderText(pg, () => this.closed);
  }

  static async open(opts: PgStoreOptions): Promise<PgStore> {
    let store: PgStore | null = null;
    const db = await PgDb.open({
      url: opts.url,
      poolSize: opts.poolSize,
      onChange: (c) => store?.changed(c),
      onQueued: () => store?.events.emit('queued'),
      // changes may be missed until the channel is back and caught up: no UID vector is trusted meanwhile
      onListenError: () => { store?.caches.uidLoads.all(); store?.caches.uids.clear(); },
    }, PG_MIGRATIONS_DIR);
    store = new PgStore(db, opts);
    return store;
  }

  /** the handle H6's cross-node modules (leases, locks) work through */
  get pg(): PgDb {
    return this.db;
  }

  /** Every committed change (ours and other nodes'), in commit order. */
  private changed(c: MailboxChange): void {
    // the list cache is keyed by MODSEQ and needs nothing; a deleted mailbox's list goes
    if (c.kind === 'deleted') this.caches.lists.drop(c.mailboxId);
    this.caches.uidLoads.changed(c.mailboxId);
    this.caches.uids.apply(c);
    this.events.emit('change', c);
  }

  /** A snapshot of a PostgreSQL store is the database's own business (pg_dump, base backups, replicas). */
  async backup(_file: string): Promise<void> {
    throw new InternalError('STORE_BACKUP_UNSUPPORTED', 'backup: the store is PostgreSQL; use pg_dump or a base backup (pg_basebackup) of the database');
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.db.close();
  }
}
