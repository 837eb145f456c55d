// MDA: the mailbox store on PostgreSQL (the `pg` pool), for several postoffice nodes on one
// database. The same Store as the SQLite one, with the same guarantees: every write is one
// transaction that resolves after COMMIT (synchronous_commit on); message bytes are stored once,
// content-addressed; UIDs and MODSEQs are taken from the mailbox row under its row lock (UPDATE
// ... RETURNING), so two nodes delivering to one mailbox at once never share or reorder a UID.
// Rows are locked mailboxes first (ascending id), then blobs, so concurrent writers rarely
// deadlock; when they do, PostgreSQL aborts one and db.ts runs it again.
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../config/config.js';
import { normalizeDomain, parseAddress } from '../../mail/address.js';
import { toCrlf } from '../../mail/dot-stuffing.js';
import { InternalError } from '../../mail/errors.js';
import type { MimeLimits } from '../../mail/mime.js';
import { analyze } from '../analyze.js';
import { DEFAULT_MAILBOXES, TRANSCRIPT_MAX_BYTES, TRANSCRIPT_MAX_LINES, TRANSCRIPT_MAX_MSGIDS } from '../defaults.js';
import { StoreError } from '../errors.js';
import type {
  AccessSession, AccessStep, AliasRecord, BlobMeta, Delivery, DeliveryResult, DomainRecord, FlagChange, FlagOp, ImportItem, ImportOutcome, JourneyEvent, JourneyRow,
  JourneySummary, MailboxChange, MailboxRecord, MailboxStatus, MessageRecord, QueueEntry, QueueOutcome, QueueRcpt, QueueReschedule, Resolution, Store, StoreEvents,
  SubmissionRecord, Transcript, TranscriptLine, TranscriptSession, TranscriptSummary, UserRecord,
} from '../types.js';
import { PgDb, txt, type PgTx, type Row } from './db.js';
import * as leases from './queue-lease.js';
import * as crossNode from './locks.js';

export const PG_MIGRATIONS_DIR = path.join(PACKAGE_ROOT, 'src', 'store', 'postgres', 'migrations');

/** parsed MIME structures kept in memory (a few KiB each) */
const META_CACHE_ENTRIES = 20_000;
/** message records kept in memory, all cached mailboxes together (about 200 bytes each) */
const LIST_CACHE_ROWS = 500_000;
/** decoded texts kept for SEARCH (BlobMeta.searchText is read synchronously) */
const TEXT_CACHE_BYTES = 16 * 1024 * 1024;
const PRUNE_CHUNK = 5000;
const DEFAULT_BODY_CACHE_BYTES = 32 * 1024 * 1024;

/** deliveries committed together at most, and batches committing at once (each on its own connection) */
const DELIVERY_BATCH_MAX = 32;
const DELIVERY_BATCH_RUNNERS = 4;

type Outcome = { ok: true; value: DeliveryResult } | { ok: false; err: unknown };
/** a job of a batch run without savepoints failed: the batch runs again, with them */
class OneFailed extends Error {
  readonly passThrough = true; // db.tx hands it back as it is
  constructor(readonly failure: unknown) { super('a delivery of the batch failed'); }
}

/** a delivery's mailbox, found before the batch locks them all */
interface Target { address: string; id: number; name: string }
interface PendingDelivery {
  d: Delivery & { raw: Buffer };
  meta: BlobMeta;
  relayRaw: Buffer | null;
  relayMeta: BlobMeta;
  sha: string;
  resolve: (r: DeliveryResult) => void;
  reject: (e: unknown) => void;
}

export interface PgStoreOptions {
  /** postgres://user:password@host:port/database */
  url: string;
  mimeLimits?: Partial<MimeLimits>;
  /** memory for recently read message bytes, shared by every session (0: none) */
  bodyCacheBytes?: number;
  /** pooled connections (default 10) */
  poolSize?: number;
}

function hasFlag(flags: string[], f: string): boolean {
  return flags.includes(f);
}

export class PgStore implements Store {
  readonly events: StoreEvents = new EventEmitter() as StoreEvents;
  private readonly db: PgDb;
  private readonly mimeLimits: Partial<MimeLimits> | undefined;
  private readonly bodyCacheMax: number;
  /** for tests and the bench: reads of message bytes; delivery transactions, the deliveries in them, and batches run again with a savepoint per delivery */
  readonly stats = { bodyReads: 0, bodyCacheHits: 0, deliveryCommits: 0, deliveries: 0, isolatedRetries: 0 };

  private constructor(db: PgDb, opts: PgStoreOptions) {
    this.db = db;
    this.mimeLimits = opts.mimeLimits;
    this.bodyCacheMax = opts.bodyCacheBytes ?? DEFAULT_BODY_CACHE_BYTES;
    this.events.setMaxListeners(0);
  }

