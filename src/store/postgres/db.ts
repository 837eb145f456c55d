// MDA on PostgreSQL: the connection pool, transactions, numbered migrations and the change
// channel (DESIGN "Change notification": LISTEN/NOTIFY when several nodes share the database).
// Every write runs in one transaction on a pooled connection (synchronous_commit on: COMMIT
// returns once the WAL is flushed); what it changed is sent with pg_notify inside the same
// transaction, so a change is announced exactly when, and only if, it commits. Every store
// LISTENs and announces every change from that one stream, its own included: PostgreSQL delivers
// notifications in commit order, and per mailbox commit order is UID order (the mailbox row is
// locked while a UID is taken), so every node's IMAP sessions see new UIDs ascending, with no gaps.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { InternalError } from '../../mail/errors.js';
import type { FlagChange, MailboxChange } from '../types.js';

export type Row = Record<string, unknown>;

/** NOTIFY channel of every store on the database */
export const CHANNEL = 'postoffice_changes';
/** PostgreSQL refuses payloads of 8000 bytes or more; leave room */
const PAYLOAD_MAX = 7500;
/** own changes are announced when their notification comes back; past this, without it */
const OWN_NOTIFY_WAIT_MS = 5000;
/** how often a transaction that hit a deadlock or serialization failure is tried again */
const RETRIES = 6;

/** BIGINT (ms times, ids) and NUMERIC (SUM) as JS numbers: every value the store keeps is below 2^53. */
const TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20 || oid === 1700) return (v: string) => Number(v);
    if (oid === 1016) return (v: string) => (pg.types.getTypeParser(1016 as never, 'text') as (s: string) => string[])(v).map(Number);
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

/** A statement name per SQL text: prepared once per connection, then executed by name. */
const names = new Map<string, string>();
function stmt(text: string, values: unknown[]): pg.QueryConfig {
  let name = names.get(text);
  if (!name) names.set(text, (name = 's' + names.size.toString(36)));
  return { name, text, values };
}

/** Text for PostgreSQL TEXT columns: it cannot hold NUL. */
export function txt(s: string | null | undefined): string | null {
  if (s === null || s === undefined) return null;
  return s.includes('\0') ? s.replace(/\0/g, '') : s;
}

/** One write transaction: run statements, and collect what changed (announced at COMMIT). */
export class PgTx {
  readonly changes: MailboxChange[] = [];
  /** a delivery queued entries or a flush made them due: other nodes' queue runners are woken */
  queued = false;
  /** insertCopy adds new UIDs to the last 'exists' change only from this index on (a batch's job boundary) */
  mergeFrom = 0;
  constructor(private readonly client: pg.PoolClient) {}
  async q(sql: string, params: unknown[] = []): Promise<Row[]> {
    return (await this.client.query(stmt(sql, params))).rows as Row[];
  }
  async one(sql: string, params: unknown[] = []): Promise<Row | undefined> {
    return (await this.client.query(stmt(sql, params))).rows[0] as Row | undefined;
  }
  /** rows affected */
  async run(sql: string, params: unknown[] = []): Promise<number> {
    return (await this.client.query(stmt(sql, params))).rowCount ?? 0;
  }
}

/** A change as it travels in a NOTIFY payload (no origin: that is an object of the sending process). */
type Wire =
  | { m: number; k: 'e'; r: [number, number][]; s: number }         // exists: UID ranges
  | { m: number; k: 'f'; c: [number, string[], number][]; s: number } // flags: [uid, flags, modseq]
  | { m: number; k: 'F'; s: number }                                 // flags, too many: read by MODSEQ
  | { m: number; k: 'x'; r: [number, number][]; s: number }          // expunge: UID ranges
  | { m: number; k: 'X'; s: number }                                 // expunge, too many: read tombstones by MODSEQ
  | { m: number; k: 'd' };                                           // mailbox deleted

/** where a mailbox stood when last announced */
interface Mark { uidNext: number; modseq: number }
/** a mailbox first seen after the marks were taken: it was empty */
const NEW_MAILBOX: Mark = { uidNext: 1, modseq: 0 };

interface Own { seq: number; changes: MailboxChange[]; announced: Promise<void>; emitted: boolean; done: () => void }

interface Payload { n: string; t: number; p: number; last: boolean; q?: 1; c: Wire[] }

