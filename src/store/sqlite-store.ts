// MDA: the mailbox store on SQLite (better-sqlite3). One writer connection with
// synchronous=FULL owns every write; a reader connection serves fetches (WAL: readers
// never block delivery). Writes are group-committed: every write queued while the event
// loop was busy joins one transaction, and each caller's promise resolves only after
// that transaction's COMMIT (fsync) returned.
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../config/config.js';
import { parseAddress, normalizeDomain } from '../mail/address.js';
import { toCrlf } from '../mail/dot-stuffing.js';
import { InternalError } from '../mail/errors.js';
import { analyze } from './analyze.js';
import { OtherWriters } from './other-writers.js';
import { DEFAULT_MAILBOXES, TRANSCRIPT_MAX_BYTES, TRANSCRIPT_MAX_LINES, TRANSCRIPT_MAX_MSGIDS } from './defaults.js';
import { StoreError } from './errors.js';

export { DEFAULT_MAILBOXES, StoreError, TRANSCRIPT_MAX_BYTES, TRANSCRIPT_MAX_LINES, TRANSCRIPT_MAX_MSGIDS };
import type { MimeLimits } from '../mail/mime.js';
import type {
  AccessSession, AccessStep, AliasRecord, BlobMeta, Delivery, DeliveryResult, DomainRecord, FlagChange, FlagOp, ImportItem, ImportOutcome, JourneyEvent, JourneyRow,
  JourneySummary, MailboxChange, MailboxRecord, MailboxStatus, MessageRecord, QueueEntry, QueueOutcome, QueueRcpt, QueueReschedule, Resolution, Store, StoreEvents,
  SubmissionRecord, Transcript, TranscriptLine, TranscriptSession, TranscriptSummary, UserRecord,
} from './types.js';

/** parsed MIME structures kept in memory (a few KiB each) */
const META_CACHE_ENTRIES = 20_000;
/** message records kept in memory, all cached mailboxes together (about 200 bytes each) */
const LIST_CACHE_ROWS = 500_000;
/** rows one retention job deletes before it lets other writes commit */
const PRUNE_CHUNK = 5000;
/** default memory for recently read message bytes (config bodyCacheBytes) */
export const DEFAULT_BODY_CACHE_BYTES = 32 * 1024 * 1024;

const MIGRATIONS_DIR = path.join(PACKAGE_ROOT, 'src', 'store', 'migrations');

interface Job { run: () => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void; changes: MailboxChange[] }

type Row = Record<string, unknown>;

function splitFlags(s: string): string[] {
  return s ? s.split(' ') : [];
}
function joinFlags(flags: Iterable<string>): string {
  return [...new Set(flags)].join(' ');
}

/** A blob's parsed structure, shared by every reader (read-only). */
class CachedMeta implements BlobMeta {
  constructor(readonly mime: unknown, readonly messageId: string | null, readonly subject: string | null,
    private readonly blobId: number, private readonly textSt: Database.Statement) {}
  /** the decoded text (up to 1 MiB) is read only by SEARCH, when it asks for it, and never kept here */
  get searchText(): string {
    return ((this.textSt.get(this.blobId) as Row | undefined)?.search_text as string) ?? '';
  }
}

export interface SqliteStoreOptions {
  dataDir: string;
  /** ms a write may wait for others to share its commit (0: whatever arrived by the next tick) */
  commitDelayMs?: number;
  /** read-only tools (CLI) may skip the writer's group commit */
  readonly?: boolean;
  /** MIME parsing limits at delivery (config mimeMax*) */
  mimeLimits?: Partial<MimeLimits>;
  /** memory for recently read message bytes, shared by every session (0: none) */
  bodyCacheBytes?: number;
  /**
   * while 'change' has listeners, also announce what other processes commit (default true;
   * WorkerStore's read side says false: its writer thread announces them)
   */
  announceOthers?: boolean;
}

export class SqliteStore implements Store {
  readonly events: StoreEvents = new EventEmitter() as StoreEvents;
  readonly file: string;
  private readonly w: Database.Database;
  private readonly r: Database.Database;
  private pending: Job[] = [];
  private scheduled = false;
  private current: Job | null = null;
  private readonly commitDelayMs: number;
  private readonly mimeLimits: Partial<MimeLimits> | undefined;
  private closed = false;
  /** for tests and the bench: commits, jobs, and reads of message bytes (from the cache or the database) */
  readonly stats = { commits: 0, jobs: 0, bodyReads: 0, bodyCacheHits: 0 };
  private readonly bodyCacheMax: number;

  constructor(opts: SqliteStoreOptions) {
    mkdirSync(opts.dataDir, { recursive: true });
    this.file = path.join(opts.dataDir, 'postoffice.sqlite');
    this.commitDelayMs = opts.commitDelayMs ?? 0;
    this.mimeLimits = opts.mimeLimits;
    this.bodyCacheMax = opts.bodyCacheBytes ?? DEFAULT_BODY_CACHE_BYTES;
    try {
      this.w = new Database(this.file, { timeout: 10_000 });
      this.w.pragma('journal_mode = WAL');
      // DESIGN: a 250 means the mail is on disk: the writer fsyncs every commit.
      this.w.pragma('synchronous = FULL');
      this.w.pragma('foreign_keys = ON');
      this.migrate();
      this.r = new Database(this.file, { timeout: 10_000, readonly: true });
      this.r.pragma('foreign_keys = ON');
      // fetches read pages through a memory map (no read() call and copy per page) and keep
      // a larger page cache: message bodies are most of what the reader reads
      this.r.pragma('mmap_size = 1073741824');
      this.r.pragma('cache_size = -32768');
    } catch (err) {
      const e = err as { code?: string; message: string };
      throw new InternalError('STORE_OPEN_FAILED', `cannot open the database ${this.file}: ${e.message}`, { cause: err });
    }
    this.events.setMaxListeners(0);
    if (opts.announceOthers !== false) {
      const others = new OtherWriters(this.w, (c) => this.events.emit('change', c));
      this.others = others;
      // 'newListener' fires before the listener is added, 'removeListener' after it is gone
      const ev = this.events as EventEmitter;
      ev.on('newListener', (event: string) => { if (event === 'change' && !this.closed) others.start(); });
      ev.on('removeListener', (event: string) => { if (event === 'change' && this.events.listenerCount('change') === 0) others.stop(); });
    }
  }

  /** announces other processes' commits while anyone listens (null: this store does not) */
  private readonly others: OtherWriters | null = null;

  // ------------------------------------------------------------------ schema
  private migrate(): void {
    const files = readdirSync(MIGRATIONS_DIR).filter((f) => /^\d{3}-.*\.sql$/.test(f)).sort();
    const current = this.w.pragma('user_version', { simple: true }) as number;
    for (const f of files) {
      const n = Number(f.slice(0, 3));
      if (n <= current) continue;
      const sql = readFileSync(path.join(MIGRATIONS_DIR, f), 'utf8');
      this.w.transaction(() => {
        this.w.exec(sql);
        this.w.pragma(`user_version = ${n}`);
      }).immediate();
    }
  }

  // ------------------------------------------------------------------ group commit
  /** told the seconds of every committed group transaction (the writer thread sends them to /metrics) */
  onCommit: ((seconds: number) => void) | null = null;

