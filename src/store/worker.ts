// The store's writer thread: owns the one writer connection (synchronous=FULL), parses MIME at
// delivery, and group-commits. While it waits for fsync, the main thread keeps talking SMTP,
// IMAP and POP3, and whatever arrives meanwhile joins the next commit. It runs the functions of
// the `writes` table (store/sqlite/api.ts) and nothing else.
import { parentPort, workerData } from 'node:worker_threads';
import { InternalError } from '../mail/errors.js';
import { StoreError } from './errors.js';
import { isPackedSteps, unpackSteps } from './packed-steps.js';
import { writeAt } from './sqlite/api.js';
import { backfillHeaderText } from './sqlite/backfill.js';
import { databaseFile } from './sqlite/open.js';
import { Writer } from './sqlite/writer.js';

export interface WorkerCall { id: number; path: string; args: unknown[] }
export type WorkerReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { kind: 'store' | 'internal' | 'other'; reason?: string; code?: string; message: string } }
  | { event: 'change'; change: unknown }
  | { event: 'ready' }
  | { event: 'failed'; message: string; code?: string }
  | { event: 'closed' }
  | { event: 'commits'; seconds: number[] };

const port = parentPort!;
const { dataDir, commitDelayMs, mimeLimits } = workerData as { dataDir: string; commitDelayMs: number; mimeLimits?: Record<string, number> };

/** Buffers cross threads as Uint8Arrays: make them Buffers again. */
function revive(v: unknown): unknown {
  if (isPackedSteps(v)) return unpackSteps(v);
  if (v instanceof Uint8Array && !Buffer.isBuffer(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (Array.isArray(v)) return v.map(revive);
  if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, revive(x)]));
  }
  return v;
}

let writer: Writer;
try {
  writer = new Writer({ file: databaseFile(dataDir), commitDelayMs, mimeLimits });
} catch (err) {
  const e = err as Error & { code?: string };
  port.postMessage({ event: 'failed', message: e.message, code: e.code } satisfies WorkerReply);
  process.exit(1);
}
// this thread's commits and other processes' (store/other-writers.ts) are announced on the main thread
writer.events.on('change', (change) => port.postMessage({ event: 'change', change } satisfies WorkerReply));
// migration 090's header text of the blobs stored before it, in small writes while the store serves
void backfillHeaderText(writer);
// commit times for /metrics: the registry lives on the main thread; they cross once a second
const commitTimes: number[] = [];
writer.onCommit = (s) => { if (commitTimes.length < 10_000) commitTimes.push(s); };
setInterval(() => { if (commitTimes.length) port.postMessage({ event: 'commits', seconds: commitTimes.splice(0) } satisfies WorkerReply); }, 1000).unref();

port.on('message', (msg: WorkerCall | { close: true }) => {
  if ('close' in msg) {
    if (process.env.POSTOFFICE_STORE_STATS) process.stderr.write(`store: ${writer.stats.jobs} writes in ${writer.stats.commits} commits\n`);
    writer.close();
    port.postMessage({ event: 'closed' } satisfies WorkerReply);
    port.close();
    return;
  }
  const { id, path, args } = msg;
  const fn = writeAt(path);
  if (!fn) {
    port.postMessage({ id, ok: false, error: { kind: 'other', message: `no store write ${path}` } } satisfies WorkerReply);
    return;
  }
  Promise.resolve()
    .then(() => fn(writer, ...args.map(revive)))
    .then(
      (value) => port.postMessage({ id, ok: true, value } satisfies WorkerReply),
      (err: unknown) => {
        const e = err as Error;
        const error = err instanceof StoreError ? { kind: 'store' as const, reason: err.reason, message: e.message }
          : err instanceof InternalError ? { kind: 'internal' as const, code: err.code, message: e.message }
          : { kind: 'other' as const, message: e?.stack ?? String(err) };
        port.postMessage({ id, ok: false, error } satisfies WorkerReply);
      },
    );
});

port.postMessage({ event: 'ready' } satisfies WorkerReply);