function ranges(uids: number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const u of [...uids].sort((a, b) => a - b)) {
    const l = out[out.length - 1];
    if (l && u === l[1] + 1) l[1] = u;
    else if (!l || u > l[1]) out.push([u, u]);
  }
  return out;
}
function unranges(r: [number, number][]): number[] {
  const out: number[] = [];
  for (const [a, b] of r) for (let u = a; u <= b; u++) out.push(u);
  return out;
}

function toWire(c: MailboxChange): Wire {
  switch (c.kind) {
    case 'exists': return { m: c.mailboxId, k: 'e', r: ranges(c.uids), s: c.modseq };
    case 'flags': return { m: c.mailboxId, k: 'f', c: c.changes.map((f) => [f.uid, f.flags, f.modseq]), s: c.modseq };
    case 'expunge': return { m: c.mailboxId, k: 'x', r: ranges(c.uids), s: c.modseq };
    case 'deleted': return { m: c.mailboxId, k: 'd' };
  }
}
/** the same change in few bytes: the receiver reads it by MODSEQ (flags and expunges of one change share one) */
function shortWire(w: Wire): Wire {
  if (w.k === 'f') return { m: w.m, k: 'F', s: w.s };
  if (w.k === 'x') return { m: w.m, k: 'X', s: w.s };
  return w;
}

export interface PgDbOptions {
  url: string;
  /** pooled connections (default 10) */
  poolSize?: number;
  /** told every change committed by any node (own ones with their origin) */
  onChange: (c: MailboxChange) => void;
  /** another node queued or flushed relay work */
  onQueued: () => void;
  /** the change channel failed and is being reconnected (changes may have been missed) */
  onListenError?: (err: Error) => void;
}

export class PgDb {
  readonly pool: pg.Pool;
  /** reads have connections of their own: a FETCH never waits for a connection behind writers queued on a row lock */
  private readonly readPool: pg.Pool;
  /** this store's name in notifications (several stores may share one process in tests) */
  readonly token = randomBytes(6).toString('base64url');
  private listener: pg.Client | null = null;
  private listening = false;
  private up = false;
  private turns = 0;
  /** the change channel is up and caught up: every change committed from now on will be announced, in commit order */
  get live(): boolean { return this.up; }
  /** counts losses and catch-ups of the change channel (a cache filled across one may have missed changes) */
  get epoch(): number { return this.turns; }
  private closed = false;
  private seq = 0;
  /** own committed transactions whose notification has not come back yet */
  private readonly own = new Map<number, Own>();