  static async open(opts: PgStoreOptions): Promise<PgStore> {
    let store: PgStore | null = null;
    const db = await PgDb.open({
      url: opts.url,
      poolSize: opts.poolSize,
      onChange: (c) => store?.changed(c),
      onQueued: () => store?.events.emit('queued'),
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
    if (c.kind === 'deleted') this.dropList(c.mailboxId);
    this.events.emit('change', c);
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  private now(): number {
    return Date.now();
  }

  // ------------------------------------------------------------------ rows
  private mailboxRow(r: Row): MailboxRecord {
    return {
      id: r.id as number, userId: r.user_id as number, name: r.name as string, specialUse: (r.special_use as string) ?? null,
      subscribed: !!r.subscribed, uidValidity: r.uidvalidity as number, uidNext: r.uidnext as number, highestModseq: r.highestmodseq as number,
    };
  }

  private messageRow(r: Row): MessageRecord {
    return {
      uid: r.uid as number, modseq: r.modseq as number, flags: r.flags as string[], internalDate: r.internal_date as number,
      size: r.size as number, blobId: r.blob_id as number, msgId: (r.msg_id as string) ?? null,
    };
  }

  private userRow(r: Row): UserRecord {
    return { id: r.id as number, address: r.address as string, domain: r.domain as string, created: r.created as number, admin: !!r.admin };
  }

  // ------------------------------------------------------------------ inside a write
  private async nextUidValidity(t: PgTx): Promise<number> {
    // RFC 3501 §2.3.1.1: a mailbox created anew gets a larger UIDVALIDITY than any before (on every node: one row)
    const r = await t.one(`INSERT INTO meta (key, value) VALUES ('uidvalidity', $1) ON CONFLICT (key)
      DO UPDATE SET value = GREATEST(excluded.value::bigint, meta.value::bigint + 1)::text RETURNING value`, [String(Math.floor(this.now() / 1000))]);
    return Number(r!.value);
  }

  /** Locks the mailbox rows (ascending id): UIDs and MODSEQs are taken under these locks. */
  private async lockMailboxes(t: PgTx, ids: number[]): Promise<void> {
    // NO KEY UPDATE: writers of one mailbox take turns, while foreign-key checks (rows that refer to
    // the mailbox, e.g. the \Recent watermark's) do not wait for them
    if (ids.length) await t.q('SELECT id FROM mailboxes WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE', [[...new Set(ids)]]);
  }

  private async bumpModseq(t: PgTx, mailboxId: number): Promise<number> {
    const r = await t.one('UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = $1 RETURNING highestmodseq', [mailboxId]);
    if (!r) throw new StoreError('notfound', 'no such mailbox');
    return r.highestmodseq as number;
  }

  /** Store the bytes once (content-addressed) and take `refs` references. */
  /** `likelyNew`: one upsert that sends the bytes (a delivery's bytes are new), else a reference first (an import's may be held) */
  private async putBlob(t: PgTx, raw: Buffer, meta: BlobMeta, refs: number, sha = createHash('sha256').update(raw).digest('hex'), likelyNew = false): Promise<number> {
    if (!likelyNew) {
      const found = await t.one('UPDATE blobs SET refs = refs + $2 WHERE sha256 = $1 RETURNING id', [sha, refs]);
      if (found) return found.id as number;
    }
    const r = await t.one(`INSERT INTO blobs (sha256, size, refs, raw, mime, search_text, message_id, subject, created)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (sha256) DO UPDATE SET refs = blobs.refs + excluded.refs RETURNING id`,
    [sha, raw.length, refs, raw, JSON.stringify(meta.mime), txt(meta.searchText) ?? '', txt(meta.messageId), txt(meta.subject), this.now()]);
    return r!.id as number;
  }

  /** Drop references; the last reference gone, the bytes go. (A deadlock with another writer is retried by db.ts.) */
  private async releaseBlobs(t: PgTx, blobs: Map<number, number>): Promise<void> {
    if (!blobs.size) return;
    const ids = [...blobs.keys()].sort((a, b) => a - b);
    const gone = await t.q(`UPDATE blobs b SET refs = b.refs - v.n FROM unnest($1::bigint[], $2::bigint[]) AS v(id, n)
      WHERE b.id = v.id RETURNING b.id, b.refs`, [ids, ids.map((id) => blobs.get(id))]);
    const empty = gone.filter((r) => (r.refs as number) <= 0).map((r) => r.id as number);
    if (empty.length) await t.run('DELETE FROM blobs WHERE id = ANY($1::bigint[])', [empty]);
  }

  private async addRefs(t: PgTx, blobs: Map<number, number>): Promise<void> {
    if (!blobs.size) return;
    const ids = [...blobs.keys()].sort((a, b) => a - b);
    await t.run('UPDATE blobs b SET refs = b.refs + v.n FROM unnest($1::bigint[], $2::bigint[]) AS v(id, n) WHERE b.id = v.id', [ids, ids.map((id) => blobs.get(id))]);
  }

  /**
   * Many copies into one mailbox in two statements: the UIDs and MODSEQs (one each, ascending,
   * as insertCopy would give them one by one) taken at once from the locked mailbox row.
   */
  private async insertCopies(t: PgTx, mailboxId: number, rows: { blobId: number; size: number; flags: readonly string[]; internalDate: number; msgId: string | null }[]): Promise<number[]> {
    if (!rows.length) return [];
    const n = rows.length;
    const mb = await t.one('UPDATE mailboxes SET uidnext = uidnext + $2, highestmodseq = highestmodseq + $2 WHERE id = $1 RETURNING uidnext, highestmodseq', [mailboxId, n]);
    if (!mb) throw new StoreError('notfound', 'no such mailbox');
    const firstUid = (mb.uidnext as number) - n;
    const firstModseq = (mb.highestmodseq as number) - n + 1;
    await t.run(`INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, blob_id, size, msg_id)
      SELECT $1, $2 + i - 1, $3 + i - 1, CASE WHEN f = '' THEN '{}'::text[] ELSE string_to_array(f, ' ') END, d, b, z, m
      FROM unnest($4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::text[]) WITH ORDINALITY AS x(f, d, b, z, m, i)`,
    [mailboxId, firstUid, firstModseq, rows.map((r) => [...new Set(r.flags)].join(' ')), rows.map((r) => r.internalDate), rows.map((r) => r.blobId), rows.map((r) => r.size), rows.map((r) => txt(r.msgId))]);
    const uids = rows.map((_, i) => firstUid + i);
    const last = t.changes.length > t.mergeFrom ? t.changes[t.changes.length - 1] : undefined;
    if (last && last.kind === 'exists' && last.mailboxId === mailboxId) {
      last.uids.push(...uids);
      last.modseq = firstModseq + n - 1;
    } else t.changes.push({ mailboxId, kind: 'exists', uids, modseq: firstModseq + n - 1 });
    return uids;
  }

  private async insertCopy(t: PgTx, mailboxId: number, blobId: number, size: number, flags: readonly string[], internalDate: number, msgId: string | null): Promise<number> {
    const mb = await t.one('UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1 WHERE id = $1 RETURNING uidnext, highestmodseq', [mailboxId]);
    if (!mb) throw new StoreError('notfound', 'no such mailbox');
    const uid = (mb.uidnext as number) - 1;
    const modseq = mb.highestmodseq as number;
    await t.run('INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, blob_id, size, msg_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
      [mailboxId, uid, modseq, [...new Set(flags)], internalDate, blobId, size, txt(msgId)]);
    const last = t.changes.length > t.mergeFrom ? t.changes[t.changes.length - 1] : undefined;
    if (last && last.kind === 'exists' && last.mailboxId === mailboxId) {
      last.uids.push(uid);
      last.modseq = modseq;
    } else t.changes.push({ mailboxId, kind: 'exists', uids: [uid], modseq });
    return uid;
  }

  /** one statement for every event (ids in the events' order) */
  private async insertJourney(t: PgTx, events: JourneyEvent[]): Promise<void> {
    if (!events.length) return;
    const now = this.now();
    await t.run(`INSERT INTO journey (msg_id, message_id, time, agent, step, details)
      SELECT m, mi, tm, a, st, d FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS x(m, mi, tm, a, st, d, i) ORDER BY i`,
    [events.map((e) => txt(e.msgId)), events.map((e) => txt(e.messageId ?? null)), events.map((e) => e.time ?? now), events.map((e) => e.agent),
      events.map((e) => txt(e.step)), events.map((e) => JSON.stringify(e.details ?? {}))]);
  }

  /** A new, empty mailbox; `subscribe` also puts its name on the user's subscriptions (RFC 3501 §6.3.6). */
  private async createMailboxTx(t: PgTx, userId: number, name: string, specialUse: string | null, subscribe: boolean): Promise<MailboxRecord> {
    const r = await t.one(`INSERT INTO mailboxes (user_id, name, special_use, subscribed, uidvalidity, created)
      VALUES ($1, $2, $3, true, $4, $5) ON CONFLICT DO NOTHING RETURNING *`, [userId, txt(name), specialUse, await this.nextUidValidity(t), this.now()]);
    if (!r) throw new StoreError('exists', `mailbox ${name} already exists`);
    if (subscribe) await this.setSubscribedTx(t, userId, name, true);
    return this.mailboxRow(r);
  }

  private async setSubscribedTx(t: PgTx, userId: number, name: string, on: boolean): Promise<void> {
    if (on) await t.run('INSERT INTO subscriptions (user_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING', [userId, txt(name)]);
    else await t.run('DELETE FROM subscriptions WHERE user_id = $1 AND name = $2', [userId, txt(name)]);
  }

  private async deleteMailboxTx(t: PgTx, mailboxId: number): Promise<void> {
    await this.lockMailboxes(t, [mailboxId]);
    const rows = await t.q('DELETE FROM messages WHERE mailbox_id = $1 RETURNING blob_id', [mailboxId]);
    const blobs = new Map<number, number>();
    for (const r of rows) blobs.set(r.blob_id as number, (blobs.get(r.blob_id as number) ?? 0) + 1);
    await this.releaseBlobs(t, blobs);
    await t.run('DELETE FROM mailboxes WHERE id = $1', [mailboxId]);
    t.changes.push({ mailboxId, kind: 'deleted' });
  }

  // ------------------------------------------------------------------ domains
  domains = {
    add: (name: string): Promise<boolean> => {
      const d = normalizeDomain(name);
      if (!d) return Promise.reject(new StoreError('invalid', `not a domain name: ${name}`));
      return this.db.tx(async (t) => (await t.run('INSERT INTO domains (name, created) VALUES ($1, $2) ON CONFLICT DO NOTHING', [d, this.now()])) > 0);
    },
    del: (name: string): Promise<boolean> =>
      this.db.tx(async (t) => {
        const d = name.toLowerCase();
        const users = (await t.one('SELECT COUNT(*) AS n FROM users WHERE domain = $1', [d]))!.n as number;
        if (users > 0) throw new StoreError('inuse', `domain ${d} still has ${users} user(s); delete them first`);
        await t.run('DELETE FROM aliases WHERE lower(source) = $1 OR lower(source) LIKE $2', ['@' + d, '%@' + d.replace(/[\\%_]/g, '\\$&')]);
        return (await t.run('DELETE FROM domains WHERE name = $1', [d])) > 0;
      }),
    list: async (): Promise<DomainRecord[]> =>
      (await this.db.read('SELECT d.name, d.created, (SELECT COUNT(*) FROM users u WHERE u.domain = d.name) AS users FROM domains d ORDER BY d.name'))
        .map((r) => ({ name: r.name as string, created: r.created as number, users: r.users as number })),
    isLocal: async (name: string): Promise<boolean> => !!(await this.db.readOne('SELECT 1 FROM domains WHERE name = $1', [name.toLowerCase()])),
  };

  // ------------------------------------------------------------------ users
  users = {
    add: (address: string, passwordHash: string): Promise<UserRecord> => {
      const a = parseAddress(address);
      if (!a) return Promise.reject(new StoreError('invalid', `not an address: ${address}`));
      return this.db.tx(async (t) => {
        if (!(await t.one('SELECT 1 FROM domains WHERE name = $1', [a.domain]))) {
          throw new StoreError('invalid', `${a.domain} is not a local domain (add it first: postoffice domain add ${a.domain})`);
        }
        const r = await t.one('INSERT INTO users (address, domain, password_hash, created) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING *',
          [txt(a.key), a.domain, passwordHash, this.now()]);
        if (!r) throw new StoreError('exists', `user ${a.key} already exists`);
        for (const [name, use] of DEFAULT_MAILBOXES) await this.createMailboxTx(t, r.id as number, name, use, true);
        return this.userRow(r);
      });
    },
    del: (address: string): Promise<boolean> =>
      this.db.tx(async (t) => {
        const u = await t.one('SELECT id, address FROM users WHERE lower(address) = lower($1)', [address.trim()]);
        if (!u) return false;
        const boxes = await t.q('SELECT id FROM mailboxes WHERE user_id = $1 ORDER BY id', [u.id]);
        for (const b of boxes) await this.deleteMailboxTx(t, b.id as number);
        await t.run('DELETE FROM aliases WHERE lower(target) = lower($1)', [u.address]);
        await t.run('DELETE FROM users WHERE id = $1', [u.id]);
        return true;
      }),
    list: async (domain?: string): Promise<UserRecord[]> =>
      (domain
        ? await this.db.read('SELECT * FROM users WHERE domain = $1 ORDER BY address', [domain.toLowerCase()])
        : await this.db.read('SELECT * FROM users ORDER BY address')).map((r) => this.userRow(r)),
    get: async (address: string): Promise<UserRecord | null> => {
      const r = await this.db.readOne('SELECT * FROM users WHERE lower(address) = lower($1)', [txt(address.trim())]);
      return r ? this.userRow(r) : null;
    },
    getById: async (id: number): Promise<UserRecord | null> => {
      const r = await this.db.readOne('SELECT * FROM users WHERE id = $1', [id]);
      return r ? this.userRow(r) : null;
    },
    passwordHash: async (address: string) => {
      const r = await this.db.readOne('SELECT * FROM users WHERE lower(address) = lower($1)', [txt(address.trim())]);
      return r ? { user: this.userRow(r), hash: r.password_hash as string } : null;
    },
    setPassword: (address: string, passwordHash: string): Promise<boolean> =>
      this.db.tx(async (t) => (await t.run('UPDATE users SET password_hash = $1 WHERE lower(address) = lower($2)', [passwordHash, txt(address.trim())])) > 0),
    setAdmin: (address: string, on: boolean): Promise<boolean> =>
      this.db.tx(async (t) => (await t.run('UPDATE users SET admin = $1 WHERE lower(address) = lower($2)', [on, txt(address.trim())])) > 0),
    resolve: (address: string): Promise<Resolution> => this.resolve(address),
    sendAs: async (userId: number): Promise<string[]> => {
      const u = await this.db.readOne('SELECT address FROM users WHERE id = $1', [userId]);
      if (!u) return [];
      const own = u.address as string;
      const aliases = (await this.db.read(`SELECT source FROM aliases WHERE lower(target) = lower($1) AND source NOT LIKE '@%' ORDER BY id`, [own])).map((r) => r.source as string);
      return [own, ...aliases];
    },
    usage: async (userId: number) => {
      const r = (await this.db.readOne(`SELECT COALESCE(SUM(m.size), 0) AS bytes, COUNT(*) AS n FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.user_id = $1`, [userId]))!;
      return { bytes: r.bytes as number, messages: r.n as number };
    },
  };

  /** RFC 5321 §3.6: a local-part may be an alias; expand to users (depth-bounded), else catch-all. */
  private async resolve(address: string): Promise<Resolution> {
    const a = parseAddress(address);
    if (!a) return { kind: 'unknown' };
    const isDomain = async (d: string) => !!(await this.db.readOne('SELECT 1 FROM domains WHERE name = $1', [d]));
    if (!(await isDomain(a.domain))) return { kind: 'remote' };
    const users = new Map<number, string>();
    const remote = new Set<string>();
    const seen = new Set<string>();
    const aliasTargets = async (key: string) => (await this.db.read('SELECT target FROM aliases WHERE lower(source) = lower($1) ORDER BY id', [txt(key)])).map((r) => r.target as string);
    const expand = async (key: string, depth: number, allowCatchAll: boolean): Promise<boolean> => {
      if (depth > 8 || seen.has(key)) return false;
      seen.add(key);
      const u = await this.db.readOne('SELECT id, address FROM users WHERE lower(address) = lower($1)', [txt(key)]);
      if (u) { users.set(u.id as number, u.address as string); return true; }
      let targets = await aliasTargets(key);
      if (targets.length === 0) {
        // sub-addressing: alice+news@ -> alice@
        const plus = key.indexOf('+');
        if (plus > 0 && plus < key.indexOf('@')) return expand(key.slice(0, plus) + key.slice(key.indexOf('@')), depth + 1, allowCatchAll);
        if (allowCatchAll) targets = await aliasTargets(key.slice(key.indexOf('@')));
      }
      if (targets.length === 0) return false;
      let any = false;
      for (const tg of targets) {
        const ta = parseAddress(tg);
        if (!ta) continue;
        if (await isDomain(ta.domain)) any = (await expand(ta.key, depth + 1, false)) || any;
        else { remote.add(ta.key); any = true; }
      }
      return any;
    };
    if (!(await expand(a.key, 0, true)) || (users.size === 0 && remote.size === 0)) return { kind: 'unknown' };
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
      return this.db.tx(async (t) => {
        if (!(await t.one('SELECT 1 FROM domains WHERE name = $1', [srcDomain]))) throw new StoreError('invalid', `${srcDomain} is not a local domain`);
        if (!catchAll && (await t.one('SELECT 1 FROM users WHERE lower(address) = $1', [src]))) throw new StoreError('exists', `${src} is a user, not an alias`);
        return (await t.run('INSERT INTO aliases (source, target, created) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [txt(src), txt(tgt.key), this.now()])) > 0;
      });
    },
    del: (source: string, target?: string): Promise<number> =>
      this.db.tx((t) => (target
        ? t.run('DELETE FROM aliases WHERE lower(source) = lower($1) AND lower(target) = lower($2)', [txt(source.trim()), txt(target.trim())])
        : t.run('DELETE FROM aliases WHERE lower(source) = lower($1)', [txt(source.trim())]))),
    list: async (): Promise<AliasRecord[]> =>
      (await this.db.read('SELECT source, target, created FROM aliases ORDER BY source, target'))
        .map((r) => ({ source: r.source as string, target: r.target as string, created: r.created as number })),
  };

  // ------------------------------------------------------------------ mailboxes
  mailboxes = {
    list: async (userId: number): Promise<MailboxRecord[]> =>
      (await this.db.read('SELECT * FROM mailboxes WHERE user_id = $1 ORDER BY name COLLATE "C"', [userId])).map((r) => this.mailboxRow(r)),
    get: async (userId: number, name: string): Promise<MailboxRecord | null> => {
      const n = name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
      const r = await this.db.readOne('SELECT * FROM mailboxes WHERE user_id = $1 AND name = $2', [userId, txt(n)]);
      return r ? this.mailboxRow(r) : null;
    },
    getById: async (id: number): Promise<MailboxRecord | null> => {
      const r = await this.db.readOne('SELECT * FROM mailboxes WHERE id = $1', [id]);
      return r ? this.mailboxRow(r) : null;
    },
    status: async (mailboxId: number): Promise<MailboxStatus | null> => {
      // one statement: the counts and the mailbox row come from one snapshot
      const r = await this.db.readOne(`SELECT b.*, s.n, s.size, s.unseen, s.deleted, s.recent FROM mailboxes b,
        LATERAL (SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS size,
          COUNT(*) FILTER (WHERE NOT ('\\Seen' = ANY(flags))) AS unseen,
          COUNT(*) FILTER (WHERE '\\Deleted' = ANY(flags)) AS deleted,
          COUNT(*) FILTER (WHERE uid > COALESCE((SELECT recent_uid FROM mailbox_recent WHERE mailbox_id = b.id), b.recent_uid)) AS recent
          FROM messages WHERE mailbox_id = b.id) s WHERE b.id = $1`, [mailboxId]);
      if (!r) return null;
      return { ...this.mailboxRow(r), messages: r.n as number, size: r.size as number, unseen: r.unseen as number, deleted: r.deleted as number, recent: r.recent as number };
    },
    create: (userId: number, name: string, specialUse: string | null = null): Promise<MailboxRecord> =>
      this.db.tx((t) => this.createMailboxTx(t, userId, name, specialUse, false)),
    delete: (mailboxId: number): Promise<void> => this.db.tx((t) => this.deleteMailboxTx(t, mailboxId)),
    rename: (userId: number, from: string, to: string): Promise<void> =>
      this.db.tx(async (t) => {
        const src = await t.one('SELECT * FROM mailboxes WHERE user_id = $1 AND name = $2 FOR UPDATE', [userId, txt(from)]);
        if (!src) throw new StoreError('notfound', `no mailbox ${from}`);
        if (await t.one('SELECT 1 FROM mailboxes WHERE user_id = $1 AND name = $2', [userId, txt(to)])) throw new StoreError('exists', `mailbox ${to} already exists`);
        if (from === 'INBOX') {
          // RFC 3501 §6.3.5: renaming INBOX moves its messages to the new name; INBOX stays, empty.
          const dst = await this.createMailboxTx(t, userId, to, null, false);
          const rows = await t.q('SELECT * FROM messages WHERE mailbox_id = $1 ORDER BY uid', [src.id]);
          const refs = new Map<number, number>();
          for (const m of rows) refs.set(m.blob_id as number, (refs.get(m.blob_id as number) ?? 0) + 1);
          await this.addRefs(t, refs); // the copies' references; the expunge below drops the old ones
          await this.insertCopies(t, dst.id, rows.map((m) => ({ blobId: m.blob_id as number, size: m.size as number, flags: m.flags as string[], internalDate: m.internal_date as number, msgId: (m.msg_id as string) ?? null })));
          if (rows.length) await this.expungeTx(t, src.id as number, rows.map((m) => m.uid as number), undefined, false);
          return;
        }
        const kids = await t.q('SELECT id, name FROM mailboxes WHERE user_id = $1 AND left(name, $2) = $3', [userId, from.length + 1, txt(from + '/')]);
        for (const k of kids) {
          const newName = to + (k.name as string).slice(from.length);
          if (await t.one('SELECT 1 FROM mailboxes WHERE user_id = $1 AND name = $2', [userId, txt(newName)])) throw new StoreError('exists', `mailbox ${newName} already exists`);
        }
        await t.run('UPDATE mailboxes SET name = $1 WHERE id = $2', [txt(to), src.id]);
        for (const k of kids) await t.run('UPDATE mailboxes SET name = $1 WHERE id = $2', [txt(to + (k.name as string).slice(from.length)), k.id]);
      }),
    /** by mailbox (the older call): the mailbox's flag and its name's subscription */
    subscribe: (mailboxId: number, on: boolean): Promise<void> =>
      this.db.tx(async (t) => {
        const mb = await t.one('UPDATE mailboxes SET subscribed = $1 WHERE id = $2 RETURNING user_id, name', [on, mailboxId]);
        if (mb) await this.setSubscribedTx(t, mb.user_id as number, mb.name as string, on);
      }),
    subscriptions: async (userId: number): Promise<string[]> =>
      (await this.db.read('SELECT name FROM subscriptions WHERE user_id = $1 ORDER BY name COLLATE "C"', [userId])).map((r) => r.name as string),
    setSubscribed: (userId: number, name: string, on: boolean): Promise<void> => this.db.tx((t) => this.setSubscribedTx(t, userId, name, on)),
    claimRecent: (mailboxId: number): Promise<number[]> =>
      this.db.tx(async (t) => {
        // the watermark's own row (migration 030): never waits behind deliveries, which hold the mailbox row
        const mb = await t.one('SELECT recent_uid, uidnext FROM mailboxes WHERE id = $1', [mailboxId]);
        if (!mb) return [];
        await t.run('INSERT INTO mailbox_recent (mailbox_id, recent_uid) VALUES ($1, $2) ON CONFLICT DO NOTHING', [mailboxId, mb.recent_uid]);
        const rec = await t.one('SELECT recent_uid FROM mailbox_recent WHERE mailbox_id = $1 FOR UPDATE', [mailboxId]);
        // committed UIDs only: a delivery still in flight has not raised uidnext for this snapshot
        const top = ((await t.one('SELECT uidnext FROM mailboxes WHERE id = $1', [mailboxId]))?.uidnext as number ?? 1) - 1;
        const uids = (await t.q('SELECT uid FROM messages WHERE mailbox_id = $1 AND uid > $2 AND uid <= $3 ORDER BY uid', [mailboxId, rec!.recent_uid, top])).map((r) => r.uid as number);
        if (top > (rec!.recent_uid as number)) await t.run('UPDATE mailbox_recent SET recent_uid = $1 WHERE mailbox_id = $2', [top, mailboxId]);
        return uids;
      }),
  };

  // ------------------------------------------------------------------ messages
  /** Removes `uids` (or every \Deleted message); with `onlyDeleted`, only those of them flagged \Deleted. */
  private async expungeTx(t: PgTx, mailboxId: number, uids: number[] | undefined, origin: unknown, onlyDeleted: boolean): Promise<number[]> {
    await this.lockMailboxes(t, [mailboxId]);
    const rows = uids
      ? await t.q(`SELECT uid, blob_id FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[])${onlyDeleted ? ` AND '\\Deleted' = ANY(flags)` : ''} ORDER BY uid`, [mailboxId, uids])
      : await t.q(`SELECT uid, blob_id FROM messages WHERE mailbox_id = $1 AND '\\Deleted' = ANY(flags) ORDER BY uid`, [mailboxId]);
    if (rows.length === 0) return [];
    const modseq = await this.bumpModseq(t, mailboxId);
    const gone = rows.map((r) => r.uid as number);
    await t.run('DELETE FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[])', [mailboxId, gone]);
    await t.run(`INSERT INTO expunged (mailbox_id, uid, modseq) SELECT $1, u, $3 FROM unnest($2::bigint[]) AS u
      ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq`, [mailboxId, gone, modseq]);
    const blobs = new Map<number, number>();
    for (const r of rows) blobs.set(r.blob_id as number, (blobs.get(r.blob_id as number) ?? 0) + 1);
    await this.releaseBlobs(t, blobs);
    t.changes.push({ mailboxId, kind: 'expunge', uids: gone, modseq, origin });
    return gone;
  }

  private async copyTx(t: PgTx, from: number, uids: number[], to: number): Promise<{ uidValidity: number; map: [number, number][] }> {
    await this.lockMailboxes(t, [from, to]);
    const dst = await t.one('SELECT uidvalidity FROM mailboxes WHERE id = $1', [to]);
    if (!dst) throw new StoreError('notfound', 'no such target mailbox');
    const rows = await t.q('SELECT * FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[]) ORDER BY uid', [from, uids]);
    const refs = new Map<number, number>();
    for (const m of rows) refs.set(m.blob_id as number, (refs.get(m.blob_id as number) ?? 0) + 1);
    await this.addRefs(t, refs);
    // RFC 3501 §6.4.7: flags and internal date are kept; \Recent is set in the target (by the UID watermark).
    const fresh = await this.insertCopies(t, to, rows.map((m) => ({ blobId: m.blob_id as number, size: m.size as number, flags: m.flags as string[], internalDate: m.internal_date as number, msgId: (m.msg_id as string) ?? null })));
    return { uidValidity: dst.uidvalidity as number, map: rows.map((m, i): [number, number] => [m.uid as number, fresh[i]]) };
  }

  /**
   * Message lists by mailbox, each valid while the mailbox keeps its UIDVALIDITY and
   * HIGHESTMODSEQ (every change to a mailbox's messages, on any node, raises its MODSEQ in the
   * same transaction). Several sessions on one mailbox share one list.
   */
  private readonly listCache = new Map<number, { uidValidity: number; modseq: number; rows: readonly MessageRecord[] }>();
  private listCacheRows = 0;
  private dropList(mailboxId: number): void {
    const hit = this.listCache.get(mailboxId);
    if (!hit) return;
    this.listCache.delete(mailboxId);
    this.listCacheRows -= hit.rows.length;
  }
  /** Recently read message bytes by blob id (never stale: a blob id names the same bytes forever). */
  private readonly bodyCache = new Map<number, Buffer>();
  private bodyCacheBytes = 0;
  /** parsed MIME structures by blob id */
  private readonly metaCache = new Map<number, { mime: unknown; messageId: string | null; subject: string | null }>();
  /** decoded texts by blob id (SEARCH reads BlobMeta.searchText synchronously) */
  private readonly textCache = new Map<number, string>();
  private textCacheBytes = 0;
  private keepText(blobId: number, text: string): void {
    const size = text.length * 2;
    if (size > TEXT_CACHE_BYTES / 4) return;
    this.textCache.set(blobId, text);
    this.textCacheBytes += size;
    while (this.textCacheBytes > TEXT_CACHE_BYTES) {
      const [id, old] = this.textCache.entries().next().value as [number, string];
      this.textCache.delete(id);
      this.textCacheBytes -= old.length * 2;
    }
  }

  messages = {
    list: async (mailboxId: number): Promise<readonly MessageRecord[]> => {
      // the mailbox row first: rows read after it are at least as new as the MODSEQ they are kept under
      const mb = await this.db.readOne('SELECT uidvalidity, highestmodseq FROM mailboxes WHERE id = $1', [mailboxId]);
      if (!mb) { this.dropList(mailboxId); return []; }
      const hit = this.listCache.get(mailboxId);
      if (hit) {
        this.dropList(mailboxId);
        if (hit.uidValidity === mb.uidvalidity && hit.modseq === mb.highestmodseq) {
          this.listCache.set(mailboxId, hit);
          this.listCacheRows += hit.rows.length;
          return hit.rows;
        }
      }
      const rows = Object.freeze((await this.db.read('SELECT uid, modseq, flags, internal_date, size, blob_id, msg_id FROM messages WHERE mailbox_id = $1 ORDER BY uid', [mailboxId]))
        .map((r) => { const m = this.messageRow(r); Object.freeze(m.flags); return Object.freeze(m); }));
      if (rows.length <= LIST_CACHE_ROWS) {
        this.dropList(mailboxId);
        while (this.listCacheRows + rows.length > LIST_CACHE_ROWS) {
          const [oldId] = this.listCache.entries().next().value as [number, unknown];
          this.dropList(oldId);
        }
        this.listCache.set(mailboxId, { uidValidity: mb.uidvalidity as number, modseq: mb.highestmodseq as number, rows });
        this.listCacheRows += rows.length;
      }
      return rows;
    },
    get: async (mailboxId: number, uid: number): Promise<MessageRecord | null> => {
      const r = await this.db.readOne('SELECT uid, modseq, flags, internal_date, size, blob_id, msg_id FROM messages WHERE mailbox_id = $1 AND uid = $2', [mailboxId, uid]);
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
      const r = await this.db.readOne('SELECT raw FROM blobs WHERE id = $1', [blobId]);
      if (!r) throw new StoreError('notfound', 'message bytes are gone');
      const raw = r.raw as Buffer;
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
      let m = this.metaCache.get(blobId);
      let text = this.textCache.get(blobId);
      if (!m) {
        const r = await this.db.readOne(`SELECT mime, message_id, subject${text === undefined ? ', search_text' : ''} FROM blobs WHERE id = $1`, [blobId]);
        if (!r) throw new StoreError('notfound', 'message is gone');
        m = { mime: JSON.parse(r.mime as string), messageId: (r.message_id as string) ?? null, subject: (r.subject as string) ?? null };
        if (this.metaCache.size >= META_CACHE_ENTRIES) this.metaCache.delete(this.metaCache.keys().next().value as number);
        if (text === undefined) { text = (r.search_text as string) ?? ''; this.keepText(blobId, text); }
      } else {
        this.metaCache.delete(blobId);
        if (text === undefined) {
          text = ((await this.db.readOne('SELECT search_text FROM blobs WHERE id = $1', [blobId]))?.search_text as string | undefined) ?? '';
          this.keepText(blobId, text);
        }
      }
      this.metaCache.set(blobId, m);
      return { mime: m.mime, messageId: m.messageId, subject: m.subject, searchText: text };
    },
    append: async (mailboxId: number, given: Buffer, opts: { flags?: string[]; internalDate?: number; journey?: JourneyEvent[] } = {}) => {
      const raw = toCrlf(given);
      const meta = await analyze(raw, this.mimeLimits);
      return this.db.tx(async (t) => {
        await this.lockMailboxes(t, [mailboxId]);
        const mb = await t.one('SELECT uidvalidity FROM mailboxes WHERE id = $1', [mailboxId]);
        if (!mb) throw new StoreError('notfound', 'no such mailbox');
        const blobId = await this.putBlob(t, raw, meta, 1);
        const uid = await this.insertCopy(t, mailboxId, blobId, raw.length, opts.flags ?? [], opts.internalDate ?? this.now(), null);
        if (opts.journey) await this.insertJourney(t, opts.journey);
        return { uid, uidValidity: mb.uidvalidity as number };
      });
    },
    setFlags: (mailboxId: number, uids: number[], op: FlagOp, flags: string[], opts: { unchangedSince?: number; origin?: unknown } = {}) =>
      this.db.tx(async (t) => {
        await this.lockMailboxes(t, [mailboxId]);
        const rows = await t.q('SELECT uid, flags, modseq FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[])', [mailboxId, uids]);
        const byUid = new Map(rows.map((r) => [r.uid as number, r]));
        const changed: FlagChange[] = [];
        const failed: number[] = [];
        let modseq = 0;
        for (const uid of uids) {
          const m = byUid.get(uid);
          if (!m) continue;
          // RFC 7162 §3.1.3: UNCHANGEDSINCE fails for messages modified after the given MODSEQ
          if (opts.unchangedSince !== undefined && (m.modseq as number) > opts.unchangedSince) { failed.push(uid); continue; }
          const old = m.flags as string[];
          const next = op === 'set' ? [...new Set(flags)] : op === 'add' ? [...new Set([...old, ...flags])] : old.filter((f) => !flags.includes(f));
          if (next.length === old.length && next.every((f) => hasFlag(old, f))) continue;
          if (!modseq) modseq = await this.bumpModseq(t, mailboxId);
          changed.push({ uid, flags: next, modseq });
        }
        if (changed.length) {
          await t.run(`UPDATE messages m SET flags = v.flags, modseq = $3 FROM
            (SELECT u.uid, string_to_array(u.f, ' ') AS flags FROM unnest($2::bigint[], $4::text[]) AS u(uid, f)) v
            WHERE m.mailbox_id = $1 AND m.uid = v.uid`,
          [mailboxId, changed.map((c) => c.uid), modseq, changed.map((c) => c.flags.join(' '))]);
          t.changes.push({ mailboxId, kind: 'flags', changes: changed, modseq, origin: opts.origin });
        }
        return { changed, failed };
      }),
    expunge: (mailboxId: number, uids?: number[], opts: { origin?: unknown; journey?: JourneyEvent[] } = {}) =>
      this.db.tx(async (t) => {
        // RFC 4315 §2.1 UID EXPUNGE: only the given messages that have \Deleted
        const r = await this.expungeTx(t, mailboxId, uids, opts.origin, true);
        if (opts.journey) await this.insertJourney(t, opts.journey);
        return r;
      }),
    remove: (mailboxId: number, uids: number[], opts: { origin?: unknown; journey?: JourneyEvent[] } = {}) =>
      this.db.tx(async (t) => {
        // RFC 1939 §6 POP3 UPDATE state: exactly the messages marked by DELE, whatever their flags
        const r = await this.expungeTx(t, mailboxId, uids, opts.origin, false);
        if (opts.journey) await this.insertJourney(t, opts.journey);
        return r;
      }),
    copy: (from: number, uids: number[], to: number) => this.db.tx((t) => this.copyTx(t, from, uids, to)),
    move: (from: number, uids: number[], to: number, opts: { origin?: unknown } = {}) =>
      this.db.tx(async (t) => {
        const res = await this.copyTx(t, from, uids, to);
        await this.expungeTx(t, from, res.map.map(([u]) => u), opts.origin, false);
        return res;
      }),
    expungedSince: async (mailboxId: number, modseq: number): Promise<number[]> =>
      (await this.db.read('SELECT uid FROM expunged WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid', [mailboxId, modseq])).map((r) => r.uid as number),
    appendMany: async (mailboxId: number, items: ImportItem[]): Promise<ImportOutcome[]> => {
      const prepared: { item: ImportItem; raw: Buffer; sha: string; meta: BlobMeta | null; error?: string; held?: boolean }[] = [];
      for (const item of items) {
        const raw = toCrlf(item.raw);
        const sha = createHash('sha256').update(raw).digest('hex');
        if (await this.db.readOne('SELECT 1 FROM blobs b JOIN messages m ON m.blob_id = b.id WHERE b.sha256 = $1 AND m.mailbox_id = $2 LIMIT 1', [sha, mailboxId])) {
          prepared.push({ item, raw, sha, meta: null, held: true });
          continue;
        }
        try {
          prepared.push({ item, raw, sha, meta: await analyze(raw, this.mimeLimits) });
        } catch (err) {
          prepared.push({ item, raw, sha, meta: null, error: `cannot parse: ${(err as Error).message}` });
        }
      }
      return this.db.tx(async (t) => {
        await this.lockMailboxes(t, [mailboxId]);
        const mb = await t.one('SELECT name FROM mailboxes WHERE id = $1', [mailboxId]);
        if (!mb) throw new StoreError('notfound', 'no such mailbox');
        const out: ImportOutcome[] = [];
        for (const { item, raw, sha, meta, error, held } of prepared) {
          if (held) { out.push({ duplicate: true }); continue; }
          if (!meta) { out.push({ failed: error ?? 'cannot parse' }); continue; }
          if (await t.one('SELECT 1 FROM blobs b JOIN messages m ON m.blob_id = b.id WHERE b.sha256 = $1 AND m.mailbox_id = $2 LIMIT 1', [sha, mailboxId])) {
            out.push({ duplicate: true });
            continue;
          }
          const blobId = await this.putBlob(t, raw, meta, 1, sha);
          const uid = await this.insertCopy(t, mailboxId, blobId, raw.length, item.flags, item.internalDate, item.msgId);
          await this.insertJourney(t, [{ msgId: item.msgId, messageId: meta.messageId, agent: 'MDA', step: 'imported',
            details: { mailbox: mb.name as string, uid, size: raw.length, ...(item.source ? { source: item.source } : {}) } }]);
          out.push({ uid });
        }
        return out;
      });
    },
    digests: async (mailboxId: number): Promise<{ uid: number; messageId: string | null; size: number }[]> =>
      (await this.db.read('SELECT m.uid, m.size, b.message_id FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.mailbox_id = $1 ORDER BY m.uid', [mailboxId]))
        .map((r) => ({ uid: r.uid as number, size: r.size as number, messageId: (r.message_id as string) ?? null })),
  };

  // ------------------------------------------------------------------ delivery
  /**
   * DESIGN "the one transaction": blob, every mailbox copy, queue entries and journey commit together.
   * Group commit: deliveries that arrive while earlier ones commit join the next transaction (a
   * savepoint each, so one that fails takes only itself back), so a busy mailbox, whose row lock
   * is held until COMMIT, takes many messages per commit instead of one.
   */
  async deliver(given: Delivery): Promise<DeliveryResult> {
    const d = { ...given, raw: toCrlf(given.raw), relayRaw: given.relayRaw && toCrlf(given.relayRaw) };
    const meta = await analyze(d.raw, this.mimeLimits);
    const relayRaw = d.remote.length ? d.relayRaw ?? d.raw : null;
    const relayMeta = relayRaw && relayRaw !== d.raw ? await analyze(relayRaw, this.mimeLimits) : meta;
    const sha = createHash('sha256').update(d.raw).digest('hex');
    const result = await new Promise<DeliveryResult>((resolve, reject) => {
      this.deliveries.push({ d, meta, relayRaw, relayMeta, sha, resolve, reject });
      if (this.batchRunners < DELIVERY_BATCH_RUNNERS) void this.runDeliveries();
    });
    if (result.queued.length) this.events.emit('queued');
    return result;
  }

  private readonly deliveries: PendingDelivery[] = [];
  private batchRunners = 0;

  /** Takes waiting deliveries in batches, one transaction each, until none wait. */
  private async runDeliveries(): Promise<void> {
    this.batchRunners++;
    try {
      while (this.deliveries.length) {
        const jobs = this.deliveries.splice(0, DELIVERY_BATCH_MAX);
        let outcomes: Outcome[];
        try {
          // first without a savepoint per job (they cost two round trips each); if one job fails,
          // the batch is taken back and run again with savepoints, so that it fails alone
          outcomes = await this.db.tx((t) => this.deliveryBatch(t, jobs, false)).catch((err: unknown) => {
            if (err instanceof OneFailed) { this.stats.isolatedRetries++; return this.db.tx((t) => this.deliveryBatch(t, jobs, true)); }
            throw err;
          });
        } catch (err) {
          for (const j of jobs) j.reject(err);
          continue;
        }
        this.stats.deliveryCommits++;
        this.stats.deliveries += jobs.length;
        jobs.forEach((j, i) => {
          const o = outcomes[i];
          if (o.ok) j.resolve(o.value);
          else j.reject(o.err);
        });
      }
    } finally {
      this.batchRunners--;
    }
  }

  /** One batch in one transaction: with `isolated`, a savepoint per job, and a job that fails fails alone. */
  private async deliveryBatch(t: PgTx, jobs: PendingDelivery[], isolated: boolean): Promise<Outcome[]> {
    const single = jobs.length === 1;
    /** runs one job's part; a failure: the job's outcome (isolated), else the whole batch again, isolated */
    const guarded = async <T>(run: () => Promise<T>): Promise<T | { failed: unknown }> => {
      if (single) return run();
      if (!isolated) {
        try { return await run(); } catch (err) {
          const code = (err as { code?: string }).code;
          if (code === '40P01' || code === '40001') throw err; // db.tx runs the batch again
          throw new OneFailed(err);
        }
      }
      const mark = t.changes.length;
      const queued = t.queued;
      await t.run('SAVEPOINT delivery');
      try {
        const v = await run();
        await t.run('RELEASE SAVEPOINT delivery');
        return v;
      } catch (err) {
        // a deadlock ends the whole batch (db.tx runs it again); so does a lost connection (the rollback fails)
        const code = (err as { code?: string }).code;
        if (code === '40P01' || code === '40001') throw err;
        await t.run('ROLLBACK TO SAVEPOINT delivery');
        await t.run('RELEASE SAVEPOINT delivery');
        t.changes.length = mark;
        t.queued = queued;
        return { failed: err instanceof StoreError || err instanceof InternalError ? err : new InternalError('STORE_WRITE_FAILED', `delivery failed: ${(err as Error).message}`, { cause: err }) };
      }
    };
    const failed = (v: unknown): v is { failed: unknown } => !!v && typeof v === 'object' && 'failed' in v;
    // every target of the batch first, then all locked in id order: batches never wait on each other in a cycle
    const targets: (Target[] | { failed: unknown })[] = [];
    for (const j of jobs) targets.push(await guarded(() => this.deliveryTargets(t, j.d)));
    if (!isolated) {
      // the common case, in two passes so that the mailboxes stay locked for as short a time as can be:
      // the bytes and queue entries of every delivery first, then the locks, then the copies
      const parts: { blobId: number; result: DeliveryResult }[] = [];
      for (let i = 0; i < jobs.length; i++) parts.push(await guarded(() => this.deliverBytes(t, jobs[i], targets[i] as Target[])) as { blobId: number; result: DeliveryResult });
      await this.lockMailboxes(t, targets.flatMap((x) => (x as Target[]).map((y) => y.id)));
      const out: Outcome[] = [];
      for (let i = 0; i < jobs.length; i++) {
        t.mergeFrom = t.changes.length;
        out.push({ ok: true, value: await guarded(() => this.deliverCopies(t, jobs[i], targets[i] as Target[], parts[i])) as DeliveryResult });
      }
      return out;
    }
    await this.lockMailboxes(t, targets.flatMap((x) => (failed(x) ? [] : x.map((y) => y.id))));
    const out: Outcome[] = [];
    for (let i = 0; i < jobs.length; i++) {
      const tg = targets[i];
      if (failed(tg)) { out.push({ ok: false, err: tg.failed }); continue; }
      // this job's changes start here (never merged into an earlier job's: they may be taken back)
      t.mergeFrom = t.changes.length;
      const r = await guarded(() => this.deliverTx(t, jobs[i], tg));
      out.push(failed(r) ? { ok: false, err: r.failed } : { ok: true, value: r });
    }
    return out;
  }

  /** The mailbox of every local recipient: a name, or a special use (\Junk: whatever the user's junk mailbox is called now); else INBOX. */
  private async deliveryTargets(t: PgTx, d: Delivery): Promise<Target[]> {
    const targets: Target[] = [];
    for (const rcpt of d.local) {
      const want = rcpt.mailbox ?? 'INBOX';
      let mb = want.startsWith('\\')
        ? await t.one('SELECT id, name FROM mailboxes WHERE user_id = $1 AND special_use = $2 ORDER BY id LIMIT 1', [rcpt.userId, want])
        : await t.one('SELECT id, name FROM mailboxes WHERE user_id = $1 AND name = $2', [rcpt.userId, txt(want)]);
      mb ??= await t.one(`SELECT id, name FROM mailboxes WHERE user_id = $1 AND name = 'INBOX'`, [rcpt.userId]);
      if (!mb) mb = { id: (await this.createMailboxTx(t, rcpt.userId, 'INBOX', null, true)).id, name: 'INBOX' };
      targets.push({ address: rcpt.address, id: mb.id as number, name: mb.name as string });
    }
    return targets;
  }

  /** One delivery inside the batch's transaction; its target mailboxes are locked already. */
  private async deliverTx(t: PgTx, job: PendingDelivery, targets: Target[]): Promise<DeliveryResult> {
    return this.deliverCopies(t, job, targets, await this.deliverBytes(t, job, targets));
  }

  /** A delivery's part that needs no mailbox lock: the bytes (for the mailboxes, for the relay) and the queue entries. */
  private async deliverBytes(t: PgTx, job: PendingDelivery, targets: Target[]): Promise<{ blobId: number; result: DeliveryResult }> {
    const { d, meta, relayRaw, relayMeta, sha } = job;
    const result: DeliveryResult = { stored: [], queued: [], messageId: meta.messageId };
    const now = this.now();
    const blobId = targets.length ? await this.putBlob(t, d.raw, meta, targets.length, sha, true) : 0;
    if (relayRaw && d.remote.length) {
      const byDomain = new Map<string, string[]>();
      for (const r of d.remote) {
        const dom = r.slice(r.lastIndexOf('@') + 1).toLowerCase();
        byDomain.set(dom, [...(byDomain.get(dom) ?? []), r]);
      }
      const relayBlob = await this.putBlob(t, relayRaw, relayMeta, byDomain.size);
      for (const [domain, rcpts] of byDomain) {
        const q: QueueRcpt[] = rcpts.map((address) => ({ address, status: 'pending' }));
        const row = await t.one(`INSERT INTO queue (msg_id, blob_id, mail_from, domain, rcpts, next_attempt, data, created, updated)
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
        [txt(d.msgId), relayBlob, txt(d.mailFrom), txt(domain), JSON.stringify(q), now, JSON.stringify(d.queueData ?? {}), now, now]);
        result.queued.push({ id: row!.id as number, domain, rcpts });
      }
      t.queued = true;
    }
    return { blobId, result };
  }

  /** A delivery's part under the mailbox locks: the copies (UIDs, MODSEQs), the journey, the submission count. */
  private async deliverCopies(t: PgTx, job: PendingDelivery, targets: Target[], part: { blobId: number; result: DeliveryResult }): Promise<DeliveryResult> {
    const { d, meta } = job;
    const { result, blobId } = part;
    const now = this.now();
    for (const { address, id, name } of targets) {
      const uid = await this.insertCopy(t, id, blobId, d.raw.length, d.flags ?? [], d.internalDate ?? now, d.msgId);
      result.stored.push({ address, mailbox: name, uid, mailboxId: id });
    }
    const journey: JourneyEvent[] = d.journey.map((e) => ({ ...e, messageId: e.messageId ?? meta.messageId }));
    for (const s of result.stored) {
      journey.push({ msgId: d.msgId, messageId: meta.messageId, agent: 'MDA', step: 'stored', details: { user: s.address, mailbox: s.mailbox, uid: s.uid } });
    }
    for (const q of result.queued) {
      journey.push({ msgId: d.msgId, messageId: meta.messageId, agent: 'MTA out', step: 'queued', details: { queueId: q.id, domain: q.domain, rcpts: q.rcpts } });
    }
    await this.insertJourney(t, journey);
    if (d.submission) {
      await t.run('INSERT INTO submissions (user_id, time, recipients, msg_id) VALUES ($1, $2, $3, $4)', [d.submission.userId, now, d.submission.recipients, txt(d.msgId)]);
      await t.run('DELETE FROM submissions WHERE user_id = $1 AND time < $2', [d.submission.userId, now - 86_400_000]);
    }
    return result;
  }

  // ------------------------------------------------------------------ submission limits
  submissions = {
    count: async (userId: number, since: number): Promise<{ messages: number; recipients: number }> => {
      const r = (await this.db.readOne('SELECT count(*) AS messages, coalesce(sum(recipients), 0) AS recipients FROM submissions WHERE user_id = $1 AND time >= $2', [userId, since]))!;
      return { messages: r.messages as number, recipients: r.recipients as number };
    },
    recent: async (userId: number, since: number, limit: number): Promise<SubmissionRecord[]> =>
      (await this.db.read('SELECT time, recipients, msg_id FROM submissions WHERE user_id = $1 AND time >= $2 ORDER BY time DESC LIMIT $3', [userId, since, limit]))
        .map((r) => ({ time: r.time as number, recipients: r.recipients as number, msgId: r.msg_id as string })),
    reset: (userId: number): Promise<number> => this.db.tx((t) => t.run('DELETE FROM submissions WHERE user_id = $1', [userId])),
  };

  // ------------------------------------------------------------------ queue
  private queueRow(r: Row): QueueEntry {
    return {
      id: r.id as number, msgId: r.msg_id as string, blobId: r.blob_id as number, mailFrom: r.mail_from as string, domain: r.domain as string,
      rcpts: JSON.parse(r.rcpts as string) as QueueRcpt[], attempts: r.attempts as number, nextAttempt: r.next_attempt as number,
      lastReply: (r.last_reply as string) ?? null, status: r.status as QueueEntry['status'], data: JSON.parse(r.data as string) as Record<string, unknown>,
      created: r.created as number, updated: r.updated as number, size: (r.size as number) ?? 0,
      leaseNode: (r.lease_node as string) ?? null, leaseUntil: (r.lease_until as number) ?? null,
    };
  }

  private async releaseOne(t: PgTx, blobId: number): Promise<void> {
    await this.releaseBlobs(t, new Map([[blobId, 1]]));
  }

  queue = {
    list: async (): Promise<QueueEntry[]> =>
      (await this.db.read(`SELECT q.*, b.size FROM queue q JOIN blobs b ON b.id = q.blob_id WHERE q.status = 'queued' ORDER BY q.id`)).map((r) => this.queueRow(r)),
    get: async (id: number): Promise<QueueEntry | null> => {
      const r = await this.db.readOne('SELECT q.*, b.size FROM queue q JOIN blobs b ON b.id = q.blob_id WHERE q.id = $1', [id]);
      return r ? this.queueRow(r) : null;
    },
    del: (id: number): Promise<boolean> =>
      this.db.tx(async (t) => {
        const r = await t.one('DELETE FROM queue WHERE id = $1 RETURNING blob_id', [id]);
        if (!r) return false;
        await this.releaseOne(t, r.blob_id as number);
        return true;
      }),
    due: async (now: number, limit: number): Promise<QueueEntry[]> =>
      (await this.db.read(`SELECT q.*, b.size FROM queue q JOIN blobs b ON b.id = q.blob_id WHERE q.status = 'queued' AND q.next_attempt <= $1
        ORDER BY q.next_attempt, q.id LIMIT $2`, [now, limit])).map((r) => this.queueRow(r)),
    flush: async (id?: number): Promise<number> => {
      const n = await this.db.tx(async (t) => {
        const n = id === undefined
          ? await t.run(`UPDATE queue SET next_attempt = $1 WHERE status = 'queued'`, [this.now()])
          : await t.run(`UPDATE queue SET next_attempt = $1 WHERE status = 'queued' AND id = $2`, [this.now(), id]);
        if (n) t.queued = true;
        return n;
      });
      if (n) this.events.emit('queued');
      return n;
    },
    reschedule: (id: number, patch: QueueReschedule, journey?: JourneyEvent[]): Promise<void> =>
      this.db.tx(async (t) => {
        const cur = await t.one(`SELECT * FROM queue WHERE id = $1 AND status = 'queued' FOR UPDATE`, [id]);
        if (!cur) throw new StoreError('notfound', `no queue entry ${id}`);
        if (patch.rcpts && !patch.rcpts.some((r) => r.status === 'pending')) throw new StoreError('invalid', `queue entry ${id}: no recipient left pending (finish it)`);
        await t.run(`UPDATE queue SET rcpts = $1, attempts = $2, next_attempt = $3, last_reply = $4, data = $5, updated = $6, lease_node = NULL, lease_until = NULL WHERE id = $7`, [
          patch.rcpts ? JSON.stringify(patch.rcpts) : cur.rcpts, patch.attempts ?? cur.attempts, patch.nextAttempt ?? cur.next_attempt,
          patch.lastReply !== undefined ? txt(patch.lastReply) : cur.last_reply, patch.data ? JSON.stringify(patch.data) : cur.data, this.now(), id]);
        if (journey) await this.insertJourney(t, journey);
      }),
    finish: (id: number, outcome: QueueOutcome, journey?: JourneyEvent[]): Promise<QueueEntry> =>
      this.db.tx(async (t) => {
        const cur = await t.one(`SELECT q.*, b.size FROM queue q JOIN blobs b ON b.id = q.blob_id WHERE q.id = $1 AND q.status = 'queued' FOR UPDATE OF q`, [id]);
        if (!cur) throw new StoreError('notfound', `no queue entry ${id}`);
        if (outcome.rcpts.some((r) => r.status === 'pending')) throw new StoreError('invalid', `queue entry ${id}: a recipient is still pending (reschedule it)`);
        const status = outcome.rcpts.some((r) => r.status === 'delivered') ? 'delivered' as const : 'bounced' as const;
        const ended: QueueEntry = { ...this.queueRow(cur), rcpts: outcome.rcpts, attempts: outcome.attempts, lastReply: outcome.lastReply, status, updated: this.now(), leaseNode: null, leaseUntil: null };
        if (outcome.data) ended.data = outcome.data;
        await t.run('DELETE FROM queue WHERE id = $1', [id]);
        await this.releaseOne(t, cur.blob_id as number);
        if (journey) await this.insertJourney(t, journey);
        return ended;
      }),
    /** several nodes, one queue: FOR UPDATE SKIP LOCKED leases (queue-lease.ts) */
    claim: async (node: string, now: number, limit: number, leaseMs: number): Promise<QueueEntry[]> =>
      (await leases.claim(this.db, node, now, limit, leaseMs)).map((r) => this.queueRow(r)),
    renew: (node: string, ids: number[], now: number, leaseMs: number): Promise<number[]> => leases.renew(this.db, node, ids, now, leaseMs),
    release: (node: string, ids?: number[]): Promise<number> => leases.release(this.db, node, ids),
  };

  // ------------------------------------------------------------------ what the nodes agree on (locks.ts)
  locks = {
    tryAcquire: (key: string, owner: string, ttlMs: number): Promise<boolean> => crossNode.tryAcquire(this.db, key, owner, ttlMs),
    release: (key: string, owner: string): Promise<boolean> => crossNode.release(this.db, key, owner),
  };
  penalties = {
    fail: (keys: string[], now: number, forgetAfterMs: number): Promise<number> => crossNode.fail(this.db, keys, now, forgetAfterMs),
    get: (key: string, now: number, forgetAfterMs: number): Promise<number> => crossNode.failures(this.db, key, now, forgetAfterMs),
    clear: (keys: string[]): Promise<void> => crossNode.clear(this.db, keys),
  };

  // ------------------------------------------------------------------ journey
  journey = {
    record: (events: JourneyEvent[]): Promise<void> => this.db.tx((t) => this.insertJourney(t, events)),
    accessed: (session: AccessSession, step: 'fetched' | 'retrieved', messages: AccessStep[]): Promise<void> =>
      this.db.tx(async (t) => {
        const s = await t.one(`INSERT INTO access_sessions (sid, "user", protocol, client, started) VALUES ($1, $2, $3, $4, $5)
          ON CONFLICT (sid) DO UPDATE SET client = excluded.client RETURNING id`, [txt(session.sid), txt(session.user), session.protocol, txt(session.client), this.now()]);
        if (!messages.length) return;
        const now = this.now();
        await t.run(`INSERT INTO journey_access (msg_id, session_id, step, time, mailbox, uid)
          SELECT m, $2, $3, tm, mb, u FROM unnest($1::text[], $4::bigint[], $5::text[], $6::bigint[]) AS x(m, tm, mb, u)
          ON CONFLICT DO NOTHING`,
        [messages.map((m) => txt(m.msgId)), s!.id, step, messages.map((m) => m.time ?? now), messages.map((m) => txt(m.mailbox)), messages.map((m) => m.uid)]);
      }),
    trace: async (id: string): Promise<JourneyRow[]> => {
      const bare = txt(id.trim().replace(/^<|>$/g, ''))!;
      const ids = new Set<string>([bare]);
      for (const r of await this.db.read('SELECT DISTINCT msg_id FROM journey WHERE message_id IN ($1, $2)', [bare, `<${bare}>`])) ids.add(r.msg_id as string);
      const rows: JourneyRow[] = [];
      for (const m of ids) {
        for (const r of await this.db.read('SELECT * FROM journey WHERE msg_id = $1 ORDER BY time, id', [m])) {
          rows.push({ id: r.id as number, msgId: r.msg_id as string, messageId: (r.message_id as string) ?? null, time: r.time as number,
            agent: r.agent as JourneyRow['agent'], step: r.step as string, details: JSON.parse(r.details as string) as Record<string, unknown> });
        }
        for (const r of await this.db.read(`SELECT a.msg_id, a.step, a.time, a.mailbox, a.uid, s.sid, s."user", s.protocol, s.client
          FROM journey_access a JOIN access_sessions s ON s.id = a.session_id WHERE a.msg_id = $1`, [m])) {
          const pop = (r.protocol as string).startsWith('pop3');
          const details: Record<string, unknown> = pop
            ? { user: r.user, proto: 'pop3', session: r.sid, client: r.client, uid: r.uid }
            : { user: r.user, session: r.sid, client: r.client, mailbox: r.mailbox, uid: r.uid };
          rows.push({ id: 0, msgId: r.msg_id as string, messageId: null, time: r.time as number, agent: 'MUA access', step: r.step as string, details });
        }
      }
      const order = (r: JourneyRow) => r.id || Number.MAX_SAFE_INTEGER;
      return rows.sort((a, b) => a.time - b.time || order(a) - order(b));
    },
    // The newest messages by their newest step (after afterId), walked newest first a page at a time,
    // so a dashboard page reads a few hundred rows however long the journey is; a message with a step
    // at or after beforeTime was on a newer page already.
    recent: async (opts: { limit: number; afterId?: number; beforeTime?: number }): Promise<JourneySummary[]> => {
      const limit = Math.max(1, Math.min(Math.floor(opts.limit) || 1, 1000));
      const before = opts.beforeTime ?? Number.MAX_SAFE_INTEGER;
      const after = opts.afterId ?? 0;
      const PAGE = 500;
      const seen = new Set<string>();
      const picked: Row[] = [];
      let cursor: [number, number] | null = null;
      while (picked.length < limit) {
        const rows: Row[] = cursor
          ? await this.db.read('SELECT msg_id, time, id FROM journey WHERE time < $1 AND id > $2 AND (time, id) < ($3, $4) ORDER BY time DESC, id DESC LIMIT $5', [before, after, cursor[0], cursor[1], PAGE])
          : await this.db.read('SELECT msg_id, time, id FROM journey WHERE time < $1 AND id > $2 ORDER BY time DESC, id DESC LIMIT $3', [before, after, PAGE]);
        const fresh: string[] = [];
        for (const r of rows) {
          const m = r.msg_id as string;
          if (!seen.has(m)) { seen.add(m); fresh.push(m); }
        }
        if (fresh.length) {
          const agg = new Map((await this.db.read(`SELECT msg_id, MIN(time) AS first, MAX(time) AS last, MAX(id) AS last_id, COUNT(*) AS steps, MAX(message_id) AS message_id
            FROM journey WHERE msg_id = ANY($1::text[]) GROUP BY msg_id`, [fresh])).map((r) => [r.msg_id as string, r]));
          for (const m of fresh) {
            const a = agg.get(m);
            if (a && (a.last as number) < before) picked.push(a);
            if (picked.length >= limit) break;
          }
        }
        if (rows.length < PAGE) break;
        const l = rows[rows.length - 1];
        cursor = [l.time as number, l.id as number];
      }
      if (!picked.length) return [];
      const ids = picked.map((r) => r.msg_id as string);
      const extra = new Map((await this.db.read(`SELECT m AS msg_id, l.agent, l.step,
          (SELECT COUNT(*) FROM journey_access x WHERE x.msg_id = m) AS access
        FROM unnest($1::text[]) AS m, LATERAL (SELECT agent, step FROM journey WHERE msg_id = m ORDER BY time DESC, id DESC LIMIT 1) l`, [ids])).map((r) => [r.msg_id as string, r]));
      const mids = [...new Set(picked.map((r) => r.message_id as string | null).filter((x): x is string => !!x))];
      const subjects = new Map(mids.length
        ? (await this.db.read('SELECT DISTINCT ON (message_id) message_id, subject FROM blobs WHERE message_id = ANY($1::text[])', [mids])).map((r) => [r.message_id as string, (r.subject as string) ?? null])
        : []);
      return picked.map((r) => {
        const x = extra.get(r.msg_id as string)!;
        const messageId = (r.message_id as string) ?? null;
        return {
          msgId: r.msg_id as string, messageId, subject: messageId ? subjects.get(messageId) ?? null : null,
          first: r.first as number, last: r.last as number, lastAgent: x.agent as string, lastStep: x.step as string,
          lastId: r.last_id as number, steps: (r.steps as number) + (x.access as number),
        };
      });
    },
    lastId: async (): Promise<number> => ((await this.db.readOne('SELECT MAX(id) AS id FROM journey'))?.id as number | null) ?? 0,
  };

  // ------------------------------------------------------------------ transcripts
  private transcriptRow(r: Row): TranscriptSummary & { truncated: boolean; id: number } {
    return {
      id: r.id as number, sid: r.sid as string, protocol: r.protocol as string, local: (r.local as string) ?? null, remote: (r.remote as string) ?? null,
      user: (r.user as string) ?? null, tls: (r.tls as string) ?? null, started: r.started as number, ended: (r.ended as number) ?? null,
      msgIds: JSON.parse(r.msg_ids as string) as string[], lines: r.lines as number, bytes: r.bytes as number, truncated: !!r.truncated,
    };
  }

  private async writeTranscriptTx(t: PgTx, s: TranscriptSession, lines: TranscriptLine[]): Promise<void> {
    const row = (await t.one(`INSERT INTO transcripts (sid, protocol, local, remote, "user", tls, started, ended) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
      ON CONFLICT (sid) DO UPDATE SET protocol = excluded.protocol, local = COALESCE(excluded.local, transcripts.local), remote = COALESCE(excluded.remote, transcripts.remote),
        "user" = COALESCE(excluded."user", transcripts."user"), tls = COALESCE(excluded.tls, transcripts.tls), ended = COALESCE(excluded.ended, transcripts.ended)
      RETURNING id, msg_ids, lines, bytes, truncated`, [
      txt(String(s.sid)), txt(String(s.protocol)), txt(s.local ?? null), txt(s.remote ?? null), txt(s.user ?? null), txt(s.tls ?? null), s.started ?? this.now(), s.ended ?? null]))!;
    const id = row.id as number;
    let msgIds: string[] | null = null;
    if (s.msgIds?.length) {
      const have = JSON.parse(row.msg_ids as string) as string[];
      const known = new Set(have);
      const add: string[] = [];
      for (const m of s.msgIds) {
        if (have.length >= TRANSCRIPT_MAX_MSGIDS) break;
        if (typeof m !== 'string' || known.has(m)) continue;
        known.add(m);
        have.push(m);
        add.push(txt(m)!);
      }
      if (add.length) await t.run('INSERT INTO transcript_msgs (msg_id, transcript_id) SELECT m, $2 FROM unnest($1::text[]) AS m ON CONFLICT DO NOTHING', [add, id]);
      msgIds = have;
    }
    let n = row.lines as number;
    let bytes = row.bytes as number;
    let truncated = !!row.truncated;
    const kept: [number, string, string][] = [];
    for (const l of lines) {
      const text = String(l.text ?? '');
      const size = Buffer.byteLength(text) + 8;
      if (truncated || n >= TRANSCRIPT_MAX_LINES || bytes + size > TRANSCRIPT_MAX_BYTES) { truncated = true; continue; }
      kept.push([Number(l.t) || this.now(), String(l.dir), text]);
      n++;
      bytes += size;
    }
    if (kept.length) await t.run('INSERT INTO transcript_lines (transcript_id, lines) VALUES ($1, $2)', [id, JSON.stringify(kept)]);
    await t.run('UPDATE transcripts SET lines = $1, bytes = $2, truncated = $3, msg_ids = COALESCE($4, msg_ids) WHERE id = $5',
      [n, bytes, truncated, msgIds && JSON.stringify(msgIds), id]);
  }

  transcripts = {
    write: (session: TranscriptSession, lines: TranscriptLine[]): Promise<void> => this.db.tx((t) => this.writeTranscriptTx(t, session, lines)),
    get: async (sid: string): Promise<Transcript | null> => {
      const r = await this.db.readOne('SELECT * FROM transcripts WHERE sid = $1', [txt(sid)]);
      if (!r) return null;
      const { id: _id, lines: _n, bytes: _b, ...session } = this.transcriptRow(r);
      const lines: TranscriptLine[] = [];
      for (const b of await this.db.read('SELECT lines FROM transcript_lines WHERE transcript_id = $1 ORDER BY id', [r.id])) {
        for (const [tm, dir, text] of JSON.parse(b.lines as string) as [number, TranscriptLine['dir'], string][]) lines.push({ t: tm, dir, text });
      }
      return { ...session, lines };
    },
    list: async (opts: { limit: number; msgId?: string; beforeStarted?: number }): Promise<TranscriptSummary[]> => {
      const limit = Math.max(1, Math.min(Math.floor(opts.limit) || 1, 1000));
      const before = opts.beforeStarted ?? Number.MAX_SAFE_INTEGER;
      const rows = opts.msgId !== undefined
        ? await this.db.read(`SELECT t.* FROM transcript_msgs m JOIN transcripts t ON t.id = m.transcript_id WHERE m.msg_id = $1 AND t.started < $2
            ORDER BY t.started DESC, t.id DESC LIMIT $3`, [txt(opts.msgId), before, limit])
        : await this.db.read('SELECT * FROM transcripts WHERE started < $1 ORDER BY started DESC, id DESC LIMIT $2', [before, limit]);
      return rows.map((r) => {
        const { id: _id, truncated: _t, ...summary } = this.transcriptRow(r);
        return summary;
      });
    },
  };

  // ------------------------------------------------------------------ backup and retention
  /** A snapshot of a PostgreSQL store is the database's own business (pg_dump, base backups, replicas). */
  async backup(_file: string): Promise<void> {
    throw new InternalError('STORE_BACKUP_UNSUPPORTED', 'backup: the store is PostgreSQL; use pg_dump or a base backup (pg_basebackup) of the database');
  }

  /** Drops old transcripts, the oldest beyond the byte cap, then journey rows and access steps; in chunks, a transaction each. */
  async prune(opts: { transcriptsBefore: number; transcriptMaxBytes: number; journeyBefore: number }): Promise<{ transcripts: number; journey: number }> {
    let transcripts = 0;
    let journey = 0;
    const SESSIONS = 100;
    for (;;) {
      const n = await this.db.tx((t) => t.run('DELETE FROM transcripts WHERE id IN (SELECT id FROM transcripts WHERE started < $1 ORDER BY started LIMIT $2)', [opts.transcriptsBefore, SESSIONS]));
      transcripts += n;
      if (n < SESSIONS) break;
    }
    for (;;) {
      // everything past the newest transcriptMaxBytes, oldest first
      const n = await this.db.tx((t) => t.run(`DELETE FROM transcripts WHERE id IN (SELECT id FROM (
          SELECT id, SUM(bytes) OVER (ORDER BY started DESC, id DESC) AS total FROM transcripts) x WHERE total > $1 LIMIT $2)`, [opts.transcriptMaxBytes, SESSIONS]));
      transcripts += n;
      if (n < SESSIONS) break;
    }
    for (;;) {
      const n = await this.db.tx((t) => t.run('DELETE FROM journey WHERE id IN (SELECT id FROM journey WHERE time < $1 LIMIT $2)', [opts.journeyBefore, PRUNE_CHUNK]));
      journey += n;
      if (n < PRUNE_CHUNK) break;
    }
    for (;;) {
      const n = await this.db.tx((t) => t.run(`DELETE FROM journey_access WHERE ctid = ANY(ARRAY(SELECT ctid FROM journey_access WHERE time < $1 LIMIT $2))`, [opts.journeyBefore, PRUNE_CHUNK]));
      journey += n;
      if (n < PRUNE_CHUNK) break;
    }
    await this.db.tx((t) => t.run(`DELETE FROM access_sessions s WHERE s.started < $1 AND NOT EXISTS (SELECT 1 FROM journey_access a WHERE a.session_id = s.id)`, [opts.journeyBefore]));
    return { transcripts, journey };
  }
}
