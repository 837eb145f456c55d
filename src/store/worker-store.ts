// The store the server uses: every write goes to the writer thread (store/worker.ts), which owns
// the one writer connection; reads are served here, on this thread's read-only connection and
// caches (WAL: readers never block, never wait for the writer). The writes are the `writes`
// table's functions (store/sqlite/api.ts), forwarded by name: there is no list to keep, and no
// write connection on this thread to serve one by mistake.
import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import { metrics } from '../log/metrics.js';
import { InternalError } from '../mail/errors.js';
import type { MimeLimits } from '../mail/mime.js';
import { StoreError } from './errors.js';
import { MemoryLocks } from './memory-locks.js';
import { packSteps } from './packed-steps.js';
import { assemble, bind, forward, reads, writes } from './sqlite/api.js';
import { databaseFile } from './sqlite/open.js';
import { Reader } from './sqlite/reader.js';
import type { AccessSession, AccessStep, MailboxChange, Store, StoreEvents } from './types.js';
import type { WorkerCall, WorkerReply } from './worker.js';

type Pending = { resolve: (v: unknown) => void; reject: (e: unknown) => void };

export class WorkerStore implements Store {
  readonly events: StoreEvents = new EventEmitter() as StoreEvents;
  readonly domains: Store['domains'];
  readonly users: Store['users'];
  readonly aliases: Store['aliases'];
  readonly mailboxes: Store['mailboxes'];
  readonly messages: Store['messages'];
  readonly queue: Store['queue'];
  readonly journey: Store['journey'];
  readonly submissions: Store['submissions'];
  readonly transcripts: Store['transcripts'];
  readonly prune: Store['prune'];
  /** locks and login-failure counts of this process (one node per SQLite file): in memory, on this thread */
  readonly locks: Store['locks'];
  readonly penalties: Store['penalties'];
  private readonly worker: Worker;
  private readonly reader: Reader;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** `origin` values (e.g. an IMAP session) stay on this thread; the writer sees a token. */
  private readonly origins = new Map<number, unknown>();
  private closed = false;
  private readonly sendWrite: Store['deliver'];

  private constructor(worker: Worker, reader: Reader) {
    this.worker = worker;
    this.reader = reader;
    this.events.setMaxListeners(0);
    worker.on('message', (m: WorkerReply) => this.onMessage(m));
    worker.on('error', (err) => {
      for (const p of this.pending.values()) p.reject(new InternalError('STORE_WRITER_FAILED', `store writer failed: ${err.message}`));
      this.pending.clear();
    });
    const w = forward(writes, (path, args) => this.call(path, args));
    const api = assemble(bind(reads, reader), w);
    this.domains = api.domains;
    this.users = api.users;
    this.aliases = api.aliases;
    this.mailboxes = api.mailboxes;
    this.messages = api.messages;
    this.journey = {
      ...api.journey,
      // a FETCH of thousands of messages crosses the thread as one packed value (packed-steps.ts)
      accessed: (session: AccessSession, step: 'fetched' | 'retrieved', steps: AccessStep[]) =>
        this.call('journey.accessed', [session, step, packSteps(steps)]) as Promise<void>,
    };
    // 'queued' wakes this process's queue runner: the writer thread's own emitter has no listener
    this.queue = {
      ...api.queue,
      flush: async (id?: number) => {
        const n = await w.queue.flush(id);
        if (n) this.events.emit('queued');
        return n;
      },
    };
    this.sendWrite = w.deliver;
    this.submissions = api.submissions;
    this.transcripts = api.transcripts;
    this.prune = api.prune;
    const mem = new MemoryLocks();
    this.locks = mem.locks;
    this.penalties = mem.penalties;
  }

  static async open(dataDir: string, commitDelayMs = 0, mimeLimits?: Partial<MimeLimits>, bodyCacheBytes?: number): Promise<WorkerStore> {
    const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: { dataDir, commitDelayMs, mimeLimits } });
    await new Promise<void>((resolve, reject) => {
      const onMsg = (m: WorkerReply) => {
        if ('event' in m && m.event === 'ready') { worker.off('message', onMsg); resolve(); }
        if ('event' in m && m.event === 'failed') { worker.off('message', onMsg); reject(new InternalError(m.code ?? 'STORE_OPEN_FAILED', m.message)); }
      };
      worker.on('message', onMsg);
      worker.once('error', reject);
    });
    // the writer has applied the migrations; this thread only reads
    let reader: Reader;
    try {
      reader = new Reader(databaseFile(dataDir), bodyCacheBytes);
    } catch (err) {
      await worker.terminate();
      throw err;
    }
    return new WorkerStore(worker, reader);
  }

  /** MDA: the one transaction, on the writer thread; 'queued' wakes the relay here. */
  async deliver(d: Parameters<Store['deliver']>[0]): ReturnType<Store['deliver']> {
    const result = await this.sendWrite(d);
    if (result.queued.length) this.events.emit('queued');
    return result;
  }

  /** a read: the snapshot is taken on this thread's read connection (writers go on) */
  async backup(file: string): Promise<void> {
    this.reader.backup(file);
  }

  private onMessage(m: WorkerReply): void {
    if ('event' in m) {
      if (m.event === 'change') {
        const c = m.change as MailboxChange & { origin?: unknown };
        if ('origin' in c && typeof c.origin === 'object' && c.origin && '__origin' in (c.origin as object)) {
          c.origin = this.origins.get((c.origin as { __origin: number }).__origin);
        }
        this.reader.uids.apply(c); // the UID vectors first: a listener may SELECT right away
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
    this.reader.close();
  }
}