  private constructor(private readonly opts: PgDbOptions) {
    // DESIGN: a 250 only after the commit is durable, whatever the server's or the role's default
    // JIT off: the store's statements are short, and a plan whose estimate passes jit_above_cost (a
    // pass over a large mailbox) spent more compiling than running (~50-100 ms on a 100k mailbox)
    this.pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize ?? 10, types: TYPES, idleTimeoutMillis: 30_000, options: '-c synchronous_commit=on -c jit=off' });
    this.readPool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize ?? 10, types: TYPES, idleTimeoutMillis: 30_000, options: '-c jit=off' });
    // an idle connection that breaks (server restart) must not crash the process
    this.pool.on('error', () => {});
    this.readPool.on('error', () => {});
  }

  static async open(opts: PgDbOptions, migrationsDir: string): Promise<PgDb> {
    const db = new PgDb(opts);
    try {
      await db.migrate(migrationsDir);
      await db.listen();
    } catch (err) {
      await db.pool.end().catch(() => {});
      await db.readPool.end().catch(() => {});
      await db.listener?.end().catch(() => {});
      const e = err as Error;
      throw new InternalError('STORE_OPEN_FAILED', `cannot open the PostgreSQL store ${redact(opts.url)}: ${e.message}`, { cause: err });
    }
    return db;
  }

  // ------------------------------------------------------------------ schema
  /** Numbered migrations NNN-*.sql, each in its own transaction; nodes starting together take turns. */
  private async migrate(dir: string): Promise<void> {
    const files = readdirSync(dir).filter((f) => /^\d{3}-.*\.sql$/.test(f)).sort();
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      await c.query(`SELECT pg_advisory_xact_lock(hashtext('postoffice schema'))`);
      await c.query('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied BIGINT NOT NULL)');
      const cur = Number((await c.query('SELECT COALESCE(MAX(version), 0) AS v FROM schema_version')).rows[0].v);
      for (const f of files) {
        const n = Number(f.slice(0, 3));
        if (n <= cur) continue;
        await c.query(readFileSync(path.join(dir, f), 'utf8'));
        await c.query('INSERT INTO schema_version (version, applied) VALUES ($1, $2)', [n, Date.now()]);
      }
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      c.release();
    }
  }

  // ------------------------------------------------------------------ reads
  async read(sql: string, params: unknown[] = []): Promise<Row[]> {
    try {
      return (await this.readPool.query(stmt(sql, params))).rows as Row[];
    } catch (err) {
      throw new InternalError('STORE_READ_FAILED', `read failed: ${(err as Error).message}`, { cause: err });
    }
  }
  async readOne(sql: string, params: unknown[] = []): Promise<Row | undefined> {
    return (await this.read(sql, params))[0];
  }

  // ------------------------------------------------------------------ writes
  /**
   * Runs `fn` in one transaction and commits; tried again from the start on a deadlock or a
   * serialization failure (so `fn` must only touch the database). Resolves after COMMIT, once
   * the transaction's changes have been announced here (in commit order with every other node's).
   */
  async tx<T>(fn: (t: PgTx) => Promise<T>): Promise<T> {
    if (this.closed) throw new InternalError('STORE_CLOSED', 'store is closed');
    for (let attempt = 0; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (err) {
        throw new InternalError('STORE_WRITE_FAILED', `no database connection: ${(err as Error).message}`, { cause: err });
      }
      // a connection that breaks between two statements must fail this transaction, not the process
      client.on('error', ignore);
      const t = new PgTx(client);
      let value: T;
      let own: Own | null = null;
      try {
        await client.query('BEGIN');
        value = await fn(t);
        if (t.changes.length || t.queued) {
          const seq = await this.notify(t);
          // expected before COMMIT: the notification may come back before COMMIT's reply does
          if (t.changes.length) own = this.expect(seq, t.changes);
        }
        await client.query('COMMIT');
        client.off('error', ignore);
        client.release();
      } catch (err) {
        if (own) this.own.delete(own.seq);
        let broken = false;
        await client.query('ROLLBACK').catch(() => { broken = true; });
        client.off('error', ignore);
        client.release(broken ? (err as Error) : undefined);
        const code = (err as { code?: string }).code;
        if ((code === '40P01' || code === '40001') && attempt < RETRIES) {
          await new Promise((r) => setTimeout(r, 2 + Math.random() * 10 * (attempt + 1)));
          continue;
        }
        // a StoreError (bad name, exists, not found), our own InternalError, or a signal of the caller's (passThrough) goes to the caller as it is
        if (err instanceof InternalError || (err instanceof Error && ('reason' in err || 'passThrough' in err))) throw err;
        throw new InternalError('STORE_WRITE_FAILED', `commit failed: ${(err as Error).message}`, { cause: err });
      }
      if (own) await this.announced(own);
      return value;
    }
  }

  /** Inside the transaction: the changes as NOTIFY payloads (sent by PostgreSQL at COMMIT). */
  private async notify(t: PgTx): Promise<number> {
    const seq = ++this.seq;
    const wires = t.changes.map(toWire);
    const payloads: Payload[] = [];
    let cur: Payload = { n: this.token, t: seq, p: 0, last: false, c: [] };
    if (t.queued) cur.q = 1;
    let size = Buffer.byteLength(JSON.stringify(cur));
    for (const w0 of wires) {
      let w = w0;
      let len = Buffer.byteLength(JSON.stringify(w)) + 1;
      if (len > PAYLOAD_MAX - 200) { w = shortWire(w); len = Buffer.byteLength(JSON.stringify(w)) + 1; }
      if (len > PAYLOAD_MAX - 200) {
        // an exists of scattered UIDs (not seen: one transaction's new UIDs in a mailbox are consecutive,
        // taken under its row lock): every UID between the first and the last was taken by this transaction
        const r = (w as { r: [number, number][] }).r;
        w = { ...(w as { m: number; k: 'e'; r: [number, number][]; s: number }), r: [[r[0][0], r[r.length - 1][1]]] };
        len = Buffer.byteLength(JSON.stringify(w)) + 1;
      }
      if (size + len > PAYLOAD_MAX && cur.c.length) {
        payloads.push(cur);
        cur = { n: this.token, t: seq, p: payloads.length, last: false, c: [] };
        size = Buffer.byteLength(JSON.stringify(cur));
      }
      cur.c.push(w);
      size += len;
    }
    cur.last = true;
    payloads.push(cur);
    for (const p of payloads) await t.q('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify(p)]);
    return seq;
  }

  /** Before COMMIT: our own notification, when it comes back, announces these changes. */
  private expect(seq: number, changes: MailboxChange[]): Own {
    let done!: () => void;
    const announced = new Promise<void>((resolve) => { done = resolve; });
    const own: Own = { seq, changes, announced, emitted: false, done };
    this.own.set(seq, own);
    return own;
  }

  /** After COMMIT: wait until our own notification came back and the changes were announced. */
  private async announced(own: Own): Promise<void> {
    if (!this.listening) this.emitOwn(own);
    if (own.emitted) return;
    const timer = setTimeout(() => this.emitOwn(own), OWN_NOTIFY_WAIT_MS); // the channel is slow or broken: announce anyway
    await own.announced;
    clearTimeout(timer);
  }

  private emitOwn(own: Own): void {
    if (own.emitted) return;
    own.emitted = true;
    this.own.delete(own.seq);
    for (const c of own.changes) this.announce(c);
    own.done();
  }

  // ------------------------------------------------------------------ change channel
  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.opts.url, types: TYPES, application_name: 'postoffice-listen' });
    client.on('error', (err) => this.listenLost(client, err));
    client.on('end', () => this.listenLost(client, new Error('connection ended')));
    client.on('notification', (n) => { if (n.channel === CHANNEL && n.payload) void this.received(n.payload); });
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    const again = this.marks !== null;
    if (!again) {
      // where every mailbox stands now: what commits from here on is announced by notification
      this.marks = new Map();
      for (const r of (await client.query('SELECT id, uidnext, highestmodseq FROM mailboxes')).rows as Row[]) {
        this.marks.set(r.id as number, { uidNext: r.uidnext as number, modseq: r.highestmodseq as number });
      }
    }
    this.listener = client;
    this.listening = true;
    // the channel was down: what others committed meanwhile is read from the database, before any newer notification
    if (again) {
      this.chain = this.chain.then(() => this.catchUp()).then(() => {
        if (this.listener === client) { this.turns++; this.up = true; }
      }).catch(() => {});
    } else this.up = true;
  }

  /** What every mailbox had announced last: from here the catch-up after a lost channel reads what moved. */
  private marks: Map<number, Mark> | null = null;

  /** Every change goes out here (ours from our notification, others' from theirs): the marks follow it. */
  private announce(c: MailboxChange): void {
    const m = this.marks;
    if (m) {
      const was = m.get(c.mailboxId) ?? NEW_MAILBOX;
      if (c.kind === 'deleted') m.delete(c.mailboxId);
      else if (c.kind === 'exists') m.set(c.mailboxId, { uidNext: Math.max(was.uidNext, ...c.uids.map((u) => u + 1)), modseq: Math.max(was.modseq, c.modseq) });
      else m.set(c.mailboxId, { uidNext: was.uidNext, modseq: Math.max(was.modseq, c.modseq) });
    }
    this.opts.onChange(c);
  }

  /**
   * After the channel came back: compare every mailbox with its mark and announce what moved, read
   * by MODSEQ as the SQLite store reads other processes' commits (other-writers.ts). A change also
   * announced by a notification that arrives later is announced twice; IMAP sessions take that.
   */
  private async catchUp(): Promise<void> {
    const marks = this.marks;
    if (!marks) return;
    const rows = await this.read('SELECT id, uidnext, highestmodseq FROM mailboxes');
    const live = new Set<number>();
    for (const r of rows) {
      const id = r.id as number;
      live.add(id);
      const was = marks.get(id) ?? NEW_MAILBOX;
      if ((r.highestmodseq as number) <= was.modseq) continue;
      const msgs = await this.read('SELECT uid, flags, modseq FROM messages WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid', [id, was.modseq]);
      const fresh = msgs.filter((m) => (m.uid as number) >= was.uidNext);
      const flagged = msgs.filter((m) => (m.uid as number) < was.uidNext);
      const gone = await this.read('SELECT uid, modseq FROM expunged WHERE mailbox_id = $1 AND modseq > $2 AND uid < $3 ORDER BY uid', [id, was.modseq, was.uidNext]);
      const top = (xs: Row[]) => xs.reduce((n, x) => Math.max(n, x.modseq as number), 0);
      if (flagged.length) this.announce({ mailboxId: id, kind: 'flags', changes: flagged.map((m) => ({ uid: m.uid as number, flags: m.flags as string[], modseq: m.modseq as number })), modseq: top(flagged) });
      if (fresh.length) this.announce({ mailboxId: id, kind: 'exists', uids: fresh.map((m) => m.uid as number), modseq: top(fresh) });
      if (gone.length) this.announce({ mailboxId: id, kind: 'expunge', uids: gone.map((g) => g.uid as number), modseq: top(gone) });
      const now = marks.get(id) ?? NEW_MAILBOX;
      marks.set(id, { uidNext: Math.max(now.uidNext, r.uidnext as number), modseq: Math.max(now.modseq, r.highestmodseq as number) });
    }
    for (const id of [...marks.keys()]) if (!live.has(id)) this.announce({ mailboxId: id, kind: 'deleted' });
  }

  private listenLost(client: pg.Client, err: Error): void {
    if (this.listener !== client) return;
    this.listener = null;
    this.listening = false;
    this.up = false;
    this.turns++;
    // what was waiting for its notification is announced now
    for (const w of [...this.own.values()]) this.emitOwn(w);
    if (this.closed) return;
    this.opts.onListenError?.(err);
    const retry = (delay: number) => {
      const timer = setTimeout(() => {
        if (this.closed) return;
        this.listen().catch(() => retry(Math.min(delay * 2, 10_000)));
      }, delay);
      timer.unref();
    };
    retry(200);
  }

  /** Serialises the handling of notifications: those that read the database keep their order. */
  private chain: Promise<void> = Promise.resolve();

  private received(text: string): Promise<void> {
    this.chain = this.chain.then(() => this.handle(text)).catch(() => {});
    return this.chain;
  }

  private async handle(text: string): Promise<void> {
    let p: Payload;
    try {
      p = JSON.parse(text) as Payload;
    } catch {
      return;
    }
    if (p.n === this.token) {
      const w = p.last ? this.own.get(p.t) : undefined;
      if (w) this.emitOwn(w);
      return;
    }
    if (p.q && p.p === 0) this.opts.onQueued();
    for (const w of p.c ?? []) {
      const c = await this.fromWire(w);
      if (c) this.announce(c);
    }
  }

  private async fromWire(w: Wire): Promise<MailboxChange | null> {
    switch (w.k) {
      case 'e': return { mailboxId: w.m, kind: 'exists', uids: unranges(w.r), modseq: w.s };
      case 'f': return { mailboxId: w.m, kind: 'flags', changes: w.c.map(([uid, flags, modseq]): FlagChange => ({ uid, flags, modseq })), modseq: w.s };
      case 'x': return { mailboxId: w.m, kind: 'expunge', uids: unranges(w.r), modseq: w.s };
      case 'd': return { mailboxId: w.m, kind: 'deleted' };
      case 'F': {
        // messages changed again since carry a newer MODSEQ: their own notification follows
        const rows = await this.read('SELECT uid, flags, modseq FROM messages WHERE mailbox_id = $1 AND modseq = $2 ORDER BY uid', [w.m, w.s]).catch(() => []);
        if (!rows.length) return null;
        return { mailboxId: w.m, kind: 'flags', changes: rows.map((r) => ({ uid: r.uid as number, flags: r.flags as string[], modseq: r.modseq as number })), modseq: w.s };
      }
      case 'X': {
        const rows = await this.read('SELECT uid FROM expunged WHERE mailbox_id = $1 AND modseq = $2 ORDER BY uid', [w.m, w.s]).catch(() => []);
        if (!rows.length) return null;
        return { mailboxId: w.m, kind: 'expunge', uids: rows.map((r) => r.uid as number), modseq: w.s };
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of [...this.own.values()]) { w.emitted = true; this.own.delete(w.seq); w.done(); }
    const l = this.listener;
    this.listener = null;
    this.listening = false;
    await l?.end().catch(() => {});
    await this.pool.end().catch(() => {});
    await this.readPool.end().catch(() => {});
  }
}

function ignore(): void {}

/** the URL without its password, for messages */
export function redact(url: string): string {
  return url.replace(/(\/\/[^:/@]*):[^@/]*@/, '$1:***@');
}
