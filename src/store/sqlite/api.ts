// The SQLite store's two tables of functions: `reads` take a Reader (the read-only connection and
// the caches), `writes` take the Writer (the one writer connection and its group commit). Both
// stores are assembled from them: SqliteStore binds both in one thread (the CLI, tests), and the
// server's WorkerStore binds `reads` on the main thread and sends every `writes` call to the
// writer thread, which runs it there (store/worker.ts). A write exists only in `writes`, so it
// cannot be served anywhere but by the Writer; `assemble` is typed against the Store interface,
// so the compiler checks that the two tables together are the whole of it.
import type { Store } from '../types.js';
import { domainReads, domainWrites, userReads, userWrites } from './accounts.js';
import { aliasReads, aliasWrites } from './aliases.js';
import { deliver } from './deliver.js';
import { journeyReads, journeyWrites } from './journey.js';
import { mailboxReads, mailboxWrites } from './mailboxes.js';
import { messageReads } from './message-reads.js';
import { messageWrites } from './message-writes.js';
import { prune } from './prune.js';
import { queueReads, queueWrites } from './queue.js';
import { submissionReads, submissionWrites } from './submissions.js';
import { transcriptReads, transcriptWrites } from './transcripts.js';

export const reads = {
  domains: domainReads, users: userReads, aliases: aliasReads, mailboxes: mailboxReads, messages: messageReads,
  queue: queueReads, journey: journeyReads, submissions: submissionReads, transcripts: transcriptReads,
};

export const writes = {
  deliver, prune,
  domains: domainWrites, users: userWrites, aliases: aliasWrites, mailboxes: mailboxWrites, messages: messageWrites,
  queue: queueWrites, journey: journeyWrites, submissions: submissionWrites, transcripts: transcriptWrites,
};

/** A table of functions over a context, with the context bound: `(ctx, ...a) => r` becomes `(...a) => r`. */
export type Bound<T> = { [K in keyof T]: T[K] extends (ctx: never, ...a: infer A) => infer R ? (...a: A) => R : Bound<T[K]> };

/** Binds every function of a table (and of its sub-tables) to `ctx`. */
export function bind<T extends object, C>(table: T, ctx: C): Bound<T> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(table)) {
    out[k] = typeof v === 'function' ? (...a: unknown[]) => (v as (c: C, ...a: unknown[]) => unknown)(ctx, ...a) : bind(v as object, ctx);
  }
  return out as Bound<T>;
}

/** A stand-in for every function of a table that calls `send('ns.name', args)` instead (the writer thread's dispatch path). */
export function forward<T extends object>(table: T, send: (path: string, args: unknown[]) => Promise<unknown>, prefix = ''): Bound<T> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(table)) {
    const path = prefix + k;
    out[k] = typeof v === 'function' ? (...a: unknown[]) => send(path, a) : forward(v as object, send, path + '.');
  }
  return out as Bound<T>;
}

/** The function of `writes` at a dispatch path ('deliver', 'queue.finish'), or null. */
export function writeAt(path: string): ((ctx: unknown, ...a: unknown[]) => Promise<unknown>) | null {
  let v: unknown = writes;
  for (const part of path.split('.')) {
    if (!v || typeof v !== 'object' || !Object.hasOwn(v, part)) return null;
    v = (v as Record<string, unknown>)[part];
  }
  return typeof v === 'function' ? (v as (ctx: unknown, ...a: unknown[]) => Promise<unknown>) : null;
}

/** What both stores serve from the two tables (events, close, backup, locks and penalties are each store's own). */
export type StoreApi = Omit<Store, 'events' | 'close' | 'backup' | 'locks' | 'penalties'>;

/** The Store's methods from bound reads and writes (compiler-checked against the interface). */
export function assemble(r: Bound<typeof reads>, w: Bound<typeof writes>): StoreApi {
  return {
    deliver: w.deliver, prune: w.prune,
    domains: { ...r.domains, ...w.domains },
    users: { ...r.users, ...w.users },
    aliases: { ...r.aliases, ...w.aliases },
    mailboxes: { ...r.mailboxes, ...w.mailboxes },
    messages: { ...r.messages, ...w.messages },
    queue: { ...r.queue, ...w.queue },
    journey: { ...r.journey, ...w.journey },
    submissions: { ...r.submissions, ...w.submissions },
    transcripts: { ...r.transcripts, ...w.transcripts },
  };
}