  /** Queue a write; it runs inside the next group transaction and resolves after COMMIT. */
  private write<T>(run: (changes: MailboxChange[]) => T): Promise<T> {
    if (this.closed) return Promise.reject(new InternalError('STORE_CLOSED', 'store is closed'));
    return new Promise<T>((resolve, reject) => {
      const job: Job = { run: () => run(job.changes), resolve: resolve as (v: unknown) => void, reject, changes: [] };
      this.pending.push(job);
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
      this.w.exec('BEGIN IMMEDIATE');
      // what other processes committed before we took the lock is announced before our own
      others = this.others?.ownWriteBegins() ?? [];
      for (const job of batch) {
        this.current = job;
        this.w.exec('SAVEPOINT job');
        try {
          results.push({ ok: true, value: job.run() });
          this.w.exec('RELEASE job');
        } catch (err) {
          this.w.exec('ROLLBACK TO job');
          this.w.exec('RELEASE job');
          job.changes.length = 0;
          results.push({ ok: false, value: err });
        }
      }
      this.current = null;
      if (this.others?.active) this.others.ownWriteEnds(batch.flatMap((job) => job.changes));
      this.w.exec('COMMIT'); // synchronous=FULL: durable when this returns
      this.stats.commits++;
      this.stats.jobs += batch.length;
      this.onCommit?.((performance.now() - started) / 1000);
    } catch (err) {
      this.current = null;
      this.others?.ownWriteFailed();
      if (this.w.inTransaction) {
        try { this.w.exec('ROLLBACK'); } catch { /* already rolled back */ }
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
    for (const c of others) this.events.emit('change', c);
    for (const job of batch) for (const c of job.changes) this.events.emit('change', c);
  }

  /** A consistent snapshot into `file` (which must not exist): VACUUM INTO runs in one read transaction on the reader (WAL: writers go on). */
  async backup(file: string): Promise<void> {
    this.r.prepare('VACUUM INTO ?').run(file);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.pending.length) this.flush();
    this.closed = true;
    this.others?.stop();
    this.r.close();
    this.w.close();
  }

  // ------------------------------------------------------------------ helpers
  private readonly wCache = new Map<string, Database.Statement>();
  /** parsed MIME structures by blob id (read-only for callers) */
  private readonly metaCache = new Map<number, CachedMeta>();
  private readonly rCache = new Map<string, Database.Statement>();
  /**
   * Message lists by mailbox, each valid while the mailbox keeps its UIDVALIDITY and
   * HIGHESTMODSEQ: every change to a mailbox's messages (new, flags, expunge) raises its
   * MODSEQ in the same transaction. Several sessions on one mailbox share one list.
   */
  private readonly listCache = new Map<number, { uidValidity: number; modseq: number; rows: readonly MessageRecord[] }>();
  private listCacheRows = 0;
  /**
   * Recently read message bytes by blob id (least recently used first). A blob's bytes never
   * change and its id is never reused, so an entry is never stale; it only ages out.
   */
  private readonly bodyCache = new Map<number, Buffer>();
  private bodyCacheBytes = 0;
  /** A prepared statement on the writer, compiled once. */
  private ws(sql: string): Database.Statement {
    let st = this.wCache.get(sql);
    if (!st) this.wCache.set(sql, (st = this.w.prepare(sql)));
    return st;
  }
  /** A prepared statement on the reader, compiled once. */
  private rs(sql: string): Database.Statement {
    let st = this.rCache.get(sql);
    if (!st) this.rCache.set(sql, (st = this.r.prepare(sql)));
    return st;
  }

  private now(): number {
    return Date.now();
  }

  private nextUidValidity(): number {
    // RFC 3501 §2.3.1.1: a mailbox created anew gets a larger UIDVALIDITY than any before.
    const row = this.ws(`SELECT value FROM meta WHERE key = 'uidvalidity'`).get() as Row | undefined;
    const last = row ? Number(row.value) : 0;
    const v = Math.max(Math.floor(Date.now() / 1000), last + 1);
    this.ws(`INSERT INTO meta(key, value) VALUES ('uidvalidity', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`).run(String(v));
    return v;
  }

  private mailboxRow(r: Row): MailboxRecord {
    return {
      id: r.id as number, userId: r.user_id as number, name: r.name as string, specialUse: (r.special_use as string) ?? null,
      subscribed: !!r.subscribed, uidValidity: r.uidvalidity as number, uidNext: r.uidnext as number, highestModseq: r.highestmodseq as number,
    };
  }

  private messageRow(r: Row): MessageRecord {
    return {
      uid: r.uid as number, modseq: r.modseq as number, flags: splitFlags(r.flags as string), internalDate: r.internal_date as number,
      size: r.size as number, blobId: r.blob_id as number, msgId: (r.msg_id as string) ?? null,
    };
  }

  private userRow(r: Row): UserRecord {
    return { id: r.id as number, address: r.address as string, domain: r.domain as string, created: r.created as number, admin: !!r.admin };
  }

  /** Inside a write: raise the mailbox's MODSEQ and return the new value. */
  private bumpModseq(mailboxId: number): number {
    const r = this.ws('UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = ? RETURNING highestmodseq').get(mailboxId) as Row | undefined;
    if (!r) throw new StoreError('notfound', 'no such mailbox');
    return r.highestmodseq as number;
  }

  /** Inside a write: store the bytes once (content-addressed) and take one reference. */
  private putBlob(raw: Buffer, meta: BlobMeta, refs: number): number {
    const sha = createHash('sha256').update(raw).digest('hex');
    const found = this.ws('SELECT id FROM blobs WHERE sha256 = ?').get(sha) as Row | undefined;
    if (found) {
      this.ws('UPDATE blobs SET refs = refs + ? WHERE id = ?').run(refs, found.id);
      return found.id as number;
    }
    const r = this.ws(`INSERT INTO blobs (sha256, size, refs, raw, mime, search_text, message_id, subject, created)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`).get(
      sha, raw.length, refs, raw, JSON.stringify(meta.mime), meta.searchText, meta.messageId, meta.subject, this.now()) as Row;
    return r.id as number;
  }

  /** Inside a write: drop references; the last reference gone, the bytes go. */
  private releaseBlob(blobId: number, n = 1): void {
    const r = this.ws('UPDATE blobs SET refs = refs - ? WHERE id = ? RETURNING refs').get(n, blobId) as Row | undefined;
    if (r && (r.refs as number) <= 0) this.ws('DELETE FROM blobs WHERE id = ?').run(blobId);
  }

  private insertCopy(mailboxId: number, blobId: number, size: number, flags: string[], internalDate: number, msgId: string | null, changes: MailboxChange[]): number {
    const mb = this.ws('UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1 WHERE id = ? RETURNING uidnext, highestmodseq')
      .get(mailboxId) as Row | undefined;
    if (!mb) throw new StoreError('notfound', 'no such mailbox');
    const uid = (mb.uidnext as number) - 1;
    const modseq = mb.highestmodseq as number;
    this.ws('INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, blob_id, size, msg_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(mailboxId, uid, modseq, joinFlags(flags), internalDate, blobId, size, msgId);
    const last = changes[changes.length - 1];
    if (last && last.kind === 'exists' && last.mailboxId === mailboxId) {
      last.uids.push(uid);
      last.modseq = modseq;
    } else changes.push({ mailboxId, kind: 'exists', uids: [uid], modseq });
    return uid;
  }

  private insertJourney(events: JourneyEvent[]): void {
    const st = this.ws('INSERT INTO journey (msg_id, message_id, time, agent, step, details) VALUES (?, ?, ?, ?, ?, ?)');
    for (const e of events) st.run(e.msgId, e.messageId ?? null, e.time ?? this.now(), e.agent, e.step, JSON.stringify(e.details ?? {}));
  }

  private createMailboxTx(userId: number, name: string, specialUse: string | null): MailboxRecord {
    const r = this.ws(`INSERT INTO mailboxes (user_id, name, special_use, subscribed, uidvalidity, created)
      VALUES (?, ?, ?, 1, ?, ?) ON CONFLICT DO NOTHING RETURNING *`).get(userId, name, specialUse, this.nextUidValidity(), this.now()) as Row | undefined;
    if (!r) throw new StoreError('exists', `mailbox ${name} already exists`);
    return this.mailboxRow(r);
  }

  // ------------------------------------------------------------------ domains
  domains = {
    add: (name: string): Promise<boolean> => {
      const d = normalizeDomain(name);
      if (!d) return Promise.reject(new StoreError('invalid', `not a domain name: ${name}`));
      return this.write(() => this.ws('INSERT INTO domains (name, created) VALUES (?, ?) ON CONFLICT DO NOTHING').run(d, this.now()).changes > 0);
    },
    del: (name: string): Promise<boolean> =>
      this.write(() => {
        const d = name.toLowerCase();
        const users = this.ws('SELECT COUNT(*) AS n FROM users WHERE domain = ?').get(d) as Row;
        if ((users.n as number) > 0) throw new StoreError('inuse', `domain ${d} still has ${users.n} user(s); delete them first`);
        this.ws(`DELETE FROM aliases WHERE source = ? OR source LIKE ?`).run('@' + d, '%@' + d);
        return this.ws('DELETE FROM domains WHERE name = ?').run(d).changes > 0;
      }),
    list: async (): Promise<DomainRecord[]> =>
      (this.rs('SELECT d.name, d.created, (SELECT COUNT(*) FROM users u WHERE u.domain = d.name) AS users FROM domains d ORDER BY d.name').all() as Row[])
        .map((r) => ({ name: r.name as string, created: r.created as number, users: r.users as number })),
    isLocal: async (name: string): Promise<boolean> => !!this.rs('SELECT 1 FROM domains WHERE name = ?').get(name.toLowerCase()),
  };

  // ------------------------------------------------------------------ users
  users = {
    add: (address: string, passwordHash: string): Promise<UserRecord> => {
      const a = parseAddress(address);
      if (!a) return Promise.reject(new StoreError('invalid', `not an address: ${address}`));
      return this.write(() => {
        if (!this.ws('SELECT 1 FROM domains WHERE name = ?').get(a.domain)) {
          throw new StoreError('invalid', `${a.domain} is not a local domain (add it first: postoffice domain add ${a.domain})`);
        }
        const r = this.ws('INSERT INTO users (address, domain, password_hash, created) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING *')
          .get(a.key, a.domain, passwordHash, this.now()) as Row | undefined;
        if (!r) throw new StoreError('exists', `user ${a.key} already exists`);
        for (const [name, use] of DEFAULT_MAILBOXES) this.createMailboxTx(r.id as number, name, use);
        return this.userRow(r);
      });
    },
    del: (address: string): Promise<boolean> =>
      this.write((changes) => {
        const u = this.ws('SELECT id FROM users WHERE address = ?').get(address) as Row | undefined;
        if (!u) return false;
        const boxes = this.ws('SELECT id FROM mailboxes WHERE user_id = ?').all(u.id) as Row[];
        for (const b of boxes) this.deleteMailboxTx(b.id as number, changes);
        this.ws('DELETE FROM aliases WHERE target = ?').run(address);
        this.ws('DELETE FROM users WHERE id = ?').run(u.id);
        return true;
      }),
    list: async (domain?: string): Promise<UserRecord[]> =>
      ((domain
        ? this.rs('SELECT * FROM users WHERE domain = ? ORDER BY address').all(domain.toLowerCase())
        : this.rs('SELECT * FROM users ORDER BY address').all()) as Row[]).map((r) => this.userRow(r)),
    get: async (address: string): Promise<UserRecord | null> => {
      const r = this.rs('SELECT * FROM users WHERE address = ?').get(address.trim()) as Row | undefined;
      return r ? this.userRow(r) : null;
    },
    getById: async (id: number): Promise<UserRecord | null> => {
      const r = this.rs('SELECT * FROM users WHERE id = ?').get(id) as Row | undefined;
      return r ? this.userRow(r) : null;
    },
    passwordHash: async (address: string) => {
      const r = this.rs('SELECT * FROM users WHERE address = ?').get(address.trim()) as Row | undefined;
      return r ? { user: this.userRow(r), hash: r.password_hash as string } : null;
    },
    setPassword: (address: string, passwordHash: string): Promise<boolean> =>
      this.write(() => this.ws('UPDATE users SET password_hash = ? WHERE address = ?').run(passwordHash, address).changes > 0),
    setAdmin: (address: string, on: boolean): Promise<boolean> =>
      this.write(() => this.ws('UPDATE users SET admin = ? WHERE address = ?').run(on ? 1 : 0, address.trim()).changes > 0),
    resolve: async (address: string): Promise<Resolution> => this.resolve(address),
    sendAs: async (userId: number): Promise<string[]> => {
      const u = this.rs('SELECT address FROM users WHERE id = ?').get(userId) as Row | undefined;
      if (!u) return [];
      const own = u.address as string;
      const aliases = (this.rs(`SELECT source FROM aliases WHERE target = ? AND source NOT LIKE '@%'`).all(own) as Row[]).map((r) => r.source as string);
      return [own, ...aliases];
    },
    usage: async (userId: number) => {
      const r = this.rs(`SELECT COALESCE(SUM(m.size), 0) AS bytes, COUNT(*) AS n FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.user_id = ?`).get(userId) as Row;
      return { bytes: r.bytes as number, messages: r.n as number };
    },
  };

  /** RFC 5321 §3.6: a local-part may be an alias; expand to users (depth-bounded), else catch-all. */
  private resolve(address: string): Resolution {
    const a = parseAddress(address);
    if (!a) return { kind: 'unknown' };
    if (!this.rs('SELECT 1 FROM domains WHERE name = ?').get(a.domain)) return { kind: 'remote' };
    const users = new Map<number, string>();
    const remote = new Set<string>();
    const seen = new Set<string>();
    const userSt = this.rs('SELECT id, address FROM users WHERE address = ?');
    const aliasSt = this.rs('SELECT target FROM aliases WHERE source = ?');
    const domainSt = this.rs('SELECT 1 FROM domains WHERE name = ?');
    const expand = (key: string, depth: number, allowCatchAll: boolean): boolean => {
      if (depth > 8 || seen.has(key)) return false;
      seen.add(key);
      const u = userSt.get(key) as Row | undefined;
      if (u) { users.set(u.id as number, u.address as string); return true; }
      let targets = (aliasSt.all(key) as Row[]).map((r) => r.target as string);
      if (targets.length === 0) {
        // sub-addressing: alice+news@ -> alice@
        const plus = key.indexOf('+');
        if (plus > 0 && plus < key.indexOf('@')) return expand(key.slice(0, plus) + key.slice(key.indexOf('@')), depth + 1, allowCatchAll);
        if (allowCatchAll) targets = (aliasSt.all(key.slice(key.indexOf('@'))) as Row[]).map((r) => r.target as string);
      }
      if (targets.length === 0) return false;
      let any = false;
      for (const t of targets) {
        const ta = parseAddress(t);
        if (!ta) continue;
        if (domainSt.get(ta.domain)) any = expand(ta.key, depth + 1, false) || any;
        else { remote.add(ta.key); any = true; }
      }
      return any;
    };
    if (!expand(a.key, 0, true) || (users.size === 0 && remote.size === 0)) return { kind: 'unknown' };
    return { kind: 'local', users: [...users].map(([userId, addr]) => ({ userId, address: addr })), remote: [...remote] };
  }

  // ------------------------------------------------------------------ aliases
  aliases = {
    add: (source: string, target: string): Promise<boolean> => {
      const src = source.trim().toLowerCase();
      const catchAll = src.startsWith('@');
      const srcDomain = catchAll ? normalizeDomain(src.slice(1)) : parseAddress(src)?.domain;
      const tgt = parseAddress(target);
      if (!srcDomain) return Promise.reject(new StoreError('invalid', `not an address or @domain: ${source}`));
      if (!tgt) return Promise.reject(new StoreError('invalid', `not an address: ${target}`));
      return this.write(() => {
        if (!this.ws('SELECT 1 FROM domains WHERE name = ?').get(srcDomain)) throw new StoreError('invalid', `${srcDomain} is not a local domain`);
        if (!catchAll && this.ws('SELECT 1 FROM users WHERE address = ?').get(src)) throw new StoreError('exists', `${src} is a user, not an alias`);
        return this.ws('INSERT INTO aliases (source, target, created) VALUES (?, ?, ?) ON CONFLICT DO NOTHING').run(src, tgt.key, this.now()).changes > 0;
      });
    },
    del: (source: string, target?: string): Promise<number> =>
      this.write(() => (target
        ? this.ws('DELETE FROM aliases WHERE source = ? AND target = ?').run(source.trim(), target.trim())
        : this.ws('DELETE FROM aliases WHERE source = ?').run(source.trim())).changes),
    list: async (): Promise<AliasRecord[]> =>
      (this.rs('SELECT source, target, created FROM aliases ORDER BY source, target').all() as Row[])
        .map((r) => ({ source: r.source as string, target: r.target as string, created: r.created as number })),
  };

  // ------------------------------------------------------------------ mailboxes
  private deleteMailboxTx(mailboxId: number, changes: MailboxChange[]): void {
    const blobs = this.ws('SELECT blob_id, COUNT(*) AS n FROM messages WHERE mailbox_id = ? GROUP BY blob_id').all(mailboxId) as Row[];
    this.ws('DELETE FROM messages WHERE mailbox_id = ?').run(mailboxId);
    for (const b of blobs) this.releaseBlob(b.blob_id as number, b.n as number);
    this.ws('DELETE FROM mailboxes WHERE id = ?').run(mailboxId);
    changes.push({ mailboxId, kind: 'deleted' });
  }

  mailboxes = {
    list: async (userId: number): Promise<MailboxRecord[]> =>
      (this.rs('SELECT * FROM mailboxes WHERE user_id = ? ORDER BY name').all(userId) as Row[]).map((r) => this.mailboxRow(r)),
    get: async (userId: number, name: string): Promise<MailboxRecord | null> => {
      const n = name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
      const r = this.rs('SELECT * FROM mailboxes WHERE user_id = ? AND name = ?').get(userId, n) as Row | undefined;
      return r ? this.mailboxRow(r) : null;
    },
    getById: async (id: number): Promise<MailboxRecord | null> => {
      const r = this.rs('SELECT * FROM mailboxes WHERE id = ?').get(id) as Row | undefined;
      return r ? this.mailboxRow(r) : null;
    },
    status: async (mailboxId: number): Promise<MailboxStatus | null> => {
      const r = this.rs('SELECT * FROM mailboxes WHERE id = ?').get(mailboxId) as Row | undefined;
      if (!r) return null;
      const s = this.rs(`SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS size,
          SUM(CASE WHEN (' ' || flags || ' ') LIKE '% \\Seen %' THEN 0 ELSE 1 END) AS unseen,
          SUM(CASE WHEN (' ' || flags || ' ') LIKE '% \\Deleted %' THEN 1 ELSE 0 END) AS deleted,
          SUM(CASE WHEN uid > ? THEN 1 ELSE 0 END) AS recent
        FROM messages WHERE mailbox_id = ?`).get(r.recent_uid, mailboxId) as Row;
      return {
        ...this.mailboxRow(r), messages: s.n as number, size: s.size as number,
        unseen: (s.unseen as number) ?? 0, deleted: (s.deleted as number) ?? 0, recent: (s.recent as number) ?? 0,
      };
    },
    create: (userId: number, name: string, specialUse: string | null = null): Promise<MailboxRecord> =>
      this.write(() => this.createMailboxTx(userId, name, specialUse)),
    delete: (mailboxId: number): Promise<void> => this.write((changes) => this.deleteMailboxTx(mailboxId, changes)),
    rename: (userId: number, from: string, to: string): Promise<void> =>
      this.write((changes) => {
        const src = this.ws('SELECT * FROM mailboxes WHERE user_id = ? AND name = ?').get(userId, from) as Row | undefined;
        if (!src) throw new StoreError('notfound', `no mailbox ${from}`);
        if (this.ws('SELECT 1 FROM mailboxes WHERE user_id = ? AND name = ?').get(userId, to)) throw new StoreError('exists', `mailbox ${to} already exists`);
        if (from === 'INBOX') {
          // RFC 3501 §6.3.5: renaming INBOX moves its messages to the new name; INBOX stays, empty.
          const dst = this.createMailboxTx(userId, to, null);
          const rows = this.ws('SELECT * FROM messages WHERE mailbox_id = ? ORDER BY uid').all(src.id) as Row[];
          const uids: number[] = [];
          for (const m of rows) {
            this.ws('UPDATE blobs SET refs = refs + 1 WHERE id = ?').run(m.blob_id); // the copy's reference; expunge below drops the old one
            this.insertCopy(dst.id, m.blob_id as number, m.size as number, splitFlags(m.flags as string), m.internal_date as number, m.msg_id as string, changes);
            uids.push(m.uid as number);
          }
          if (uids.length) this.expungeTx(src.id as number, uids, changes, undefined, false);
          return;
        }
        const kids = this.ws(`SELECT id, name FROM mailboxes WHERE user_id = ? AND substr(name, 1, ?) = ?`).all(userId, from.length + 1, from + '/') as Row[];
        for (const k of kids) {
          const newName = to + (k.name as string).slice(from.length);
          if (this.ws('SELECT 1 FROM mailboxes WHERE user_id = ? AND name = ?').get(userId, newName)) throw new StoreError('exists', `mailbox ${newName} already exists`);
        }
        this.ws('UPDATE mailboxes SET name = ? WHERE id = ?').run(to, src.id);
        for (const k of kids) this.ws('UPDATE mailboxes SET name = ? WHERE id = ?').run(to + (k.name as string).slice(from.length), k.id);
      }),
    subscribe: (mailboxId: number, on: boolean): Promise<void> =>
      this.write(() => { this.ws('UPDATE mailboxes SET subscribed = ? WHERE id = ?').run(on ? 1 : 0, mailboxId); }),
    claimRecent: (mailboxId: number): Promise<number[]> =>
      this.write(() => {
        const mb = this.ws('SELECT recent_uid, uidnext FROM mailboxes WHERE id = ?').get(mailboxId) as Row | undefined;
        if (!mb) return [];
        const uids = (this.ws('SELECT uid FROM messages WHERE mailbox_id = ? AND uid > ? ORDER BY uid').all(mailboxId, mb.recent_uid) as Row[]).map((r) => r.uid as number);
        this.ws('UPDATE mailboxes SET recent_uid = ? WHERE id = ?').run((mb.uidnext as number) - 1, mailboxId);
        return uids;
      }),
  };

  // ------------------------------------------------------------------ messages
  private expungeTx(mailboxId: number, uids: number[] | undefined, changes: MailboxChange[], origin: unknown, onlyDeleted = true): number[] {
    let rows: Row[];
    if (uids) {
      const st = this.ws('SELECT uid, blob_id, flags FROM messages WHERE mailbox_id = ? AND uid = ?');
      rows = uids.map((u) => st.get(mailboxId, u) as Row | undefined).filter((r): r is Row => !!r);
      if (onlyDeleted) rows = rows.filter((r) => splitFlags(r.flags as string).includes('\\Deleted'));
    } else {
      rows = this.ws(`SELECT uid, blob_id, flags FROM messages WHERE mailbox_id = ? AND (' ' || flags || ' ') LIKE '% \\Deleted %'`).all(mailboxId) as Row[];
    }
    if (rows.length === 0) return [];
    rows.sort((a, b) => (a.uid as number) - (b.uid as number));
    const modseq = this.bumpModseq(mailboxId);
    const del = this.ws('DELETE FROM messages WHERE mailbox_id = ? AND uid = ?');
    const tomb = this.ws('INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)');
    for (const r of rows) {
      del.run(mailboxId, r.uid);
      tomb.run(mailboxId, r.uid, modseq);
      this.releaseBlob(r.blob_id as number);
    }
    const expunged = rows.map((r) => r.uid as number);
    changes.push({ mailboxId, kind: 'expunge', uids: expunged, modseq, origin });
    return expunged;
  }

  private copyTx(from: number, uids: number[], to: number, changes: MailboxChange[]): { uidValidity: number; map: [number, number][] } {
    const dst = this.ws('SELECT uidvalidity FROM mailboxes WHERE id = ?').get(to) as Row | undefined;
    if (!dst) throw new StoreError('notfound', 'no such target mailbox');
    const st = this.ws('SELECT * FROM messages WHERE mailbox_id = ? AND uid = ?');
    const map: [number, number][] = [];
    for (const uid of [...uids].sort((a, b) => a - b)) {
      const m = st.get(from, uid) as Row | undefined;
      if (!m) continue;
      this.ws('UPDATE blobs SET refs = refs + 1 WHERE id = ?').run(m.blob_id);
      // RFC 3501 §6.4.7: flags and internal date are kept; \Recent is set in the target (by the UID watermark).
      const newUid = this.insertCopy(to, m.blob_id as number, m.size as number, splitFlags(m.flags as string), m.internal_date as number, m.msg_id as string, changes);
      map.push([uid, newUid]);
    }
    return { uidValidity: dst.uidvalidity as number, map };
  }

  messages = {
    list: async (mailboxId: number): Promise<readonly MessageRecord[]> => {
      // the mailbox row first: rows read after it are at least as new as the MODSEQ they are kept under
      const mb = this.rs('SELECT uidvalidity, highestmodseq FROM mailboxes WHERE id = ?').get(mailboxId) as Row | undefined;
      if (!mb) return [];
      const hit = this.listCache.get(mailboxId);
      if (hit) {
        this.listCache.delete(mailboxId);
        this.listCacheRows -= hit.rows.length;
        if (hit.uidValidity === mb.uidvalidity && hit.modseq === mb.highestmodseq) {
          this.listCache.set(mailboxId, hit);
          this.listCacheRows += hit.rows.length;
          return hit.rows;
        }
      }
      // shared between sessions: frozen, so a caller that tries to change one fails loudly
      const rows = Object.freeze((this.rs('SELECT uid, modseq, flags, internal_date, size, blob_id, msg_id FROM messages WHERE mailbox_id = ? ORDER BY uid').all(mailboxId) as Row[])
        .map((r) => { const m = this.messageRow(r); Object.freeze(m.flags); return Object.freeze(m); }));
      if (rows.length <= LIST_CACHE_ROWS) {
        while (this.listCacheRows + rows.length > LIST_CACHE_ROWS) {
          const [oldId, old] = this.listCache.entries().next().value as [number, { rows: readonly MessageRecord[] }];
          this.listCache.delete(oldId);
          this.listCacheRows -= old.rows.length;
        }
        this.listCache.set(mailboxId, { uidValidity: mb.uidvalidity as number, modseq: mb.highestmodseq as number, rows });
        this.listCacheRows += rows.length;
      }
      return rows;
    },
    get: async (mailboxId: number, uid: number): Promise<MessageRecord | null> => {
      const r = this.rs('SELECT uid, modseq, flags, internal_date, size, blob_id, msg_id FROM messages WHERE mailbox_id = ? AND uid = ?').get(mailboxId, uid) as Row | undefined;
      return r ? this.messageRow(r) : null;
    },
    raw: async (blobId: number): Promise<Buffer> => {
      this.stats.bodyReads++;
      const hit = this.bodyCache.get(blobId);
      if (hit) {
        this.stats.bodyCacheHits++;
        this.bodyCache.delete(blobId);
        this.bodyCache.set(blobId, hit);
        return hit;
      }
      const r = this.rs('SELECT raw FROM blobs WHERE id = ?').get(blobId) as Row | undefined;
      if (!r) throw new StoreError('notfound', 'message bytes are gone');
      const raw = r.raw as Buffer;
      // big messages would push out many small ones for one read: only those up to 1/16 of the cache
      if (raw.length <= this.bodyCacheMax / 16) {
        this.bodyCache.set(blobId, raw);
        this.bodyCacheBytes += raw.length;
        while (this.bodyCacheBytes > this.bodyCacheMax) {
          const [oldId, old] = this.bodyCache.entries().next().value as [number, Buffer];
          this.bodyCache.delete(oldId);
          this.bodyCacheBytes -= old.length;
        }
      }
      return raw;
    },
    meta: async (blobId: number): Promise<BlobMeta> => {
      // Blobs never change and their ids are never reused (AUTOINCREMENT), so parsed structures
      // are kept in a bounded cache: every client fetching the same mailbox parses it once.
      let m = this.metaCache.get(blobId);
      if (m) {
        this.metaCache.delete(blobId);
      } else {
        const r = this.rs('SELECT mime, message_id, subject FROM blobs WHERE id = ?').get(blobId) as Row | undefined;
        if (!r) throw new StoreError('notfound', 'message is gone');
        m = new CachedMeta(JSON.parse(r.mime as string), (r.message_id as string) ?? null, (r.subject as string) ?? null, blobId, this.rs('SELECT search_text FROM blobs WHERE id = ?'));
        if (this.metaCache.size >= META_CACHE_ENTRIES) this.metaCache.delete(this.metaCache.keys().next().value as number);
      }
      this.metaCache.set(blobId, m);
      return m;
    },
    append: async (mailboxId: number, given: Buffer, opts: { flags?: string[]; internalDate?: number; journey?: JourneyEvent[] } = {}) => {
      const raw = toCrlf(given); // stored line ends are always CRLF: sizes are what IMAP and POP3 send
      const meta = await analyze(raw, this.mimeLimits);
      return this.write((changes) => {
        const mb = this.ws('SELECT uidvalidity FROM mailboxes WHERE id = ?').get(mailboxId) as Row | undefined;
        if (!mb) throw new StoreError('notfound', 'no such mailbox');
        const blobId = this.putBlob(raw, meta, 1);
        const uid = this.insertCopy(mailboxId, blobId, raw.length, opts.flags ?? [], opts.internalDate ?? this.now(), null, changes);
        if (opts.journey) this.insertJourney(opts.journey);
        return { uid, uidValidity: mb.uidvalidity as number };
      });
    },
    setFlags: (mailboxId: number, uids: number[], op: FlagOp, flags: string[], opts: { unchangedSince?: number; origin?: unknown } = {}) =>
      this.write((changes) => {
        const st = this.ws('SELECT uid, flags, modseq FROM messages WHERE mailbox_id = ? AND uid = ?');
        const upd = this.ws('UPDATE messages SET flags = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?');
        const changed: FlagChange[] = [];
        const failed: number[] = [];
        let modseq = 0;
        for (const uid of uids) {
          const m = st.get(mailboxId, uid) as Row | undefined;
          if (!m) continue;
          // RFC 7162 §3.1.3: UNCHANGEDSINCE fails for messages modified after the given MODSEQ
          if (opts.unchangedSince !== undefined && (m.modseq as number) > opts.unchangedSince) { failed.push(uid); continue; }
          const old = splitFlags(m.flags as string);
          const next = op === 'set' ? [...new Set(flags)] : op === 'add' ? [...new Set([...old, ...flags])] : old.filter((f) => !flags.includes(f));
          if (next.length === old.length && next.every((f) => old.includes(f))) continue;
          if (!modseq) modseq = this.bumpModseq(mailboxId);
          upd.run(joinFlags(next), modseq, mailboxId, uid);
          changed.push({ uid, flags: next, modseq });
        }
        if (changed.length) changes.push({ mailboxId, kind: 'flags', changes: changed, modseq, origin: opts.origin });
        return { changed, failed };
      }),
    expunge: (mailboxId: number, uids?: number[], opts: { origin?: unknown; journey?: JourneyEvent[] } = {}) =>
      this.write((changes) => {
        const r = this.expungeTx(mailboxId, uids, changes, opts.origin, !uids);
        if (opts.journey) this.insertJourney(opts.journey);
        return r;
      }),
    copy: (from: number, uids: number[], to: number) => this.write((changes) => this.copyTx(from, uids, to, changes)),
    move: (from: number, uids: number[], to: number, opts: { origin?: unknown } = {}) =>
      this.write((changes) => {
        const res = this.copyTx(from, uids, to, changes);
        this.expungeTx(from, res.map.map(([u]) => u), changes, opts.origin, false);
        return res;
      }),
    expungedSince: async (mailboxId: number, modseq: number): Promise<number[]> =>
      (this.rs('SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid').all(mailboxId, modseq) as Row[]).map((r) => r.uid as number),
    appendMany: async (mailboxId: number, items: ImportItem[]): Promise<ImportOutcome[]> => {
      // parsed before the transaction, so that the batch holds the writer only for its inserts
      const prepared: { item: ImportItem; raw: Buffer; sha: string; meta: BlobMeta | null; error?: string; held?: boolean }[] = [];
      // bytes the mailbox holds already are not parsed again (a re-run reads mostly those)
      const heldNow = this.rs('SELECT 1 FROM blobs b JOIN messages m ON m.blob_id = b.id WHERE b.sha256 = ? AND m.mailbox_id = ? LIMIT 1');
      for (const item of items) {
        const raw = toCrlf(item.raw);
        const sha = createHash('sha256').update(raw).digest('hex');
        if (heldNow.get(sha, mailboxId)) { prepared.push({ item, raw, sha, meta: null, held: true }); continue; }
        try {
          prepared.push({ item, raw, sha, meta: await analyze(raw, this.mimeLimits) });
        } catch (err) {
          prepared.push({ item, raw, sha, meta: null, error: `cannot parse: ${(err as Error).message}` });
        }
      }
      return this.write((changes) => {
        const mb = this.ws('SELECT name FROM mailboxes WHERE id = ?').get(mailboxId) as Row | undefined;
        if (!mb) throw new StoreError('notfound', 'no such mailbox');
        const held = this.ws('SELECT 1 FROM blobs b JOIN messages m ON m.blob_id = b.id WHERE b.sha256 = ? AND m.mailbox_id = ? LIMIT 1');
        return prepared.map(({ item, raw, sha, meta, error, held: wasHeld }): ImportOutcome => {
          // (held when read: an expunge since then would leave it out; a re-run brings it in)
          if (wasHeld) return { duplicate: true };
          if (!meta) return { failed: error ?? 'cannot parse' };
          if (held.get(sha, mailboxId)) return { duplicate: true };
          const blobId = this.putBlob(raw, meta, 1);
          const uid = this.insertCopy(mailboxId, blobId, raw.length, item.flags, item.internalDate, item.msgId, changes);
          this.insertJourney([{ msgId: item.msgId, messageId: meta.messageId, agent: 'MDA', step: 'imported',
            details: { mailbox: mb.name as string, uid, size: raw.length, ...(item.source ? { source: item.source } : {}) } }]);
          return { uid };
        });
      });
    },
    digests: async (mailboxId: number): Promise<{ uid: number; messageId: string | null; size: number }[]> =>
      (this.rs('SELECT m.uid, m.size, b.message_id FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.mailbox_id = ? ORDER BY m.uid').all(mailboxId) as Row[])
        .map((r) => ({ uid: r.uid as number, size: r.size as number, messageId: (r.message_id as string) ?? null })),
  };

  // ------------------------------------------------------------------ delivery
  /** DESIGN "the one transaction": blob, every mailbox copy, queue entries and journey commit together. */
  async deliver(given: Delivery): Promise<DeliveryResult> {
    // stored line ends are always CRLF (RFC 5322 §2.3), so a copy's size is what IMAP and POP3 send
    const d = { ...given, raw: toCrlf(given.raw), relayRaw: given.relayRaw && toCrlf(given.relayRaw) };
    const meta = await analyze(d.raw, this.mimeLimits);
    const relayRaw = d.remote.length ? d.relayRaw ?? d.raw : null;
    const relayMeta = relayRaw && relayRaw !== d.raw ? await analyze(relayRaw, this.mimeLimits) : meta;
    return this.write((changes) => {
      const result: DeliveryResult = { stored: [], queued: [], messageId: meta.messageId };
      const now = this.now();
      if (d.local.length) {
        const blobId = this.putBlob(d.raw, meta, d.local.length);
        for (const rcpt of d.local) {
          const want = rcpt.mailbox ?? 'INBOX';
          // a name, or a special use (\Junk: whatever the user's junk mailbox is called now)
          let mb = (want.startsWith('\\')
            ? this.ws('SELECT id, name FROM mailboxes WHERE user_id = ? AND special_use = ? ORDER BY id LIMIT 1').get(rcpt.userId, want)
            : this.ws('SELECT id, name FROM mailboxes WHERE user_id = ? AND name = ?').get(rcpt.userId, want)) as Row | undefined;
          mb ??= this.ws(`SELECT id, name FROM mailboxes WHERE user_id = ? AND name = 'INBOX'`).get(rcpt.userId) as Row | undefined;
          if (!mb) mb = { id: this.createMailboxTx(rcpt.userId, 'INBOX', null).id, name: 'INBOX' };
          const uid = this.insertCopy(mb.id as number, blobId, d.raw.length, d.flags ?? [], d.internalDate ?? now, d.msgId, changes);
          result.stored.push({ address: rcpt.address, mailbox: mb.name as string, uid, mailboxId: mb.id as number });
        }
      }
      if (relayRaw && d.remote.length) {
        const byDomain = new Map<string, string[]>();
        for (const r of d.remote) {
          const dom = r.slice(r.lastIndexOf('@') + 1).toLowerCase();
          byDomain.set(dom, [...(byDomain.get(dom) ?? []), r]);
        }
        const blobId = this.putBlob(relayRaw, relayMeta, byDomain.size);
        const ins = this.ws(`INSERT INTO queue (msg_id, blob_id, mail_from, domain, rcpts, next_attempt, data, created, updated)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`);
        for (const [domain, rcpts] of byDomain) {
          const q: QueueRcpt[] = rcpts.map((address) => ({ address, status: 'pending' }));
          const row = ins.get(d.msgId, blobId, d.mailFrom, domain, JSON.stringify(q), now, JSON.stringify(d.queueData ?? {}), now, now) as Row;
          result.queued.push({ id: row.id as number, domain, rcpts });
        }
      }
      const journey: JourneyEvent[] = d.journey.map((e) => ({ ...e, messageId: e.messageId ?? meta.messageId }));
      for (const s of result.stored) {
        journey.push({ msgId: d.msgId, messageId: meta.messageId, agent: 'MDA', step: 'stored', details: { user: s.address, mailbox: s.mailbox, uid: s.uid } });
      }
      for (const q of result.queued) {
        journey.push({ msgId: d.msgId, messageId: meta.messageId, agent: 'MTA out', step: 'queued', details: { queueId: q.id, domain: q.domain, rcpts: q.rcpts } });
      }
      this.insertJourney(journey);
      if (d.submission) this.recordSubmission(d.submission.userId, now, d.submission.recipients, d.msgId);
      return result;
    }).then((result) => {
      if (result.queued.length) this.events.emit('queued');
      return result;
    });
  }

  // ------------------------------------------------------------------ submission limits
  /** inside deliver's transaction: count the message for its user, and drop that user's rows older than a day */
  private recordSubmission(userId: number, time: number, recipients: number, msgId: string): void {
    this.ws('INSERT INTO submissions (user_id, time, recipients, msg_id) VALUES (?, ?, ?, ?)').run(userId, time, recipients, msgId);
    this.ws('DELETE FROM submissions WHERE user_id = ? AND time < ?').run(userId, time - 86_400_000);
  }

  submissions = {
    count: async (userId: number, since: number): Promise<{ messages: number; recipients: number }> => {
      const r = this.rs('SELECT count(*) AS messages, coalesce(sum(recipients), 0) AS recipients FROM submissions WHERE user_id = ? AND time >= ?').get(userId, since) as Row;
      return { messages: r.messages as number, recipients: r.recipients as number };
    },
    recent: async (userId: number, since: number, limit: number): Promise<SubmissionRecord[]> =>
      (this.rs('SELECT time, recipients, msg_id FROM submissions WHERE user_id = ? AND time >= ? ORDER BY time DESC LIMIT ?').all(userId, since, limit) as Row[])
        .map((r) => ({ time: r.time as number, recipients: r.recipients as number, msgId: r.msg_id as string })),
    reset: (userId: number): Promise<number> =>
      this.write(() => this.ws('DELETE FROM submissions WHERE user_id = ?').run(userId).changes),
  };

  // ------------------------------------------------------------------ queue
  private queueRow(r: Row): QueueEntry {
    return {
      id: r.id as number, msgId: r.msg_id as string, blobId: r.blob_id as number, mailFrom: r.mail_from as string, domain: r.domain as string,
      rcpts: JSON.parse(r.rcpts as string) as QueueRcpt[], attempts: r.attempts as number, nextAttempt: r.next_attempt as number,
      lastReply: (r.last_reply as string) ?? null, status: r.status as QueueEntry['status'], data: JSON.parse(r.data as string) as Record<string, unknown>,
      created: r.created as number, updated: r.updated as number, size: (r.size as number) ?? 0,
    };
  }

  queue = {
    list: async (): Promise<QueueEntry[]> =>
      (this.rs(`SELECT q.*, b.size FROM queue q JOIN blobs b ON b.id = q.blob_id WHERE q.status = 'queued' ORDER BY q.id`).all() as Row[]).map((r) => this.queueRow(r)),
    get: async (id: number): Promise<QueueEntry | null> => {
      const r = this.rs('SELECT q.*, b.size FROM queue q JOIN blobs b ON b.id = q.blob_id WHERE q.id = ?').get(id) as Row | undefined;
      return r ? this.queueRow(r) : null;
    },
    del: (id: number): Promise<boolean> =>
      this.write(() => {
        const r = this.ws('DELETE FROM queue WHERE id = ? RETURNING blob_id').get(id) as Row | undefined;
        if (!r) return false;
        this.releaseBlob(r.blob_id as number);
        return true;
      }),
    due: async (now: number, limit: number): Promise<QueueEntry[]> =>
      (this.rs(`SELECT q.*, b.size FROM queue q JOIN blobs b ON b.id = q.blob_id WHERE q.status = 'queued' AND q.next_attempt <= ? ORDER BY q.next_attempt, q.id LIMIT ?`)
        .all(now, limit) as Row[]).map((r) => this.queueRow(r)),
    flush: async (id?: number): Promise<number> => {
      const n = await this.write(() => (id === undefined
        ? this.ws(`UPDATE queue SET next_attempt = ? WHERE status = 'queued'`).run(this.now())
        : this.ws(`UPDATE queue SET next_attempt = ? WHERE status = 'queued' AND id = ?`).run(this.now(), id)).changes);
      if (n) this.events.emit('queued');
      return n;
    },
    update: (id: number, patch: Partial<Pick<QueueEntry, 'rcpts' | 'attempts' | 'nextAttempt' | 'lastReply' | 'status' | 'data'>>, journey?: JourneyEvent[]) =>
      this.write(() => {
        const cur = this.ws('SELECT * FROM queue WHERE id = ?').get(id) as Row | undefined;
        if (!cur) throw new StoreError('notfound', `no queue entry ${id}`);
        this.ws(`UPDATE queue SET rcpts = ?, attempts = ?, next_attempt = ?, last_reply = ?, status = ?, data = ?, updated = ? WHERE id = ?`).run(
          patch.rcpts ? JSON.stringify(patch.rcpts) : cur.rcpts, patch.attempts ?? cur.attempts, patch.nextAttempt ?? cur.next_attempt,
          patch.lastReply !== undefined ? patch.lastReply : cur.last_reply, patch.status ?? cur.status,
          patch.data ? JSON.stringify(patch.data) : cur.data, this.now(), id);
        if (patch.status && patch.status !== 'queued') {
          // a finished entry leaves the queue and lets go of the bytes; the journey keeps its history
          this.ws('DELETE FROM queue WHERE id = ?').run(id);
          this.releaseBlob(cur.blob_id as number);
        }
        if (journey) this.insertJourney(journey);
      }),
    reschedule: (id: number, patch: QueueReschedule, journey?: JourneyEvent[]): Promise<void> =>
      this.write(() => {
        const cur = this.ws(`SELECT * FROM queue WHERE id = ? AND status = 'queued'`).get(id) as Row | undefined;
        if (!cur) throw new StoreError('notfound', `no queue entry ${id}`);
        if (patch.rcpts && !patch.rcpts.some((r) => r.status === 'pending')) throw new StoreError('invalid', `queue entry ${id}: no recipient left pending (finish it)`);
        this.ws(`UPDATE queue SET rcpts = ?, attempts = ?, next_attempt = ?, last_reply = ?, data = ?, updated = ? WHERE id = ?`).run(
          patch.rcpts ? JSON.stringify(patch.rcpts) : cur.rcpts, patch.attempts ?? cur.attempts, patch.nextAttempt ?? cur.next_attempt,
          patch.lastReply !== undefined ? patch.lastReply : cur.last_reply, patch.data ? JSON.stringify(patch.data) : cur.data, this.now(), id);
        if (journey) this.insertJourney(journey);
      }),
    finish: (id: number, outcome: QueueOutcome, journey?: JourneyEvent[]): Promise<QueueEntry> =>
      this.write(() => {
        const cur = this.ws(`SELECT q.*, b.size FROM queue q JOIN blobs b ON b.id = q.blob_id WHERE q.id = ? AND q.status = 'queued'`).get(id) as Row | undefined;
        if (!cur) throw new StoreError('notfound', `no queue entry ${id}`);
        if (outcome.rcpts.some((r) => r.status === 'pending')) throw new StoreError('invalid', `queue entry ${id}: a recipient is still pending (reschedule it)`);
        const status = outcome.rcpts.some((r) => r.status === 'delivered') ? 'delivered' as const : 'bounced' as const;
        const ended: QueueEntry = { ...this.queueRow(cur), rcpts: outcome.rcpts, attempts: outcome.attempts, lastReply: outcome.lastReply, status, updated: this.now() };
        if (outcome.data) ended.data = outcome.data;
        // a finished entry leaves the queue and lets go of the bytes; the journey keeps its history
        this.ws('DELETE FROM queue WHERE id = ?').run(id);
        this.releaseBlob(cur.blob_id as number);
        if (journey) this.insertJourney(journey);
        return ended;
      }),
  };

  // ------------------------------------------------------------------ journey
  journey = {
    record: (events: JourneyEvent[]): Promise<void> => this.write(() => this.insertJourney(events)),
    accessed: (session: AccessSession, step: 'fetched' | 'retrieved', messages: AccessStep[]): Promise<void> =>
      this.write(() => {
        const s = this.ws(`INSERT INTO access_sessions (sid, user, protocol, client, started) VALUES (?, ?, ?, ?, ?)
          ON CONFLICT (sid) DO UPDATE SET client = excluded.client RETURNING id`).get(session.sid, session.user, session.protocol, session.client, this.now()) as Row;
        const st = this.ws('INSERT OR IGNORE INTO journey_access (msg_id, session_id, step, time, mailbox, uid) VALUES (?, ?, ?, ?, ?, ?)');
        const now = this.now();
        for (const m of messages) st.run(m.msgId, s.id, step, m.time ?? now, m.mailbox, m.uid);
      }),
    trace: async (id: string): Promise<JourneyRow[]> => {
      const bare = id.trim().replace(/^<|>$/g, '');
      const ids = new Set<string>();
      ids.add(bare);
      for (const r of this.rs('SELECT DISTINCT msg_id FROM journey WHERE message_id IN (?, ?)').all(bare, `<${bare}>`) as Row[]) ids.add(r.msg_id as string);
      const rows: JourneyRow[] = [];
      const st = this.rs('SELECT * FROM journey WHERE msg_id = ? ORDER BY time, id');
      const acc = this.rs(`SELECT a.msg_id, a.step, a.time, a.mailbox, a.uid, s.sid, s.user, s.protocol, s.client
        FROM journey_access a JOIN access_sessions s ON s.id = a.session_id WHERE a.msg_id = ?`);
      for (const m of ids) {
        for (const r of st.all(m) as Row[]) {
          rows.push({ id: r.id as number, msgId: r.msg_id as string, messageId: (r.message_id as string) ?? null, time: r.time as number,
            agent: r.agent as JourneyRow['agent'], step: r.step as string, details: JSON.parse(r.details as string) as Record<string, unknown> });
        }
        for (const r of acc.all(m) as Row[]) {
          const pop = (r.protocol as string).startsWith('pop3');
          const details: Record<string, unknown> = pop
            ? { user: r.user, proto: 'pop3', session: r.sid, client: r.client, uid: r.uid }
            : { user: r.user, session: r.sid, client: r.client, mailbox: r.mailbox, uid: r.uid };
          // id 0: a step kept in journey_access (sorted after the journey rows of its millisecond)
          rows.push({ id: 0, msgId: r.msg_id as string, messageId: null, time: r.time as number, agent: 'MUA access', step: r.step as string, details });
        }
      }
      const order = (r: JourneyRow) => r.id || Number.MAX_SAFE_INTEGER;
      return rows.sort((a, b) => a.time - b.time || order(a) - order(b));
    },
    // The list follows the journey table (rows with ids, so a live view can ask for what came
    // after the last id it saw); `steps` also counts the compact access steps, as trace shows them.
    recent: async (opts: { limit: number; afterId?: number; beforeTime?: number }): Promise<JourneySummary[]> => {
      const limit = Math.max(1, Math.min(Math.floor(opts.limit) || 1, 1000));
      const before = opts.beforeTime ?? Number.MAX_SAFE_INTEGER;
      const rows = this.rs('SELECT msg_id FROM journey WHERE time < ? AND id > ? ORDER BY time DESC, id DESC').iterate(before, opts.afterId ?? 0) as IterableIterator<Row>;
      const agg = this.rs('SELECT MIN(time) AS first, MAX(time) AS last, MAX(id) AS last_id, COUNT(*) AS steps, MAX(message_id) AS message_id FROM journey WHERE msg_id = ?');
      const lastSt = this.rs('SELECT agent, step FROM journey WHERE msg_id = ? ORDER BY time DESC, id DESC LIMIT 1');
      const accessSt = this.rs('SELECT COUNT(*) AS n FROM journey_access WHERE msg_id = ?');
      const subjectSt = this.rs('SELECT subject FROM blobs WHERE message_id = ? LIMIT 1');
      const seen = new Set<string>();
      const out: JourneySummary[] = [];
      for (const r of rows) {
        const msgId = r.msg_id as string;
        if (seen.has(msgId)) continue;
        seen.add(msgId);
        const a = agg.get(msgId) as Row;
        // a step at or after beforeTime: the message was on a newer page already
        if ((a.last as number) >= before) continue;
        const last = lastSt.get(msgId) as Row;
        const messageId = (a.message_id as string) ?? null;
        const subject = messageId ? ((subjectSt.get(messageId) as Row | undefined)?.subject as string | undefined) ?? null : null;
        out.push({
          msgId, messageId, subject, first: a.first as number, last: a.last as number, lastAgent: last.agent as string, lastStep: last.step as string,
          lastId: a.last_id as number, steps: (a.steps as number) + ((accessSt.get(msgId) as Row).n as number),
        });
        if (out.length >= limit) break;
      }
      return out;
    },
    lastId: async (): Promise<number> => ((this.rs('SELECT MAX(id) AS id FROM journey').get() as Row).id as number | null) ?? 0,
  };

  // ------------------------------------------------------------------ transcripts
  private transcriptRow(r: Row): TranscriptSummary & { truncated: boolean; id: number } {
    return {
      id: r.id as number, sid: r.sid as string, protocol: r.protocol as string, local: (r.local as string) ?? null, remote: (r.remote as string) ?? null,
      user: (r.user as string) ?? null, tls: (r.tls as string) ?? null, started: r.started as number, ended: (r.ended as number) ?? null,
      msgIds: JSON.parse(r.msg_ids as string) as string[], lines: r.lines as number, bytes: r.bytes as number, truncated: !!r.truncated,
    };
  }

  /** Inside a write: upsert the session's row, link its new msgIds, append what fits of `lines` as one batch. */
  private writeTranscriptTx(s: TranscriptSession, lines: TranscriptLine[]): void {
    const row = this.ws(`INSERT INTO transcripts (sid, protocol, local, remote, user, tls, started, ended) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (sid) DO UPDATE SET protocol = excluded.protocol, local = COALESCE(excluded.local, local), remote = COALESCE(excluded.remote, remote),
        user = COALESCE(excluded.user, user), tls = COALESCE(excluded.tls, tls), ended = COALESCE(excluded.ended, ended)
      RETURNING id, msg_ids, lines, bytes, truncated`).get(
      String(s.sid), String(s.protocol), s.local ?? null, s.remote ?? null, s.user ?? null, s.tls ?? null, s.started ?? this.now(), s.ended ?? null) as Row;
    const id = row.id as number;
    let msgIds: string[] | null = null;
    if (s.msgIds?.length) {
      const have = JSON.parse(row.msg_ids as string) as string[];
      const known = new Set(have);
      const link = this.ws('INSERT OR IGNORE INTO transcript_msgs (msg_id, transcript_id) VALUES (?, ?)');
      for (const m of s.msgIds) {
        if (have.length >= TRANSCRIPT_MAX_MSGIDS) break;
        if (typeof m !== 'string' || known.has(m)) continue;
        known.add(m);
        have.push(m);
        link.run(m, id);
      }
      msgIds = have;
    }
    let n = row.lines as number;
    let bytes = row.bytes as number;
    let truncated = !!row.truncated;
    const kept: [number, string, string][] = [];
    for (const l of lines) {
      const text = String(l.text ?? '');
      const size = Buffer.byteLength(text) + 8; // the time and direction
      if (truncated || n >= TRANSCRIPT_MAX_LINES || bytes + size > TRANSCRIPT_MAX_BYTES) { truncated = true; continue; }
      kept.push([Number(l.t) || this.now(), String(l.dir), text]);
      n++;
      bytes += size;
    }
    if (kept.length) this.ws('INSERT INTO transcript_lines (transcript_id, lines) VALUES (?, ?)').run(id, JSON.stringify(kept));
    this.ws('UPDATE transcripts SET lines = ?, bytes = ?, truncated = ?, msg_ids = COALESCE(?, msg_ids) WHERE id = ?')
      .run(n, bytes, truncated ? 1 : 0, msgIds && JSON.stringify(msgIds), id);
  }

  transcripts = {
    write: (session: TranscriptSession, lines: TranscriptLine[]): Promise<void> => this.write(() => this.writeTranscriptTx(session, lines)),
    get: async (sid: string): Promise<Transcript | null> => {
      const r = this.rs('SELECT * FROM transcripts WHERE sid = ?').get(sid) as Row | undefined;
      if (!r) return null;
      const { id: _id, lines: _n, bytes: _b, ...session } = this.transcriptRow(r);
      const lines: TranscriptLine[] = [];
      for (const b of this.rs('SELECT lines FROM transcript_lines WHERE transcript_id = ? ORDER BY id').all(r.id) as Row[]) {
        for (const [t, dir, text] of JSON.parse(b.lines as string) as [number, TranscriptLine['dir'], string][]) lines.push({ t, dir, text });
      }
      return { ...session, lines };
    },
    list: async (opts: { limit: number; msgId?: string; beforeStarted?: number }): Promise<TranscriptSummary[]> => {
      const limit = Math.max(1, Math.min(Math.floor(opts.limit) || 1, 1000));
      const before = opts.beforeStarted ?? Number.MAX_SAFE_INTEGER;
      const rows = (opts.msgId !== undefined
        ? this.rs(`SELECT t.* FROM transcript_msgs m JOIN transcripts t ON t.id = m.transcript_id WHERE m.msg_id = ? AND t.started < ?
            ORDER BY t.started DESC, t.id DESC LIMIT ?`).all(opts.msgId, before, limit)
        : this.rs('SELECT * FROM transcripts WHERE started < ? ORDER BY started DESC, id DESC LIMIT ?').all(before, limit)) as Row[];
      return rows.map((r) => {
        const { id: _id, truncated: _t, ...summary } = this.transcriptRow(r);
        return summary;
      });
    },
  };

  // ------------------------------------------------------------------ retention
  /**
   * Drops old transcripts (by start), then the oldest beyond the byte cap, then journey rows and
   * access steps older than journeyBefore. Each step deletes in chunks, one write job each, so
   * deliveries keep committing between them.
   */
  async prune(opts: { transcriptsBefore: number; transcriptMaxBytes: number; journeyBefore: number }): Promise<{ transcripts: number; journey: number }> {
    let transcripts = 0;
    let journey = 0;
    const SESSIONS = 100; // a session is at most TRANSCRIPT_MAX_BYTES: a chunk is bounded in bytes too
    for (;;) {
      const n = await this.write(() => this.ws('DELETE FROM transcripts WHERE id IN (SELECT id FROM transcripts WHERE started < ? ORDER BY started LIMIT ?)')
        .run(opts.transcriptsBefore, SESSIONS).changes);
      transcripts += n;
      if (n < SESSIONS) break;
    }
    const over = await this.write(() => {
      let total = 0;
      const ids: number[] = [];
      for (const r of this.ws('SELECT id, bytes FROM transcripts ORDER BY started DESC, id DESC').iterate() as IterableIterator<Row>) {
        total += r.bytes as number;
        if (total > opts.transcriptMaxBytes) ids.push(r.id as number);
      }
      return ids;
    });
    for (let i = 0; i < over.length; i += SESSIONS) {
      const chunk = over.slice(i, i + SESSIONS);
      transcripts += await this.write(() => {
        const del = this.ws('DELETE FROM transcripts WHERE id = ?');
        let n = 0;
        for (const id of chunk) n += del.run(id).changes;
        return n;
      });
    }
    for (;;) {
      const n = await this.write(() => this.ws('DELETE FROM journey WHERE id IN (SELECT id FROM journey WHERE time < ? LIMIT ?)')
        .run(opts.journeyBefore, PRUNE_CHUNK).changes);
      journey += n;
      if (n < PRUNE_CHUNK) break;
    }
    // journey_access is the big table and has no index on time: walk it once in key order, a
    // chunk per job, and note the sessions that still have steps
    const live = new Set<number>();
    let cursor: [string, number, string] | null = null;
    for (;;) {
      const res: { n: number; last: [string, number, string] | null } = await this.write(() => {
        const rows = (cursor
          ? this.ws(`SELECT msg_id, session_id, step, time FROM journey_access WHERE (msg_id, session_id, step) > (?, ?, ?)
              ORDER BY msg_id, session_id, step LIMIT ?`).all(...cursor, PRUNE_CHUNK)
          : this.ws('SELECT msg_id, session_id, step, time FROM journey_access ORDER BY msg_id, session_id, step LIMIT ?').all(PRUNE_CHUNK)) as Row[];
        const del = this.ws('DELETE FROM journey_access WHERE msg_id = ? AND session_id = ? AND step = ?');
        let n = 0;
        for (const r of rows) {
          if ((r.time as number) < opts.journeyBefore) n += del.run(r.msg_id, r.session_id, r.step).changes;
          else live.add(r.session_id as number);
        }
        const l = rows[rows.length - 1];
        return { n, last: rows.length < PRUNE_CHUNK || !l ? null : [l.msg_id as string, l.session_id as number, l.step as string] };
      });
      journey += res.n;
      if (!res.last) break;
      cursor = res.last;
    }
    // sessions that began before the cutoff and have no step left. (A session older than the
    // retention that fetched again behind the walk would lose its name in trace: not worth an index.)
    await this.write(() => {
      const del = this.ws('DELETE FROM access_sessions WHERE id = ?');
      for (const r of this.ws('SELECT id FROM access_sessions WHERE started < ?').all(opts.journeyBefore) as Row[]) {
        if (!live.has(r.id as number)) del.run(r.id);
      }
    });
    return { transcripts, journey };
  }
}
