// The store the server uses: writes go to the writer thread (store/worker.ts), reads are served
// here on this thread's read connection (WAL: readers never block, never wait for the writer).
import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import { metrics } from '../log/metrics.js';
import { InternalError } from '../mail/errors.js';
import type { MimeLimits } from '../mail/mime.js';
import { packSteps } from './packed-steps.js';
import { SqliteStore, StoreError } from './sqlite-store.js';
import type { AccessStep, MailboxChange, Store, StoreEvents } from './types.js';
import type { WorkerCall, WorkerReply } from './worker.js';

/**
 * Every store call that writes. They run on the writer thread; every other call is a read.
 * A write missing here would still be correct (SQLite serialises the two connections), just
 * slower: keep the list complete.
 */
export const WRITE_METHODS = new Set([
  'deliver',
  'domains.add', 'domains.del',
  'users.add', 'users.del', 'users.setPassword', 'users.setAdmin',
  'aliases.add', 'aliases.del',
  'mailboxes.create', 'mailboxes.delete', 'mailboxes.rename', 'mailboxes.subscribe', 'mailboxes.claimRecent',
  'messages.append', 'messages.appendMany', 'messages.setFlags', 'messages.expunge', 'messages.copy', 'messages.move',
  'queue.del', 'queue.flush', 'queue.update', 'queue.reschedule', 'queue.finish',
  'journey.record', 'journey.accessed',
  'transcripts.write',
  'submissions.reset',
  'prune',
]);

const NAMESPACES = ['domains', 'users', 'aliases', 'mailboxes', 'messages', 'queue', 'journey', 'transcripts', 'submissions'] as const;

type Pending = { resolve: (v: unknown) => void; reject: (e: unknown) => void };

export class WorkerStore {
  readonly events: StoreEvents = new EventEmitter() as StoreEvents;
  private readonly worker: Worker;
  private readonly reader: SqliteStore;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** `origin` values (e.g. an IMAP session) stay on this thread; the writer sees a token. */
  private readonly origins = new Map<number, unknown>();
  private closed = false;

  private constructor(worker: Worker, reader: SqliteStore) {
    this.worker = worker;
    this.reader = reader;
    this.events.setMaxListeners(0);
    worker.on('message', (m: WorkerReply) => this.onMessage(m));
    worker.on('error', (err) => {
      for (const p of this.pending.values()) p.reject(new InternalError('STORE_WRITER_FAILED', `store writer failed: ${err.message}`));
      this.pending.clear();
    });
    // a fallback write on this thread's own connection still announces its changes
    reader.events.on('change', (c) => this.events.emit('change', c));
    for (const ns of NAMESPACES) {
      const local = (reader as unknown as Record<string, Record<string, (...a: unknown[]) => unknown>>)[ns];
      const api: Record<string, unknown> = {};
      for (const name of Object.keys(local)) {
        const path = `${ns}.${name}`;
        api[name] = WRITE_METHODS.has(path) ? (...args: unknown[]) => this.call(path, args) : local[name].bind(local);
      }
      if (ns === 'queue') {
        api.flush = async (id?: number) => { const n = (await this.call('queue.flush', id === undefined ? [] : [id])) as number; if (n) this.events.emit('queued'); return n; };
      }
      if (ns === 'journey') {
        api.accessed = (session: unknown, step: unknown, steps: AccessStep[]) => this.call('journey.accessed', [session, step, packSteps(steps)]);
      }
      (this as unknown as Record<string, unknown>)[ns] = api;
    }
  }

  static async open(dataDir: string, commitDelayMs = 0, mimeLimits?: Partial<MimeLimits>, bodyCacheBytes?: number): Promise<Store> {
    const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: { dataDir, commitDelayMs, mimeLimits } });
    await new Promise<void>((resolve, reject) => {
      const onMsg = (m: WorkerReply) => {
        if ('event' in m && m.event === 'ready') { worker.off('message', onMsg); resolve(); }
        if ('event' in m && m.event === 'failed') { worker.off('message', onMsg); reject(new InternalError(m.code ?? 'STORE_OPEN_FAILED', m.message)); }
      };
      worker.on('message', onMsg);
      worker.once('error', reject);
    });
    // the writer has applied the migrations; this thread only reads (and never migrates again)
    const reader = new SqliteStore({ dataDir, commitDelayMs, mimeLimits, bodyCacheBytes, announceOthers: false });
    return new WorkerStore(worker, reader) as unknown as Store;
  }

  private onMessage(m: WorkerReply): void {
    if ('event' in m) {
      if (m.event === 'change') {
        const c = m.change as MailboxChange & { origin?: unknown };
        if ('origin' in c && typeof c.origin === 'object' && c.origin && '__origin' in (c.origin as object)) {
          c.origin = this.origins.get((c.origin as { __origin: number }).__origin);
        }
        this.events.emit('change', c);
      } else if (m.event === 'commits') for (const s of m.seconds) metrics.storeCommit.observe(s);
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    this.origins.delete(m.id);
    if (m.ok) p.resolve(m.value);
    else if (m.error.kind === 'store') p.reject(new StoreError(m.error.reason as StoreError['reason'], m.error.message));
    else if (m.error.kind === 'internal') p.reject(new InternalError(m.error.code ?? 'STORE_WRITE_FAILED', m.error.message));
    else p.reject(new InternalError('STORE_WRITE_FAILED', m.error.message));
  }

  private call(path: string, args: unknown[]): Promise<unknown> {
    if (this.closed) return Promise.reject(new InternalError('STORE_CLOSED', 'store is closed'));
    const id = this.nextId++;
    // opts.origin is compared by identity on this thread: send a token instead of the object
    const sent = args.map((a) => {
      if (a && typeof a === 'object' && !Array.isArray(a) && !(a instanceof Uint8Array) && 'origin' in a) {
        const o = (a as { origin?: unknown }).origin;
        if (o !== undefined && (typeof o === 'object' || typeof o === 'function')) {
          this.origins.set(id, o);
          return { ...a, origin: { __origin: id } };
        }
      }
      return a;
    });
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, path, args: sent } satisfies WorkerCall);
    });
  }

  async deliver(d: Parameters<Store['deliver']>[0]): ReturnType<Store['deliver']> {
    const result = await (this.call('deliver', [d]) as ReturnType<Store['deliver']>);
    if (result.queued.length) this.events.emit('queued');
    return result;
  }

  /** retention runs on the writer, in chunks (SqliteStore.prune) */
  prune(opts: Parameters<Store['prune']>[0]): ReturnType<Store['prune']> {
    return this.call('prune', [opts]) as ReturnType<Store['prune']>;
  }

  /** a read: the snapshot is taken on this thread's read connection (writers go on) */
  backup(file: string): Promise<void> {
    return this.reader.backup(file);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve) => {
      const done = () => resolve();
      this.worker.once('exit', done);
      this.worker.on('message', (m: WorkerReply) => { if ('event' in m && m.event === 'closed') void this.worker.terminate(); });
      this.worker.postMessage({ close: true });
      setTimeout(() => void this.worker.terminate(), 5000).unref();
    });
    await this.reader.close();
  }
}
